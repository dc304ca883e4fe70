package activities

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/kong/go-kong/kong"
	"go.temporal.io/sdk/temporal"
)

// TargetWeight is one Kong upstream target and its weight (0 = no traffic).
type TargetWeight struct {
	Target string `json:"target"`
	Weight int    `json:"weight"`
}

// ReadWeights lists an upstream's targets and weights, sorted by target.
func (a *Activities) ReadWeights(ctx context.Context, upstream string) ([]TargetWeight, error) {
	targets, err := a.Kong.Targets.ListAll(ctx, &upstream)
	if err != nil {
		return nil, kongError(fmt.Sprintf("list targets of upstream %s", upstream), err)
	}
	out := make([]TargetWeight, 0, len(targets))
	for _, t := range targets {
		out = append(out, TargetWeight{Target: kong.StringValue(t.Target), Weight: weightOf(t)})
	}
	slices.SortFunc(out, func(x, y TargetWeight) int { return strings.Compare(x.Target, y.Target) })
	return out, nil
}

// SetWeightsInput is the desired weight of some of an upstream's targets; others are left alone.
type SetWeightsInput struct {
	Upstream string
	Weights  []TargetWeight
	// Mode is how Kong is changed (KongPreflight); "" is KongEntities, as for runs started before the preflight.
	Mode KongMode `json:",omitempty"`
	// ConfigHash is the DB-less configuration hash last seen; KongDeclarative changes are fenced on it.
	ConfigHash string `json:",omitempty"`
	// ControlPlane is set for a hybrid control plane: a change reports what the data planes ran before it.
	ControlPlane bool `json:",omitempty"`
}

// SetWeightsResult lists the targets whose weight actually changed.
type SetWeightsResult struct {
	Changed []TargetWeight
	// ConfigHash is a DB-less Kong's configuration hash after the change: the next change's fence.
	ConfigHash string `json:",omitempty"`
	// DataPlanesBefore is, on a control plane that was changed, each data plane's configuration hash just before
	// the change (WaitDataPlanes waits for them to move on).
	DataPlanesBefore map[string]string `json:",omitempty"`
}

// SetWeights converges the upstream to the desired weights: it reads first and updates only targets that differ,
// raising weights before lowering others so the upstream never has no healthy weight during the change.
//
// A DB-less Kong (Mode KongDeclarative) is changed through its declarative configuration instead.
func (a *Activities) SetWeights(ctx context.Context, in SetWeightsInput) (SetWeightsResult, error) {
	if in.Mode == KongDeclarative {
		return a.setWeightsDeclarative(ctx, in)
	}
	current, err := a.ReadWeights(ctx, in.Upstream)
	if err != nil {
		return SetWeightsResult{}, err
	}
	have := map[string]int{}
	for _, t := range current {
		have[t.Target] = t.Weight
	}
	var raise, lower []TargetWeight
	for _, want := range in.Weights {
		w, ok := have[want.Target]
		switch {
		case !ok:
			return SetWeightsResult{}, temporal.NewNonRetryableApplicationError(
				fmt.Sprintf("upstream %s has no target %s: add it to Kong or fix the plan's kongTarget", in.Upstream, want.Target),
				ErrTargetMissing, nil)
		case want.Weight > w:
			raise = append(raise, want)
		case want.Weight < w:
			lower = append(lower, want)
		}
	}
	var res SetWeightsResult
	if in.ControlPlane && len(raise)+len(lower) > 0 {
		if res.DataPlanesBefore, err = a.dataPlaneHashes(ctx); err != nil {
			return res, err
		}
	}
	for _, t := range append(raise, lower...) {
		body := &kong.Target{Target: kong.String(t.Target), Weight: kong.Int(t.Weight)}
		if _, err := a.Kong.Targets.Update(ctx, &in.Upstream, &t.Target, body); err != nil {
			return res, kongError(fmt.Sprintf("set weight of %s in upstream %s to %d", t.Target, in.Upstream, t.Weight), err)
		}
		res.Changed = append(res.Changed, t)
		a.logger().Info("kong weight set", "upstream", in.Upstream, "target", t.Target, "weight", t.Weight, "was", have[t.Target])
	}
	return res, nil
}

// kongError makes Kong's 4xx answers (other than 429) non-retryable: asking again will not change them.
func kongError(what string, err error) error {
	var apiErr *kong.APIError
	if errors.As(err, &apiErr) && apiErr.Code() >= 400 && apiErr.Code() < 500 && apiErr.Code() != 429 {
		return temporal.NewNonRetryableApplicationError(fmt.Sprintf("%s: %v", what, err), ErrKongRejected, nil)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// weightOf is a target's weight; Kong's default (100) when the API left it out.
func weightOf(t *kong.Target) int {
	if t.Weight == nil {
		return 100
	}
	return *t.Weight
}
