package activities

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/kong/go-kong/kong"
)

// KongMode is how the reroute changes this Kong: through its entities (a node with a database) or by reloading its
// declarative configuration (DB-less). Deployments it cannot change have no mode: readiness stops there.
type KongMode string

// The Kong deployments the reroute can change.
const (
	// KongEntities: a traditional node with a database (or a hybrid control plane): PUT the targets.
	KongEntities KongMode = "entities"
	// KongDeclarative: a DB-less node: GET /config, change the upstream's targets, POST /config, fenced on the
	// configuration hash.
	KongDeclarative KongMode = "declarative"
)

// RoleKonnect is KongPreflightResult.Role for a Konnect control plane (addressed by its control-plane path).
const RoleKonnect = "konnect"

// IsKonnect reports an Admin API URL that addresses a Konnect control plane
// (https://<region>.api.konghq.com/v2/control-planes/<id>/core-entities).
func IsKonnect(adminURL string) bool {
	return strings.Contains(adminURL, "/control-planes/")
}

// KongIngressControllerTag is the tag the Kong Ingress Controller puts on every entity it manages.
const KongIngressControllerTag = "managed-by-ingress-controller"

// KongPreflightInput names what the reroute will change: the upstream and the two regions' targets.
type KongPreflightInput struct {
	Upstream string
	// Targets are the plan's targets of the source and target regions.
	Targets []string
	// Split is set when the plan has steps between 0 and 100%: then weights must mean percentages exactly.
	Split bool
	// MayReset is the target the plan lets the reroute mark healthy when Kong holds it UNHEALTHY ("" = none).
	MayReset string `json:",omitempty"`
	// Service, FromHost and ToHost are set for a service switch (plan kong.switch service) instead of targets.
	Service, FromHost, ToHost string `json:",omitempty"`
}

// KongPreflightResult is what readiness learned about Kong before anything changes.
type KongPreflightResult struct {
	// Mode is how the reroute changes Kong; "" when it cannot (Problems say why and what to do).
	Mode KongMode `json:"mode,omitempty"`
	// Database and Role are GET /'s configuration.database and configuration.role; Version its version.
	Database string `json:"database"`
	Role     string `json:"role"`
	Version  string `json:"version"`
	// ConfigHash is the DB-less configuration hash (GET /status) the first change is fenced on.
	ConfigHash string `json:"configHash,omitempty"`
	// Algorithm is the upstream's load-balancing algorithm.
	Algorithm string `json:"algorithm"`
	// Health is each target's health as Kong reports it (GET /upstreams/{u}/health), by target.
	Health map[string]string `json:"health,omitempty"`
	// ServiceHost is where the plan's Kong Service points now (service switch).
	ServiceHost string `json:"serviceHost,omitempty"`
	// ResetTarget is the UNHEALTHY target the reroute marks healthy before its first step (plan allows it).
	ResetTarget string `json:"resetTarget,omitempty"`
	// Problems each stop readiness: nothing may change while one holds.
	Problems []string `json:"problems,omitempty"`
	// Notes are true and worth reading, but do not stop the failover.
	Notes []string `json:"notes,omitempty"`
}

// ControlPlane reports a hybrid control plane: its changes reach the data planes later.
func (r KongPreflightResult) ControlPlane() bool { return r.Role == "control_plane" }

// Describe is one line for the status evidence and the dry run.
func (r KongPreflightResult) Describe() string {
	mode := string(r.Mode)
	if mode == "" {
		mode = "cannot be changed"
	}
	s := fmt.Sprintf("Kong %s (database %s, role %s): %s", r.Version, r.Database, r.Role, mode)
	if r.ConfigHash != "" {
		s += ", configuration hash " + r.ConfigHash
	}
	if r.Algorithm != "" {
		s += ", algorithm " + r.Algorithm
	}
	if r.ServiceHost != "" {
		s += ", the service points at " + r.ServiceHost
	}
	return s
}

// KongPreflight decides, before anything changes, whether and how this Kong can be rerouted: it reads GET / (role
// and database), the upstream (algorithm, tags), its targets and their health. Every reason the reroute would fail
// or not mean the plan's percentages is a Problem naming the fix; readiness stops on any.
func (a *Activities) KongPreflight(ctx context.Context, in KongPreflightInput) (KongPreflightResult, error) {
	var res KongPreflightResult
	if IsKonnect(a.Kong.BaseRootURL()) {
		// Konnect's control-plane API serves entities, not node information (no GET /, /status or health).
		res.Version, res.Database, res.Role = "(Konnect)", "konnect", RoleKonnect
		res.Notes = append(res.Notes, "Konnect control plane: its data planes apply changes asynchronously; confirm them with traffic.confirm")
	} else {
		root, err := a.Kong.Root(ctx)
		if err != nil {
			return res, kongError("read Kong's GET /", err)
		}
		res.Version, _ = root["version"].(string)
		conf, _ := root["configuration"].(map[string]any)
		res.Database, _ = conf["database"].(string)
		res.Role, _ = conf["role"].(string)
	}
	if in.Service != "" {
		return a.servicePreflight(ctx, res, in)
	}

	up, err := a.Kong.Upstreams.Get(ctx, &in.Upstream)
	if err != nil {
		if kong.IsNotFoundErr(err) {
			res.Problems = append(res.Problems, fmt.Sprintf("Kong has no upstream %s: create it or fix the plan's kong.upstream", in.Upstream))
			return res, nil
		}
		return res, kongError("read upstream "+in.Upstream, err)
	}
	targets, err := a.Kong.Targets.ListAll(ctx, &in.Upstream)
	if err != nil {
		return res, kongError("list targets of upstream "+in.Upstream, err)
	}
	res.Algorithm = kong.StringValue(up.Algorithm)

	res.Mode = a.kongMode(&res, up, targets)
	if res.Mode == KongDeclarative {
		st, err := a.Kong.Status(ctx)
		if err != nil {
			return res, kongError("read Kong's GET /status", err)
		}
		res.ConfigHash = st.ConfigurationHash
		if res.ConfigHash == "" {
			res.Problems = append(res.Problems, "Kong is DB-less but GET /status reports no configuration_hash: the change could not be fenced; upgrade Kong to 3.x")
		}
	}
	if res.ControlPlane() {
		dps, err := a.dataPlaneHashes(ctx)
		if err != nil {
			return res, err
		}
		res.Notes = append(res.Notes, fmt.Sprintf("%d data planes connected; each step waits until all of them run the change", len(dps)))
	}
	checkWeights(&res, in, up, targets)
	if !res.ControlPlane() && res.Role != RoleKonnect { // a control plane serves no health (it balances nothing)
		health, err := a.Kong.UpstreamNodeHealth.ListAll(ctx, &in.Upstream)
		if err != nil {
			return res, kongError("read health of upstream "+in.Upstream, err)
		}
		checkHealth(&res, in, health)
	}
	return res, nil
}

// kongMode decides how this node can be changed, adding a Problem when it cannot.
func (a *Activities) kongMode(res *KongPreflightResult, up *kong.Upstream, targets []*kong.Target) KongMode {
	if tag, owner := ingressControllerTag(up, targets); owner {
		res.Problems = append(res.Problems, fmt.Sprintf("Kong is managed by the Kong Ingress Controller (upstream %s carries tag %s): "+
			"its next sync would undo any change made here; change the HTTPRoute backendRefs weights (or the Ingress/Service) in Kubernetes instead",
			kong.StringValue(up.Name), tag))
		return ""
	}
	switch {
	case res.Role == "data_plane":
		res.Problems = append(res.Problems, "Kong at the Admin API is a hybrid-mode data plane (role data_plane): it takes no configuration "+
			"from its Admin API; point --kong-admin-url at the control plane's Admin API")
		return ""
	case res.Role == "control_plane":
		res.Notes = append(res.Notes, "hybrid control plane: changes reach the data planes asynchronously (see GET /clustering/data-planes)")
		return KongEntities
	case res.Database == "off":
		res.Notes = append(res.Notes, "DB-less: changed through GET/POST /config, fenced on the configuration hash; "+
			"if a tool (decK, CI) owns this configuration, its next sync undoes the failover: update its source")
		return KongDeclarative
	}
	return KongEntities
}

// ingressControllerTag finds the Kong Ingress Controller's ownership tag (or its k8s-* tags) on the upstream or
// its targets.
func ingressControllerTag(up *kong.Upstream, targets []*kong.Target) (string, bool) {
	tags := slices.Clone(up.Tags)
	for _, t := range targets {
		tags = append(tags, t.Tags...)
	}
	for _, t := range tags {
		if v := kong.StringValue(t); v == KongIngressControllerTag || strings.HasPrefix(v, "k8s-") {
			return v, true
		}
	}
	return "", false
}

// checkWeights refuses setups where the targets' weights cannot mean the plan's percentages.
func checkWeights(res *KongPreflightResult, in KongPreflightInput, up *kong.Upstream, targets []*kong.Target) {
	if in.Split {
		switch res.Algorithm {
		case "latency", "least-connections":
			res.Problems = append(res.Problems, fmt.Sprintf("upstream %s balances by %s, which divides by weight instead of splitting by it: "+
				"the plan's intermediate steps would not get their percentages; use algorithm round-robin, or plan steps of [100]",
				in.Upstream, res.Algorithm))
		}
	}
	for _, t := range targets {
		name := kong.StringValue(t.Target)
		if slices.Contains(in.Targets, name) || weightOf(t) == 0 {
			continue
		}
		res.Problems = append(res.Problems, fmt.Sprintf("upstream %s has target %s (weight %d) that the plan does not move: it keeps "+
			"receiving traffic through the failover; set its weight to 0 or add its region to the plan", in.Upstream, name, weightOf(t)))
	}
	if hc := up.Healthchecks; hc != nil && hc.Threshold != nil && *hc.Threshold > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("upstream %s has healthchecks.threshold %.0f%%: below that share of healthy weight Kong answers 503 for the whole upstream",
			in.Upstream, *hc.Threshold))
	}
}

// checkHealth refuses targets Kong will not send traffic to whatever their weight, and hostname targets whose
// address count makes a weight mean more than the plan says.
func checkHealth(res *KongPreflightResult, in KongPreflightInput, health []*kong.UpstreamNodeHealth) {
	res.Health = map[string]string{}
	for _, h := range health {
		name := kong.StringValue(h.Target)
		if !slices.Contains(in.Targets, name) {
			continue
		}
		state := kong.StringValue(h.Health)
		res.Health[name] = state
		switch state {
		case "UNHEALTHY":
			if name == in.MayReset {
				res.ResetTarget = name
				res.Notes = append(res.Notes, fmt.Sprintf("Kong marks target %s UNHEALTHY: the reroute marks it healthy first "+
					"(kong.resetUnhealthyTarget)", name))
				break
			}
			res.Problems = append(res.Problems, fmt.Sprintf("Kong marks target %s UNHEALTHY (health checks): a weight change does not send it "+
				"traffic; fix it, then reset it with PUT /upstreams/%s/targets/%s/healthy (or let the plan do it: kong.resetUnhealthyTarget)",
				name, in.Upstream, name))
		case "DNS_ERROR":
			res.Problems = append(res.Problems, fmt.Sprintf("Kong cannot resolve target %s (DNS_ERROR): fix its DNS name or use IP:port", name))
		}
		if host, _, err := net.SplitHostPort(name); err == nil && net.ParseIP(host) == nil && in.Split {
			if n := addressCount(h); n > 1 {
				res.Problems = append(res.Problems, fmt.Sprintf("target %s resolves to %d addresses and Kong gives each the target's weight: "+
					"its share would be %d times the plan's percentage; use one IP:port target per region", name, n, n))
			}
		}
	}
}

// addressCount is how many addresses Kong resolved a target to (data.addresses of GET /upstreams/{u}/health).
func addressCount(h *kong.UpstreamNodeHealth) int {
	if h.Data == nil {
		return 0
	}
	return len(h.Data.Addresses)
}

// MarkHealthyInput names a target to reset.
type MarkHealthyInput struct {
	Upstream, Target string
}

// MarkTargetHealthy clears Kong's UNHEALTHY verdict on a target (PUT /upstreams/{u}/targets/{t}/healthy), so its
// weight counts again; passive health checks never do that by themselves. Repeating it is harmless. Kong keeps
// the verdict per node: on a cluster behind a load balancer this reaches the node that answers.
func (a *Activities) MarkTargetHealthy(ctx context.Context, in MarkHealthyInput) error {
	path := fmt.Sprintf("/upstreams/%s/targets/%s/healthy", url.PathEscape(in.Upstream), url.PathEscape(in.Target))
	req, err := a.Kong.NewRequest("PUT", path, nil, nil)
	if err != nil {
		return fmt.Errorf("build PUT %s: %w", path, err)
	}
	if _, err := a.Kong.Do(ctx, req, nil); err != nil {
		return kongError("mark target "+in.Target+" healthy", err)
	}
	a.logger().Info("kong target marked healthy", "upstream", in.Upstream, "target", in.Target)
	return nil
}
