package activities

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
)

// ErrDataPlanesLagging: a hybrid control plane's data planes did not all apply a change in time. Not retryable:
// the wait itself was the retry.
const ErrDataPlanesLagging = "KongDataPlanesLagging"

// dataPlanePoll is how often WaitDataPlanes asks the control plane.
const dataPlanePoll = 200 * time.Millisecond

// dataPlaneHashes reads a control plane's GET /clustering/data-planes: each connected data plane's configuration
// hash, by hostname (or id when it has none).
func (a *Activities) dataPlaneHashes(ctx context.Context) (map[string]string, error) {
	req, err := a.Kong.NewRequest("GET", "/clustering/data-planes", nil, nil)
	if err != nil {
		return nil, fmt.Errorf("build GET /clustering/data-planes: %w", err)
	}
	var body struct {
		Data []struct {
			ID         string `json:"id"`
			Hostname   string `json:"hostname"`
			ConfigHash string `json:"config_hash"`
		} `json:"data"`
	}
	if _, err := a.Kong.Do(ctx, req, &body); err != nil {
		return nil, kongError("read the data planes (GET /clustering/data-planes)", err)
	}
	out := map[string]string{}
	for _, dp := range body.Data {
		name := dp.Hostname
		if name == "" {
			name = dp.ID
		}
		out[name] = dp.ConfigHash
	}
	return out, nil
}

// WaitDataPlanesInput is what a control plane's data planes ran before a change, and how long they may take.
type WaitDataPlanesInput struct {
	Before  map[string]string
	Timeout time.Duration
}

// WaitDataPlanesResult is the configuration every data plane runs after the change.
type WaitDataPlanesResult struct {
	Hash       string
	DataPlanes int
	Waited     time.Duration
}

// WaitDataPlanes waits until every data plane connected to the control plane has left the configuration it ran
// before the change and all run the same one: then traffic follows the change everywhere. It gives up after
// Timeout with ErrDataPlanesLagging naming the data planes that lag.
func (a *Activities) WaitDataPlanes(ctx context.Context, in WaitDataPlanesInput) (WaitDataPlanesResult, error) {
	began := time.Now()
	deadline := began.Add(in.Timeout)
	for {
		now, err := a.dataPlaneHashes(ctx)
		if err != nil {
			return WaitDataPlanesResult{}, err
		}
		lagging := laggingDataPlanes(in.Before, now)
		if len(lagging) == 0 {
			res := WaitDataPlanesResult{DataPlanes: len(now), Waited: time.Since(began)}
			for _, h := range now {
				res.Hash = h
			}
			return res, nil
		}
		heartbeat(ctx, lagging)
		if time.Now().After(deadline) {
			return WaitDataPlanesResult{}, temporal.NewNonRetryableApplicationError(fmt.Sprintf(
				"Kong data planes did not apply the change within %s: %s; check GET /clustering/data-planes and the control plane's log",
				in.Timeout, strings.Join(lagging, ", ")), ErrDataPlanesLagging, nil)
		}
		select {
		case <-ctx.Done():
			return WaitDataPlanesResult{}, ctx.Err()
		case <-time.After(dataPlanePoll):
		}
	}
}

// laggingDataPlanes lists, as "hostname on hash", the data planes still on the configuration they ran before; when
// none is but they disagree (one already on a later change), all of them.
func laggingDataPlanes(before, now map[string]string) []string {
	var stale, all []string
	distinct := map[string]bool{}
	for name, h := range now {
		distinct[h] = true
		all = append(all, fmt.Sprintf("%s on %s", name, h))
		if old, known := before[name]; known && h == old {
			stale = append(stale, fmt.Sprintf("%s on %s", name, h))
		}
	}
	slices.Sort(stale)
	slices.Sort(all)
	switch {
	case len(stale) > 0:
		return stale
	case len(distinct) > 1:
		return all
	}
	return nil
}
