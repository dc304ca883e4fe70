package activities

import (
	"context"
	"sync/atomic"
	"time"

	"github.com/failover/failover/plan"
	"github.com/failover/failover/probe"
)

// ProbeInput asks for up to Attempts health probes of URL (and GRPC, when set), Interval apart.
type ProbeInput struct {
	URL string
	// GRPC, when set, must answer SERVING too (grpc.health.v1).
	GRPC     *plan.GRPCHealth `json:",omitempty"`
	Attempts int
	Interval time.Duration
	Timeout  time.Duration
	// Expect is "down" (stop at the first healthy answer) or "up" (stop at the first unhealthy one).
	Expect string
}

// ProbeResult says whether every probe agreed with Expect.
type ProbeResult struct {
	Confirmed bool
	Probes    int
	Evidence  []string
}

// ProbeHealth probes a region's health URL directly. A region counts as down only after Attempts consecutive
// failures, so one lost packet never fails over a healthy region; "up" needs Attempts consecutive successes.
// A hold-down runs for minutes: it heartbeats the probes done so far throughout, through the waits between probes
// and the probes themselves.
func (a *Activities) ProbeHealth(ctx context.Context, in ProbeInput) (ProbeResult, error) {
	if in.Expect != "down" && in.Expect != "up" {
		return ProbeResult{}, badInput("probe %s: expect %q, want down or up", in.URL, in.Expect)
	}
	var res ProbeResult
	var probes atomic.Int64
	defer keepAlive(ctx, func() any { return probes.Load() })()
	for i := 0; i < in.Attempts; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return res, ctx.Err()
			case <-time.After(in.Interval):
			}
		}
		healthy, detail := a.probeOnce(ctx, in)
		res.Probes++
		probes.Store(int64(res.Probes))
		res.Evidence = append(res.Evidence, detail)
		if healthy == (in.Expect == "down") {
			return res, nil
		}
	}
	res.Confirmed = true
	return res, nil
}

func (a *Activities) probeOnce(ctx context.Context, in ProbeInput) (healthy bool, detail string) {
	a.proberOnce.Do(func() { a.prober = &probe.Prober{HTTP: a.httpClient()} })
	res := a.prober.Check(ctx, probe.Target{URL: in.URL, GRPC: in.GRPC}, in.Timeout)
	return res.Healthy, res.Detail
}
