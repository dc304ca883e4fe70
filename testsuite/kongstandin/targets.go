package kongstandin

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Targets do not follow Kong's generic endpoints (kong/api/routes/upstreams.lua, kong/db/dao/targets.lua):
// lists are newest first with a numeric offset, {target} is an id or the exact "host:port", PUT and PATCH update in
// place (404 when absent, never an upsert) and DELETE of a missing target is a 404.

// targetTime is Kong's auto_timestamp_ms: seconds with millisecond precision.
func targetTime(now time.Time) float64 { return float64(now.UnixMilli()) / 1000 }

// newestFirst is the order of Kong's page_for_upstream.
func newestFirst(c *config, upstreamID string) []*target {
	ts := c.upstreamTargets(upstreamID)
	slices.Reverse(ts)
	return ts
}

// findTarget resolves {target} the way Kong's target_endpoint does.
func findTarget(c *config, u *upstream, key string) *target {
	if isUUID(key) {
		t := c.targets[strings.ToLower(key)]
		if t == nil || t.Upstream.ID != u.ID {
			return nil
		}
		return t
	}
	for _, t := range newestFirst(c, u.ID) {
		if *t.Target == key {
			return t
		}
	}
	return nil
}

// pageTargets slices a newest-first target list with Kong's numeric offset.
func pageTargets(all []*target, q url.Values, nextPath string, item func(*target) any) response {
	lq, err := parseListQuery(q)
	if err != nil {
		return fail(err)
	}
	start := 0
	if lq.offset != "" {
		n, convErr := strconv.Atoi(lq.offset)
		if convErr != nil || n < 0 {
			return fail(daoError(http.StatusBadRequest, codeInvalidOffset, "invalid offset",
				fmt.Sprintf("'%s' is not a valid offset: bad offset", lq.offset), nil))
		}
		start = min(n, len(all))
	}
	end := min(start+lq.size, len(all))
	data := []any{}
	for _, t := range all[start:end] {
		data = append(data, item(t))
	}
	body := map[string]any{"data": data, "next": nil}
	if end < len(all) {
		off := strconv.Itoa(end)
		body["offset"] = off
		body["next"] = nextPath + "?offset=" + url.QueryEscape(off)
	}
	return ok(body)
}

func createTarget(c *config, u *upstream, body map[string]any, now time.Time) (response, bool) {
	// Kong formats the target (adding port 8000) before the schema sees it.
	if raw, isStr := body["target"].(string); isStr {
		f, good := formatTarget(raw)
		if !good {
			return failed(violations{"target": "Invalid target; not a valid hostname or ip address"}.err())
		}
		body["target"] = f
	}
	body["upstream"] = map[string]any{"id": u.ID}
	m := map[string]any{"weight": 100}
	mergeRecords(m, body, "")
	t := new(target)
	if err := decodeEntity(m, t); err != nil {
		return failed(err)
	}
	if err := validateTarget(t).err(); err != nil {
		return failed(err)
	}
	switch {
	case t.ID == "":
		t.ID = newUUID()
	case !isUUID(t.ID):
		return failed(violations{"id": "expected a valid UUID"}.err())
	default:
		t.ID = strings.ToLower(t.ID)
		if _, taken := c.targets[t.ID]; taken {
			return failed(daoError(http.StatusBadRequest, codePrimaryKey, "primary key violation",
				fmt.Sprintf("primary key violation on key '{id=%q}'", t.ID), map[string]any{"id": t.ID}))
		}
	}
	t.Upstream = ref{ID: u.ID}
	// Kong orders targets by created_at (ms), then id; targets created within one millisecond would come out in
	// random id order, so the stand-in keeps an upstream's creation times strictly increasing.
	t.CreatedAt = targetTime(now)
	for _, other := range c.upstreamTargets(u.ID) {
		if other.CreatedAt >= t.CreatedAt {
			t.CreatedAt = math.Round((other.CreatedAt+0.001)*1000) / 1000
		}
	}
	t.UpdatedAt = t.CreatedAt
	if err := uniqueTarget(c, t); err != nil {
		return failed(err)
	}
	c.targets[t.ID] = t
	return created(t), true
}

// uniqueTarget enforces the targets' unique cache key (upstream, target) with Kong's 409 body.
func uniqueTarget(c *config, t *target) *apiError {
	for _, other := range c.upstreamTargets(t.Upstream.ID) {
		if other.ID != t.ID && *other.Target == *t.Target {
			return uniqueViolation(map[string]any{"target": *t.Target, "upstream": map[string]any{"id": t.Upstream.ID}})
		}
	}
	return nil
}

// updateTarget is PUT and PATCH on a target: both merge the body into the stored target (Kong routes both through
// update_entity), neither creates one.
func updateTarget(c *config, u *upstream, key string, body map[string]any, now time.Time) (response, bool) {
	old := findTarget(c, u, key)
	if old == nil {
		return failed(notFound())
	}
	delete(body, "id")
	delete(body, "upstream")
	if raw, isStr := body["target"].(string); isStr {
		f, good := formatTarget(raw)
		if !good {
			return failed(violations{"target": fmt.Sprintf("Invalid target ('%s'); not a valid hostname or ip address", raw)}.err())
		}
		body["target"] = f
	}
	m := toMap(old)
	mergeRecords(m, body, "")
	t := new(target)
	if err := decodeEntity(m, t); err != nil {
		return failed(err)
	}
	if err := validateTarget(t).err(); err != nil {
		return failed(err)
	}
	t.ID, t.Upstream, t.CreatedAt = old.ID, old.Upstream, old.CreatedAt
	t.UpdatedAt = targetTime(now)
	if err := uniqueTarget(c, t); err != nil {
		return failed(err)
	}
	c.targets[t.ID] = t
	return ok(t), true
}

func deleteTarget(c *config, u *upstream, key string) (response, bool) {
	t := findTarget(c, u, key)
	if t == nil {
		return failed(notFound())
	}
	delete(c.targets, t.ID)
	return noContent(), true
}

// dnsTimeout bounds the lookup of a hostname target for /health (Kong's balancer resolves targets the same way).
const dnsTimeout = 250 * time.Millisecond

// targetHealth reports a target the way Kong's page_for_upstream_with_health does. Health checks are not run by the
// stand-in: with checks configured every address of a weighted target counts as HEALTHY; without them (Kong's
// default) or at weight 0 they are HEALTHCHECKS_OFF; a hostname that does not resolve is DNS_ERROR.
func targetHealth(ctx context.Context, u *upstream, t *target, marked bool) map[string]any {
	item := toMap(t)
	hp, _ := parseHostPort(*t.Target)
	weight := *t.Weight
	var ips []string
	dns := "A"
	switch hp.kind {
	case "ipv4":
		ips = []string{hp.host}
	case "ipv6":
		ips, dns = []string{hp.host}, "AAAA"
	default:
		lctx, cancel := context.WithTimeout(ctx, dnsTimeout)
		addrs, err := net.DefaultResolver.LookupIPAddr(lctx, hp.host)
		cancel()
		if err != nil {
			dns = "dns server error: 3 name error"
		}
		for _, a := range addrs {
			ips = append(ips, a.IP.String())
		}
	}
	addrHealth := "HEALTHCHECKS_OFF"
	switch {
	case marked:
		addrHealth = "UNHEALTHY" // set through …/unhealthy (or a failing check): no traffic until …/healthy
	case u.usesHealthchecks() && weight > 0:
		addrHealth = "HEALTHY"
	}
	addresses := []any{}
	for _, ip := range ips {
		addresses = append(addresses, map[string]any{"ip": ip, "port": hp.port, "weight": weight, "health": addrHealth})
	}
	total := weight * len(ips)
	available := total
	if marked {
		available = 0
	}
	name := hp.host
	if hp.kind == "ipv6" {
		name = "[" + name + "]"
	}
	item["data"] = map[string]any{
		"host": name, "port": hp.port, "dns": dns, "nodeWeight": weight, "addresses": addresses,
		"weight": map[string]any{"total": total, "available": available, "unavailable": total - available},
	}
	switch {
	case len(ips) == 0:
		item["health"] = "DNS_ERROR"
	default:
		item["health"] = addrHealth
	}
	return item
}
