package observe

import (
	"strings"
	"testing"
	"time"
)

// TestSLAAndDrillMetrics: what the workflows record for an SLA and a drill reaches /metrics with its help text,
// the RPO buckets and its labels.
func TestSLAAndDrillMetrics(t *testing.T) {
	m := NewMetrics(nil)
	wf := m.SDKHandler().WithTags(map[string]string{"namespace": "default", "task_queue": "failover"})
	fo := wf.WithTags(map[string]string{"workflow_type": "Failover"})
	fo.WithTags(map[string]string{"service": "payments"}).Timer(RPOSeconds).Record(2500 * time.Millisecond)
	fo.WithTags(map[string]string{"service": "payments", "kind": "rpo"}).Counter(SLABreachesTotal).Inc(1)
	dr := wf.WithTags(map[string]string{"workflow_type": "Drill"})
	dr.WithTags(map[string]string{"service": "payments", "result": "breached"}).Counter(DrillsTotal).Inc(1)
	dr.WithTags(map[string]string{"service": "payments", "phase": "failover"}).Gauge(DrillRTOSeconds).Update(11)
	dr.WithTags(map[string]string{"service": "payments", "phase": "failover"}).Gauge(DrillRPOSeconds).Update(2.5)
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	raw, _ := scrape(t, m.HTTPHandler())
	for _, want := range []string{
		`failover_rpo_seconds_bucket{namespace="default",service="payments",task_queue="failover",workflow_type="Failover",le="2"} 0`,
		`failover_rpo_seconds_bucket{namespace="default",service="payments",task_queue="failover",workflow_type="Failover",le="5"} 1`,
		`failover_sla_breaches_total{kind="rpo",namespace="default",service="payments",task_queue="failover",workflow_type="Failover"} 1`,
		`failover_drills_total{namespace="default",result="breached",service="payments",task_queue="failover",workflow_type="Drill"} 1`,
		`failover_drill_rto_seconds{namespace="default",phase="failover",service="payments",task_queue="failover",workflow_type="Drill"} 11`,
		`failover_drill_rpo_seconds{namespace="default",phase="failover",service="payments",task_queue="failover",workflow_type="Drill"} 2.5`,
		"# HELP failover_rpo_seconds RPO estimate",
		"# HELP failover_drills_total Finished drills",
	} {
		if !strings.Contains(raw, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if t.Failed() {
		t.Log(raw)
	}
}
