package temporaldev

import (
	"maps"
	"sync"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/metrics"
)

// OpCounter counts the server's persistence calls (metrics persistence_requests and visibility_persistence_requests)
// by operation, e.g. UpdateWorkflowExecution or UpsertWorkflowExecution: what a workload costs SQLite, for
// benchmarks. Pass it as Options.Metrics; every other metric is dropped. Safe for concurrent use.
type OpCounter struct {
	mu     sync.Mutex
	counts map[string]int64
}

// NewOpCounter returns an empty counter.
func NewOpCounter() *OpCounter { return &OpCounter{counts: map[string]int64{}} }

// Counts returns a copy of the counts so far, keyed "persistence/<operation>" and "visibility/<operation>".
func (c *OpCounter) Counts() map[string]int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts)
}

func (c *OpCounter) add(key string, n int64) {
	c.mu.Lock()
	c.counts[key] += n
	c.mu.Unlock()
}

// handler returns the metrics.Handler the server reports to.
func (c *OpCounter) handler() metrics.Handler { return opHandler{c: c} }

// opKinds maps the counted metrics to their key prefix.
var opKinds = map[string]string{
	metrics.PersistenceRequests.Name():           "persistence",
	metrics.VisibilityPersistenceRequests.Name(): "visibility",
}

type opHandler struct {
	c         *OpCounter
	operation string
}

func (h opHandler) WithTags(tags ...metrics.Tag) metrics.Handler {
	for _, t := range tags {
		if t.Key == metrics.OperationTagName {
			h.operation = t.Value
		}
	}
	return h
}

func (h opHandler) Counter(name string) metrics.CounterIface {
	kind, ok := opKinds[name]
	if !ok {
		return metrics.NoopCounterMetricFunc
	}
	return metrics.CounterFunc(func(n int64, tags ...metrics.Tag) {
		op := h.operation
		for _, t := range tags {
			if t.Key == metrics.OperationTagName {
				op = t.Value
			}
		}
		h.c.add(kind+"/"+op, n)
	})
}

func (h opHandler) Gauge(string) metrics.GaugeIface { return metrics.NoopGaugeMetricFunc }
func (h opHandler) Timer(string) metrics.TimerIface { return metrics.NoopTimerMetricFunc }
func (h opHandler) Histogram(string, metrics.MetricUnit) metrics.HistogramIface {
	return metrics.NoopHistogramMetricFunc
}
func (h opHandler) Stop(log.Logger)                        {}
func (h opHandler) StartBatch(string) metrics.BatchHandler { return opBatch{h} }
func (opBatch) Close() error                               { return nil }

type opBatch struct{ opHandler }
