package e2e

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/control"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/workflows"
)

// BenchmarkFailoverToKong measures orchestration latency: workflow start → Kong 100% on the target, with
// auto-approve, one detection probe, no warmup and no soak, next to the same activity calls made directly in the
// same run. It reports p50/p99 of both and their ratio. Each iteration fails over in the other direction. The
// failover starts through control.Start, as `starter start` does (eager start with this in-process worker). After
// the runs it reads their histories back and reports where the time went (timeline_test.go): the mean per
// failover of each span, and the median run's events at their offsets in the log.
func BenchmarkFailoverToKong(b *testing.B) {
	s := startStack(b)
	startWorker(b, s)
	p := planWithoutPrometheus(s)
	p.Detection.Probes = 1
	p.Traffic = plan.Traffic{Steps: []int{100}}
	p.Warmup.Keys = nil
	p.Verification = plan.Verification{Count: 1, Checks: []plan.Check{{Name: "gateway", HTTP: &plan.HTTPCheck{
		URL: s.Kong.ProxyURL() + "/payments/items/bench", ExpectStatus: 200, Samples: 1, MinSuccess: 1, Timeout: time.Second}}}}
	p.SetDefaults()
	acts := &activities.Activities{Etcd: s.EtcdClient, Kong: s.KongClient, HTTP: &http.Client{Timeout: 5 * time.Second}}
	regions := []string{"us-east", "eu-west"}

	var orchestrated, direct []time.Duration
	type ran struct {
		id, runID  string
		begin, end time.Time
	}
	var runs []ran
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		from, to := regions[i%2], regions[(i+1)%2]
		req := request(p, from, to)
		req.Force = true
		begin := time.Now()
		run, err := control.Start(context.Background(), s.TemporalClient, req) // as `starter start` does: eager
		if err != nil {
			b.Fatal(err)
		}
		res := result(b, run)
		if res.Outcome != workflows.Succeeded {
			b.Fatalf("outcome %s: %s", res.Outcome, res.Reason)
		}
		for _, st := range res.Steps {
			if st.Name == "reroute" {
				// Kong reached 100% when the reroute step ended (same machine, same clock).
				orchestrated = append(orchestrated, st.Ended.Sub(begin))
				runs = append(runs, ran{run.GetID(), run.GetRunID(), begin, st.Ended})
			}
		}
		// The same calls straight from Go: there and back, so the next iteration starts where the workflow left it.
		for _, leg := range [][2]string{{to, from}, {from, to}} {
			d, err := directFailover(acts, p, leg[0], leg[1])
			if err != nil {
				b.Fatal(err)
			}
			direct = append(direct, d)
		}
	}
	b.StopTimer()
	o50, o99 := percentiles(orchestrated)
	d50, d99 := percentiles(direct)
	b.ReportMetric(float64(o50.Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(o99.Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(d50.Microseconds())/1000, "direct-p50-ms")
	b.ReportMetric(float64(d99.Microseconds())/1000, "direct-p99-ms")
	b.ReportMetric(float64(o99)/float64(d99), "p99-ratio")

	var tls []timeline
	for _, r := range runs {
		h, err := history(s.TemporalClient, r.id, r.runID)
		if err != nil {
			b.Fatal(err)
		}
		tls = append(tls, timelineOf(h, r.begin, r.end))
	}
	reportTimelines(b, tls)
}

// reportTimelines reports the mean of each span per failover and logs the median run's timeline.
func reportTimelines(b *testing.B, tls []timeline) {
	var sum timeline
	for _, tl := range tls {
		sum.Start += tl.Start
		sum.TaskWait += tl.TaskWait
		sum.TaskRun += tl.TaskRun
		sum.Awaiting += tl.Awaiting
		sum.WorkflowTasks += tl.WorkflowTasks
		sum.Activities += tl.Activities
		sum.LocalActivities += tl.LocalActivities
	}
	n := float64(len(tls))
	mean := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 / n }
	b.ReportMetric(mean(sum.Start), "start-ms")
	b.ReportMetric(mean(sum.TaskWait), "wft-wait-ms")
	b.ReportMetric(mean(sum.TaskRun), "wft-run-ms")
	b.ReportMetric(mean(sum.Awaiting), "awaiting-ms")
	b.ReportMetric(float64(sum.WorkflowTasks)/n, "wfts")
	b.ReportMetric(float64(sum.Activities)/n, "acts")
	b.ReportMetric(float64(sum.LocalActivities)/n, "local-acts")
	sorted := slices.Clone(tls)
	slices.SortFunc(sorted, func(x, y timeline) int { return cmp.Compare(x.Total, y.Total) })
	med := sorted[len(sorted)/2]
	b.Logf("median run: %s\n%s", med, strings.Join(med.Lines, "\n"))
}

// directFailover makes the workflow's activity calls up to Kong 100% directly, without Temporal.
func directFailover(acts *activities.Activities, p plan.Plan, from, to string) (time.Duration, error) {
	ctx := context.Background()
	begin := time.Now()
	if _, err := acts.ProbeHealth(ctx, activities.ProbeInput{URL: p.Regions[from].HealthURL, Attempts: 1, Timeout: time.Second, Expect: "down"}); err != nil {
		return 0, err
	}
	if _, err := acts.ProbeHealth(ctx, activities.ProbeInput{URL: p.Regions[to].HealthURL, Attempts: 1, Timeout: time.Second, Expect: "up"}); err != nil {
		return 0, err
	}
	cur, err := acts.ReadActive(ctx, p.Etcd.ActiveKey)
	if err != nil {
		return 0, err
	}
	if _, err := acts.ReadWeights(ctx, p.Kong.Upstream); err != nil {
		return 0, err
	}
	cut, err := acts.Cutover(ctx, activities.CutoverInput{Key: p.Etcd.ActiveKey, Expected: cur, Region: to, RunID: fmt.Sprint(begin.UnixNano())})
	if err != nil {
		return 0, err
	}
	if _, err := acts.WaitAcks(ctx, activities.WaitAcksInput{AckPrefix: p.Etcd.AckPrefix, Epoch: cut.Value.Epoch,
		Required: p.Etcd.RequiredConsumers, MinAcks: p.Etcd.MinAcks, Timeout: 10 * time.Second}); err != nil {
		return 0, err
	}
	_, err = acts.SetWeights(ctx, activities.SetWeightsInput{Upstream: p.Kong.Upstream, Weights: []activities.TargetWeight{
		{Target: p.Regions[to].KongTarget, Weight: 100}, {Target: p.Regions[from].KongTarget, Weight: 0}}})
	return time.Since(begin), err
}

func percentiles(ds []time.Duration) (p50, p99 time.Duration) {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)*50/100], s[min(len(s)-1, len(s)*99/100)]
}
