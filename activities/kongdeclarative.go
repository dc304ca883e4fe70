package activities

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"go.temporal.io/sdk/temporal"
	"gopkg.in/yaml.v3"
)

// ErrKongConfigChanged: a DB-less Kong's configuration changed since readiness read its hash, so reloading our
// copy would overwrite someone else's change. Not retryable.
const ErrKongConfigChanged = "KongConfigChanged"

// setWeightsDeclarative changes a DB-less Kong: it reads the declarative configuration (GET /config), sets the
// weights of the upstream's targets in it, and loads it back (POST /config?check_hash=1), all else untouched. The
// load is fenced on the configuration hash the caller last saw: a different hash means someone else changed Kong,
// and the change is refused rather than overwritten. A retry after a load whose answer was lost finds the weights
// already set and writes nothing.
func (a *Activities) setWeightsDeclarative(ctx context.Context, in SetWeightsInput) (SetWeightsResult, error) {
	before, err := a.Kong.Status(ctx)
	if err != nil {
		return SetWeightsResult{}, kongError("read Kong's configuration hash", err)
	}
	text, err := a.Kong.Config(ctx)
	if err != nil {
		return SetWeightsResult{}, kongError("read Kong's declarative configuration (GET /config)", err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(text, &doc); err != nil {
		return SetWeightsResult{}, fmt.Errorf("parse Kong's declarative configuration: %w", err)
	}
	targets, found := declarativeTargets(doc, in.Upstream)
	if !found {
		return SetWeightsResult{}, temporal.NewNonRetryableApplicationError(
			fmt.Sprintf("Kong's declarative configuration has no upstream %s: fix the plan's kong.upstream", in.Upstream), ErrTargetMissing, nil)
	}
	res := SetWeightsResult{ConfigHash: before.ConfigurationHash}
	was := map[string]int{}
	for _, want := range in.Weights {
		t, ok := targets[want.Target]
		if !ok {
			return SetWeightsResult{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("upstream %s has no target %s: add it to Kong's configuration or fix the plan's kongTarget", in.Upstream, want.Target),
				ErrTargetMissing, nil)
		}
		if w := declarativeWeight(t); w != want.Weight {
			was[want.Target] = w
			t["weight"] = want.Weight
			res.Changed = append(res.Changed, want)
		}
	}
	if len(res.Changed) == 0 {
		return res, nil // already as wanted: nothing to load
	}
	if before.ConfigurationHash != in.ConfigHash {
		return SetWeightsResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
			"Kong's configuration changed since it was read (hash %s, now %s): someone else changed Kong; not overwriting their change",
			in.ConfigHash, before.ConfigurationHash), ErrKongConfigChanged, nil)
	}
	body, err := json.Marshal(doc)
	if err != nil {
		return SetWeightsResult{}, fmt.Errorf("encode Kong's declarative configuration: %w", err)
	}
	if err := a.Kong.ReloadDeclarativeRawConfig(ctx, bytes.NewReader(body), true, false); err != nil {
		return SetWeightsResult{}, kongError(fmt.Sprintf("load Kong's configuration with %v (POST /config)", res.Changed), err)
	}
	after, err := a.Kong.Status(ctx)
	if err != nil {
		return SetWeightsResult{}, kongError("read Kong's configuration hash after the load", err)
	}
	res.ConfigHash = after.ConfigurationHash
	for _, t := range res.Changed {
		a.logger().Info("kong weight set (declarative)", "upstream", in.Upstream, "target", t.Target, "weight", t.Weight,
			"was", was[t.Target], "hash", res.ConfigHash)
	}
	return res, nil
}

// declarativeTargets finds an upstream's targets in a declarative configuration, by target: top-level targets whose
// upstream is the upstream's id or name (a string or a {id|name} record), and targets nested in the upstream.
// The maps point into doc, so changing one changes doc.
func declarativeTargets(doc map[string]any, upstream string) (map[string]map[string]any, bool) {
	var keys []string // the upstream's name and id
	out := map[string]map[string]any{}
	add := func(list any) {
		items, _ := list.([]any)
		for _, item := range items {
			if t, ok := item.(map[string]any); ok {
				if name, _ := t["target"].(string); name != "" {
					out[name] = t
				}
			}
		}
	}
	found := false
	upstreams, _ := doc["upstreams"].([]any)
	for _, item := range upstreams {
		u, _ := item.(map[string]any)
		if name, _ := u["name"].(string); name == upstream {
			found = true
			id, _ := u["id"].(string)
			keys = append(keys, name, id)
			add(u["targets"])
		}
	}
	if !found {
		return nil, false
	}
	top, _ := doc["targets"].([]any)
	for _, item := range top {
		t, _ := item.(map[string]any)
		if ref := foreignKeyOf(t["upstream"]); ref != "" && (ref == keys[0] || ref == keys[1]) {
			add([]any{t})
		}
	}
	return out, true
}

// foreignKeyOf reads a declarative foreign key: a bare id or name, or a record with id or name.
func foreignKeyOf(v any) string {
	switch k := v.(type) {
	case string:
		return k
	case map[string]any:
		if id, _ := k["id"].(string); id != "" {
			return id
		}
		name, _ := k["name"].(string)
		return name
	}
	return ""
}

// declarativeWeight is a target's weight in a declarative configuration; Kong's default 100 when unset.
func declarativeWeight(t map[string]any) int {
	switch w := t["weight"].(type) {
	case int:
		return w
	case float64:
		return int(w)
	}
	return 100
}
