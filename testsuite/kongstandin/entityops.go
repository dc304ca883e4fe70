package kongstandin

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// response is what an Admin API handler answers: a status and a JSON body (nil = no body, for 204).
type response struct {
	status int
	body   any
}

func ok(body any) response                { return response{status: http.StatusOK, body: body} }
func created(body any) response           { return response{status: http.StatusCreated, body: body} }
func noContent() response                 { return response{status: http.StatusNoContent} }
func fail(e *apiError) response           { return response{status: e.status, body: e.body} }
func failed(e *apiError) (response, bool) { return fail(e), false }

// entity is what the generic Admin API operations need from services, routes and upstreams.
type entity interface {
	id() string
	name() *string
	created() int64
	tags() []string
	stamp(created, updated int64)
	setKey(id string)
}

// kind describes one Kong entity collection whose endpoints follow Kong's generic pattern (kong/api/endpoints.lua):
// POST inserts, PUT upserts by id or endpoint key (name), PATCH updates, DELETE answers 204 even when absent.
type kind[E entity] struct {
	plural   string
	table    func(*config) map[string]E
	defaults func() map[string]any
	fresh    func() E
	// prepare rewrites a request body before decoding (shorthand fields such as a service's url).
	prepare func(m map[string]any) *apiError
	// check validates a decoded entity and resolves its references against the config being written.
	check func(c *config, e E) *apiError
}

// find looks an entity up the way Kong does: a UUID is only ever an id, anything else is the name.
func (k *kind[E]) find(c *config, key string) (E, bool) {
	if isUUID(key) {
		e, ok := k.table(c)[strings.ToLower(key)]
		return e, ok
	}
	for _, e := range k.table(c) {
		if n := e.name(); n != nil && *n == key {
			return e, true
		}
	}
	var zero E
	return zero, false
}

func (k *kind[E]) build(base, body map[string]any) (E, *apiError) {
	mergeRecords(base, body, "")
	if k.prepare != nil {
		if err := k.prepare(base); err != nil {
			var zero E
			return zero, err
		}
	}
	e := k.fresh()
	if err := decodeEntity(base, e); err != nil {
		var zero E
		return zero, err
	}
	return e, nil
}

func (k *kind[E]) checkAll(c *config, e E) *apiError {
	if err := k.check(c, e); err != nil {
		return err
	}
	if n := e.name(); n != nil {
		for _, other := range k.table(c) {
			if other.id() != e.id() && other.name() != nil && *other.name() == *n {
				return uniqueViolation(map[string]any{"name": *n})
			}
		}
	}
	return nil
}

// insert is POST /<collection>: 201 with the stored entity.
func (k *kind[E]) insert(c *config, body map[string]any, now int64) (response, bool) {
	e, err := k.build(k.defaults(), body)
	if err != nil {
		return failed(err)
	}
	id := e.id()
	switch {
	case id == "":
		id = newUUID()
	case !isUUID(id):
		return failed(violations{"id": "expected a valid UUID"}.err())
	default:
		id = strings.ToLower(id)
		if _, taken := k.table(c)[id]; taken {
			return failed(daoError(http.StatusBadRequest, codePrimaryKey, "primary key violation",
				fmt.Sprintf("primary key violation on key '{id=%q}'", id), map[string]any{"id": id}))
		}
	}
	e.setKey(id)
	e.stamp(now, now)
	if err := k.checkAll(c, e); err != nil {
		return failed(err)
	}
	k.table(c)[id] = e
	return created(e), true
}

// upsert is PUT /<collection>/{id or name}: the body replaces the whole entity (unset fields take defaults); the
// entity is created when absent. Kong answers 200 either way.
func (k *kind[E]) upsert(c *config, key string, body map[string]any, now int64) (response, bool) {
	old, exists := k.find(c, key)
	if isUUID(key) {
		body["id"] = strings.ToLower(key)
	} else {
		body["name"] = key
	}
	e, err := k.build(k.defaults(), body)
	if err != nil {
		return failed(err)
	}
	createdAt := now
	switch {
	case exists:
		e.setKey(old.id())
		createdAt = old.created()
	case e.id() == "":
		e.setKey(newUUID())
	case !isUUID(e.id()):
		return failed(violations{"id": "expected a valid UUID"}.err())
	default:
		e.setKey(strings.ToLower(e.id()))
		if _, taken := k.table(c)[e.id()]; taken {
			return failed(daoError(http.StatusBadRequest, codePrimaryKey, "primary key violation",
				fmt.Sprintf("primary key violation on key '{id=%q}'", e.id()), map[string]any{"id": e.id()}))
		}
	}
	e.stamp(createdAt, now)
	if err := k.checkAll(c, e); err != nil {
		return failed(err)
	}
	k.table(c)[e.id()] = e
	return ok(e), true
}

// update is PATCH /<collection>/{id or name}: the body is merged into the stored entity; 404 when absent.
func (k *kind[E]) update(c *config, key string, body map[string]any, now int64) (response, bool) {
	old, exists := k.find(c, key)
	if !exists {
		return failed(entityNotFound(key))
	}
	delete(body, "id")
	e, err := k.build(toMap(old), body)
	if err != nil {
		return failed(err)
	}
	e.setKey(old.id())
	e.stamp(old.created(), now)
	if err := k.checkAll(c, e); err != nil {
		return failed(err)
	}
	k.table(c)[e.id()] = e
	return ok(e), true
}

// entityNotFound is the DAO's not-found error an update of a missing entity answers with (404).
func entityNotFound(key string) *apiError {
	if isUUID(key) {
		return daoError(http.StatusNotFound, codeNotFound, "not found",
			fmt.Sprintf("could not find the entity with primary key '{id=%q}'", key), map[string]any{"id": key})
	}
	return daoError(http.StatusNotFound, codeNotFound, "not found",
		fmt.Sprintf("could not find the entity with '{name=%q}'", key), map[string]any{"name": key})
}

// listQuery is a parsed list request: page size, offset and tag filter.
type listQuery struct {
	size      int
	sizeGiven string
	offset    string
	tags      []string
	tagsAll   bool
	rawTags   string
}

const (
	defaultPageSize = 100
	maxPageSize     = 1000
)

func parseListQuery(q url.Values) (listQuery, *apiError) {
	lq := listQuery{size: defaultPageSize, offset: q.Get("offset")}
	if s := q.Get("size"); s != "" {
		n, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return lq, daoError(http.StatusBadRequest, codeInvalidSize, "invalid size", "size must be a number", nil)
		}
		if n != float64(int(n)) || n < 1 || n > maxPageSize {
			return lq, daoError(http.StatusBadRequest, codeInvalidSize, "invalid size",
				fmt.Sprintf("size must be an integer between 1 and %d", maxPageSize), nil)
		}
		lq.size, lq.sizeGiven = int(n), s
	}
	if t := q.Get("tags"); t != "" {
		lq.rawTags = t
		if strings.Contains(t, "/") {
			lq.tags = strings.Split(t, "/")
		} else {
			lq.tags, lq.tagsAll = strings.Split(t, ","), true
		}
	}
	return lq, nil
}

func (lq listQuery) matchesTags(tags []string) bool {
	if len(lq.tags) == 0 {
		return true
	}
	for _, t := range lq.tags {
		has := slices.Contains(tags, t)
		if lq.tagsAll && !has {
			return false
		}
		if !lq.tagsAll && has {
			return true
		}
	}
	return lq.tagsAll
}

// pageByID paginates like Kong's Postgres strategy: rows ordered by primary key, the offset an opaque token that
// encodes the last id of the previous page, so pages stay stable while rows are added.
func pageByID[E entity](items []E, lq listQuery, nextBase string, topLevel bool) response {
	slices.SortFunc(items, func(a, b E) int { return strings.Compare(a.id(), b.id()) })
	start := 0
	if lq.offset != "" {
		var last []string
		reason := ""
		raw, err := base64.StdEncoding.DecodeString(lq.offset)
		switch {
		case err != nil:
			reason = "bad base64 encoding"
		case json.Unmarshal(raw, &last) != nil || len(last) != 1:
			reason = "bad json encoding"
		}
		if reason != "" {
			return fail(daoError(http.StatusBadRequest, codeInvalidOffset, "invalid offset",
				fmt.Sprintf("'%s' is not a valid offset: %s", lq.offset, reason), nil))
		}
		start, _ = slices.BinarySearchFunc(items, last[0], func(e E, id string) int { return strings.Compare(e.id(), id) })
		if start < len(items) && items[start].id() == last[0] {
			start++
		}
	}
	data := []any{}
	end := min(start+lq.size, len(items))
	for _, e := range items[start:end] {
		data = append(data, e)
	}
	body := map[string]any{"data": data, "next": nil}
	if end < len(items) {
		tok, _ := json.Marshal([]string{items[end-1].id()})
		off := base64.StdEncoding.EncodeToString(tok)
		next := nextBase + "?offset=" + url.QueryEscape(off)
		if topLevel {
			if lq.rawTags != "" {
				next += "&tags=" + url.QueryEscape(lq.rawTags)
			}
			if lq.sizeGiven != "" {
				next += "&size=" + lq.sizeGiven
			}
		}
		body["offset"] = off
		body["next"] = next
	}
	return ok(body)
}

// list answers GET on a collection, optionally narrowed by keep (e.g. the routes of one service).
func (k *kind[E]) list(c *config, q url.Values, keep func(E) bool, nextBase string, topLevel bool) response {
	lq, err := parseListQuery(q)
	if err != nil {
		return fail(err)
	}
	var items []E
	for _, e := range k.table(c) {
		if (keep == nil || keep(e)) && lq.matchesTags(e.tags()) {
			items = append(items, e)
		}
	}
	return pageByID(items, lq, nextBase, topLevel)
}

var services = &kind[*service]{
	plural:   "services",
	table:    func(c *config) map[string]*service { return c.services },
	defaults: serviceDefaults,
	fresh:    func() *service { return new(service) },
	prepare:  applyServiceURL,
	check:    func(_ *config, s *service) *apiError { return validateService(s).err() },
}

var routes = &kind[*route]{
	plural:   "routes",
	table:    func(c *config) map[string]*route { return c.routes },
	defaults: routeDefaults,
	fresh:    func() *route { return new(route) },
	check:    checkRoute,
}

var upstreams = &kind[*upstream]{
	plural:   "upstreams",
	table:    func(c *config) map[string]*upstream { return c.upstreams },
	defaults: upstreamDefaults,
	fresh:    func() *upstream { return new(upstream) },
	check:    func(_ *config, u *upstream) *apiError { return validateUpstream(u).err() },
}

// checkRoute validates a route and resolves its service reference ({"id"} or, like Kong, {"name"}).
func checkRoute(c *config, r *route) *apiError {
	if err := validateRoute(r).err(); err != nil {
		return err
	}
	if r.Service == nil {
		return nil
	}
	switch {
	case r.Service.ID != "":
		if !isUUID(r.Service.ID) {
			return violations{"service": map[string]any{"id": "expected a valid UUID"}}.err()
		}
		if _, ok := c.services[strings.ToLower(r.Service.ID)]; !ok {
			return foreignKeyMissing("service", map[string]any{"id": r.Service.ID}, "services")
		}
		r.Service = &ref{ID: strings.ToLower(r.Service.ID)}
	case r.Service.Name != "":
		s, ok := services.find(c, r.Service.Name)
		if !ok {
			return daoError(http.StatusBadRequest, 13, "foreign keys unresolved",
				fmt.Sprintf("foreign keys unresolved (service.name: the foreign key cannot be resolved with '{name=%q}' for an existing 'services' entity)", r.Service.Name),
				map[string]any{"service": map[string]any{"name": fmt.Sprintf("the foreign key cannot be resolved with '{name=%q}' for an existing 'services' entity", r.Service.Name)}})
		}
		r.Service = &ref{ID: s.ID}
	default:
		return violations{"service": map[string]any{"id": "required field missing"}}.err()
	}
	return nil
}
