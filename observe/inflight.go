package observe

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/converter"

	"github.com/failover/failover/workflows"
)

// Gauges read from Temporal visibility at every scrape.
const (
	// InFlight is the number of running failovers: label service.
	InFlight = "failover_in_flight"
	// CurrentStep is 1 for the step each running failover is in (its FailoverStep search attribute): labels
	// service, step. step="approve" for 10 minutes means people are not answering.
	CurrentStep = "failover_current_step"
	// RunningSeconds is how long the oldest running failover of a service has run: label service.
	RunningSeconds = "failover_running_seconds"
	// InFlightUp is 1 when the last visibility query succeeded, 0 when the gauges above are unknown.
	InFlightUp = "failover_in_flight_up"
)

// RunningQuery is the visibility query for failovers in flight (also a useful Web UI list query).
const RunningQuery = "WorkflowType = 'Failover' AND ExecutionStatus = 'Running'"

// Visibility lists workflows; client.Client is one.
type Visibility interface {
	ListWorkflow(ctx context.Context, req *workflowservice.ListWorkflowExecutionsRequest) (*workflowservice.ListWorkflowExecutionsResponse, error)
}

// InFlightCollector exports the failovers running now, read from Temporal visibility at scrape time, so every
// replica and `starter serve` report the same numbers (dashboards take max by service). It lists the running
// executions rather than counting them: one call then gives each one's service, step and start time, and a
// service has at most one failover running (its workflow ID).
type InFlightCollector struct {
	vis     Visibility
	logger  *slog.Logger
	timeout time.Duration
	now     func() time.Time

	mu   sync.Mutex
	seen map[string]bool // services ever seen running: reported as 0 when idle, so graphs drop to zero
}

// NewInFlightCollector reads visibility through vis (the Temporal client; its namespace applies). Register it on a
// Prometheus registry: reg.MustRegister(observe.NewInFlightCollector(tc, logger)).
func NewInFlightCollector(vis Visibility, logger *slog.Logger) *InFlightCollector {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &InFlightCollector{vis: vis, logger: logger, timeout: 5 * time.Second, now: time.Now, seen: map[string]bool{}}
}

var (
	inFlightDesc = prometheus.NewDesc(InFlight, "Failovers running now by service (Temporal visibility: "+RunningQuery+").", []string{"service"}, nil)
	stepDesc     = prometheus.NewDesc(CurrentStep, "1 for the step each running failover is in (FailoverStep search attribute).", []string{"service", "step"}, nil)
	runningDesc  = prometheus.NewDesc(RunningSeconds, "Seconds since the oldest running failover of the service started.", []string{"service"}, nil)
	upDesc       = prometheus.NewDesc(InFlightUp, "1 if the last Temporal visibility query for running failovers succeeded.", nil, nil)
)

// Describe implements prometheus.Collector.
func (c *InFlightCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- inFlightDesc
	ch <- stepDesc
	ch <- runningDesc
	ch <- upDesc
}

// Collect implements prometheus.Collector. A failed query reports failover_in_flight_up 0 and nothing else, so
// a Temporal outage never fails the whole scrape (the worker's SDK metrics matter most then).
func (c *InFlightCollector) Collect(ch chan<- prometheus.Metric) {
	running, err := c.running()
	if err != nil {
		c.logger.Warn("failovers in flight unknown", "error", err)
		ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 0)
		return
	}
	ch <- prometheus.MustNewConstMetric(upDesc, prometheus.GaugeValue, 1)
	count := map[string]int{}
	oldest := map[string]time.Time{}
	steps := map[[2]string]bool{}
	for _, r := range running {
		count[r.service]++
		if o, ok := oldest[r.service]; !ok || r.started.Before(o) {
			oldest[r.service] = r.started
		}
		steps[[2]string{r.service, r.step}] = true
	}
	c.mu.Lock()
	for s := range count {
		c.seen[s] = true
	}
	for s := range c.seen {
		ch <- prometheus.MustNewConstMetric(inFlightDesc, prometheus.GaugeValue, float64(count[s]), s)
	}
	c.mu.Unlock()
	for s, t := range oldest {
		ch <- prometheus.MustNewConstMetric(runningDesc, prometheus.GaugeValue, c.now().Sub(t).Seconds(), s)
	}
	for k := range steps {
		ch <- prometheus.MustNewConstMetric(stepDesc, prometheus.GaugeValue, 1, k[0], k[1])
	}
}

type runningFailover struct {
	service, step string
	started       time.Time
}

func (c *InFlightCollector) running() ([]runningFailover, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	var out []runningFailover
	var token []byte
	for {
		resp, err := c.vis.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{Query: RunningQuery, PageSize: 1000, NextPageToken: token})
		if err != nil {
			return nil, fmt.Errorf("list running failovers: %w", err)
		}
		for _, e := range resp.GetExecutions() {
			sa := e.GetSearchAttributes()
			out = append(out, runningFailover{
				service: keyword(sa, workflows.ServiceKey.GetName(), "unknown"),
				step:    keyword(sa, workflows.StepKey.GetName(), "unknown"),
				started: e.GetStartTime().AsTime(),
			})
		}
		if token = resp.GetNextPageToken(); len(token) == 0 {
			return out, nil
		}
	}
}

// keyword reads a Keyword search attribute; search attributes are never encrypted, whatever the codec.
func keyword(sa *commonpb.SearchAttributes, name, def string) string {
	p, ok := sa.GetIndexedFields()[name]
	if !ok {
		return def
	}
	var v string
	if err := converter.GetDefaultDataConverter().FromPayload(p, &v); err != nil || v == "" {
		return def
	}
	return v
}
