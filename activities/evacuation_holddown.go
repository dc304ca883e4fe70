package activities

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"

	"github.com/failover/failover/probe"
)

// The failback evacuation's hold-down: one round probes, for a batch of services, the region each moves back into
// with the probe its own plan's failback hold-down uses; and the evacuation out of that region is looked up, for
// failback.minSinceEvacuation.

// OriginProbe asks for one round of probes of Region for the services whose plans are Files (in Dir).
type OriginProbe struct {
	Dir    string   `json:"dir"`
	Region string   `json:"region"`
	Files  []string `json:"files"`
}

// OriginHealth is one round's verdict for a batch: how many services were probed and those that failed.
type OriginHealth struct {
	Probed int           `json:"probed"`
	Down   []DownService `json:"down,omitempty"`
}

// DownService is a service whose probe of the region failed in a round, or that could not be probed.
type DownService struct {
	Service string `json:"service"`
	Detail  string `json:"detail"`
}

// originProbeConcurrency bounds the probes one round runs at once.
const originProbeConcurrency = 32

// maxDownDetail caps one failed probe's detail in the result (a batch may list hundreds).
const maxDownDetail = 160

// ProbeOrigins probes Region once for every plan of the batch: regions.<Region>.healthURL (and grpc) with the plan's
// detection.probeTimeout. Services that share a target are probed once. A plan that no longer loads, or has no
// such region, cannot be probed and counts as down: a hold-down never passes on a probe it did not run. Probing
// changes nothing, so a retry is harmless.
func (a *Activities) ProbeOrigins(ctx context.Context, in OriginProbe) (OriginHealth, error) {
	if in.Region == "" {
		return OriginHealth{}, badInput("probe origins: no region")
	}
	loaded, err := a.LoadPlans(ctx, PlanBatch{Dir: in.Dir, Files: in.Files})
	if err != nil {
		return OriginHealth{}, err
	}
	type job struct {
		target  probe.Target
		timeout time.Duration
	}
	verdicts := map[job]*probe.Result{}
	var jobs []job
	res := OriginHealth{Probed: len(loaded)}
	service := make([]string, len(loaded))
	jobOf := make([]job, len(loaded))
	probed := make([]bool, len(loaded))
	for i, lp := range loaded {
		service[i] = lp.Plan.Service
		if lp.Error != "" {
			service[i] = lp.File
			res.Down = append(res.Down, DownService{Service: lp.File, Detail: clip("plan does not load: " + lp.Error)})
			continue
		}
		r, ok := lp.Plan.Regions[in.Region]
		if !ok {
			res.Down = append(res.Down, DownService{Service: service[i], Detail: "its plan has no region " + in.Region})
			continue
		}
		jobOf[i], probed[i] = job{target: probe.TargetOf(r), timeout: lp.Plan.Detection.ProbeTimeout}, true
		if _, seen := verdicts[jobOf[i]]; !seen {
			verdicts[jobOf[i]] = nil
			jobs = append(jobs, jobOf[i])
		}
	}
	a.proberOnce.Do(func() { a.prober = &probe.Prober{HTTP: a.httpClient()} })
	var done atomic.Int64
	defer keepAlive(ctx, func() any { return done.Load() })()
	results := make([]probe.Result, len(jobs))
	sem := make(chan struct{}, originProbeConcurrency)
	var wg sync.WaitGroup
	for i, j := range jobs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			results[i] = a.prober.Check(ctx, j.target, j.timeout)
			done.Add(1)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return OriginHealth{}, fmt.Errorf("probe origins in %s: %w", in.Region, ctx.Err())
	}
	for i, j := range jobs {
		verdicts[j] = &results[i]
	}
	for i := range loaded {
		if v := verdicts[jobOf[i]]; probed[i] && v != nil && !v.Healthy {
			res.Down = append(res.Down, DownService{Service: service[i], Detail: clip(v.Detail)})
		}
	}
	return res, nil
}

func clip(s string) string {
	if len(s) > maxDownDetail {
		return s[:maxDownDetail] + "…"
	}
	return s
}

// EvacuationRun is what Temporal holds of a region's evacuation (its latest run).
type EvacuationRun struct {
	// Found is false when Temporal has no such workflow (never run, or past the namespace's retention).
	Found   bool      `json:"found"`
	Running bool      `json:"running,omitempty"`
	RunID   string    `json:"run_id,omitempty"`
	Status  string    `json:"status,omitempty"`
	EndedAt time.Time `json:"ended_at,omitempty"`
}

// LatestEvacuation describes the latest run of workflowID (an evacuation-<region>): running, or when it closed.
// Continue-as-new runs follow one another under one ID, so the latest run's close is the evacuation's end.
func (a *Activities) LatestEvacuation(ctx context.Context, workflowID string) (EvacuationRun, error) {
	if a.Temporal == nil {
		return EvacuationRun{}, badInput("look up %s: the worker has no Temporal client for activities", workflowID)
	}
	desc, err := a.Temporal.DescribeWorkflowExecution(ctx, workflowID, "")
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &notFound):
		return EvacuationRun{}, nil
	case err != nil:
		return EvacuationRun{}, fmt.Errorf("describe %s: %w", workflowID, err)
	}
	info := desc.GetWorkflowExecutionInfo()
	run := EvacuationRun{Found: true, RunID: info.GetExecution().GetRunId(), Status: info.GetStatus().String()}
	if info.GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING {
		run.Running = true
		return run, nil
	}
	run.EndedAt = info.GetCloseTime().AsTime()
	return run, nil
}
