package report

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/follow"
	"github.com/failover/failover/workflows"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the current output")

var fault = time.Date(2026, 3, 14, 9, 30, 0, 0, time.UTC)

func at(d string) time.Time {
	dur, err := time.ParseDuration(d)
	if err != nil {
		panic(err)
	}
	return fault.Add(dur)
}

// succeeded is an alert-triggered failover that waited 2½ minutes for a person, then went through.
func succeeded() workflows.Status {
	return workflows.Status{
		Kind: "failover", Service: "payments", From: "us-east", To: "eu-west", PlanHash: "9c1e5a7f3b2d",
		Trigger: workflows.Trigger{Source: "alert", Alert: "PaymentsDown", Severity: "critical", FaultAt: fault},
		Step:    "done",
		Steps: []workflows.StepRecord{
			{Name: "detect", Started: at("4.52s"), Ended: at("5.18s"), Result: "ok", Detail: "us-east is down"},
			{Name: "readiness", Started: at("5.19s"), Ended: at("5.26s"), Result: "ok", Detail: "eu-west healthy; etcd revision 41; weights [127.0.0.1:9101=100 127.0.0.1:9102=0]"},
			{Name: "approve", Started: at("5.27s"), Ended: at("2m35.27s"), Result: "ok", Detail: "approved"},
			{Name: "cutover", Started: at("2m35.29s"), Ended: at("2m35.61s"), Result: "ok", Detail: "/failover/payments/active → eu-west, epoch 2 at revision 42"},
			{Name: "reroute", Started: at("2m35.62s"), Ended: at("2m37.70s"), Result: "ok", Detail: "payments: all traffic to eu-west (127.0.0.1:9102)"},
			{Name: "warmup", Started: at("2m37.71s"), Ended: at("2m39.10s"), Result: "ok", Detail: "16 keys in 4 batches, hit ratio 0.94"},
			{Name: "verify", Started: at("2m39.11s"), Ended: at("2m42.30s"), Result: "ok", Detail: "3 rounds of 2 checks, 0 failures"},
		},
		Approvals: []workflows.Approval{
			{By: "alice", Via: "slack", Decision: "approve", For: workflows.DecideFailover, Comment: "checked the dashboards", At: at("2m35.27s")},
		},
		Evidence: []string{"probe 1/3: http://127.0.0.1:9101/healthz → 503", "probe 3/3: http://127.0.0.1:9101/healthz → 503", "epoch 2 acked by [payments-eu-west-1]"},
		Alerts: []workflows.AlertState{{Status: "firing", Alertname: "PaymentsDown", Fingerprint: "a1b2c3", Severity: "critical",
			Region: "us-east", AboutSource: true, StartsAt: fault, FirstSeen: at("4.4s"), LastSeen: at("34.4s"), Notifications: 3}},
		EtcdBefore: &activities.ActiveState{Exists: true, ModRevision: 41, Value: follow.Active{Region: "us-east", Epoch: 1}},
		EtcdAfter:  &follow.Active{Region: "eu-west", Epoch: 2},
		KongBefore: []activities.TargetWeight{{Target: "127.0.0.1:9101", Weight: 100}, {Target: "127.0.0.1:9102", Weight: 0}},
		KongAfter:  []activities.TargetWeight{{Target: "127.0.0.1:9102", Weight: 100}, {Target: "127.0.0.1:9101", Weight: 0}},
		Checks: []activities.CheckResult{
			{Name: "target-errors-at-step", Verdict: activities.Pass, Value: 0, Detail: "0 < 0.5"},
			{Name: "served-by-target", Verdict: activities.Pass, Value: 10, Detail: "10/10 answered with X-Region=eu-west"},
			{Name: "target-errors", Verdict: activities.Pass, Value: 0, Detail: "0 < 0.5"},
			{Name: "served-by-target", Verdict: activities.Pass, Value: 10, Detail: "10/10 answered with X-Region=eu-west"},
			{Name: "target-errors", Verdict: activities.Inconclusive, Detail: "no data"},
			{Name: "served-by-target", Verdict: activities.Pass, Value: 10, Detail: "10/10 answered with X-Region=eu-west"},
		},
		Outcome: workflows.Succeeded, Reason: "traffic verified on eu-west",
		StartedAt: at("4.5s"), FaultAt: fault, RTOSeconds: 162.3,
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s (go test ./report -update rewrites it):\n--- got\n%s", name, path, got)
	}
}

func TestTextGolden(t *testing.T) {
	var b bytes.Buffer
	if err := FromStatus("failover-payments", "0f3c2d1e-run", succeeded()).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "succeeded.txt", b.Bytes())
}

func TestJSONGolden(t *testing.T) {
	var b bytes.Buffer
	if err := FromStatus("failover-payments", "0f3c2d1e-run", succeeded()).WriteJSON(&b); err != nil {
		t.Fatal(err)
	}
	golden(t, "succeeded.json", b.Bytes())
}

func TestHTMLGolden(t *testing.T) {
	var b bytes.Buffer
	if err := FromStatus("failover-payments", "0f3c2d1e-run", succeeded()).WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	html := b.String()
	for _, forbidden := range []string{"<script", "http://", "https://", "ZgotmplZ", "<link"} {
		if forbidden == "http://" {
			// Only the SVG namespace may name a URL: the page loads nothing.
			html = strings.ReplaceAll(html, `xmlns="http://www.w3.org/2000/svg"`, "")
			html = strings.ReplaceAll(html, "http://127.0.0.1:9101/healthz", "")
		}
		if strings.Contains(html, forbidden) {
			t.Errorf("HTML contains %q: it must be self-contained", forbidden)
		}
	}
	golden(t, "succeeded.html", b.Bytes())
}

// TestBreakdownAddsUp: the phases and the time between steps make up the whole span, and the RTO is the span.
func TestBreakdownAddsUp(t *testing.T) {
	r := FromStatus("failover-payments", "", succeeded())
	sum := r.BetweenSeconds
	names := []string{}
	for _, p := range r.Phases {
		sum += p.Seconds
		names = append(names, p.Name)
	}
	if d := sum - r.ElapsedSeconds; d > 0.002 || d < -0.002 {
		t.Fatalf("phases add up to %.6f, elapsed %.6f", sum, r.ElapsedSeconds)
	}
	if r.RTOSeconds != r.ElapsedSeconds {
		t.Fatalf("RTO %.3f, elapsed %.3f: a succeeded failover's RTO ends with verification", r.RTOSeconds, r.ElapsedSeconds)
	}
	want := "alerting detection readiness approval wait cutover reroute warmup verification"
	if got := strings.Join(names, " "); got != want {
		t.Fatalf("phases %q, want %q", got, want)
	}
}

func TestRunningAndFailed(t *testing.T) {
	st := succeeded()
	st.Steps = st.Steps[:6]
	st.Steps[5].Ended, st.Steps[5].Result, st.Steps[5].Detail = time.Time{}, "", ""
	st.Outcome, st.Reason, st.Step, st.RTOSeconds = "", "", "warmup", 158
	r := FromStatus("failover-payments", "", st)
	last := r.Phases[len(r.Phases)-1]
	if r.Outcome != Running || last.Result != Running || last.Seconds < 0.28 || last.Seconds > 0.3 {
		t.Fatalf("running: outcome %s, last phase %+v", r.Outcome, last)
	}
	if h := r.Headline(); !strings.Contains(h, "running, step warmup") {
		t.Fatalf("headline %q", h)
	}

	st = succeeded()
	st.Steps = append(st.Steps[:6:6], workflows.StepRecord{Name: "verify", Started: at("2m39.11s"), Ended: at("2m40s"), Result: "failed", Detail: "2 failed check results"},
		workflows.StepRecord{Name: "rollback", Started: at("2m40.01s"), Ended: at("2m41s"), Result: "ok", Detail: "undid 2 change(s)"})
	st.Outcome, st.RTOSeconds = workflows.RolledBack, 0
	r = FromStatus("failover-payments", "", st)
	if r.RTOSeconds != 0 || r.ElapsedSeconds != 161 || r.Phases[len(r.Phases)-1].Name != "rollback" {
		t.Fatalf("rolled back: RTO %.2f elapsed %.2f phases %+v", r.RTOSeconds, r.ElapsedSeconds, r.Phases)
	}
	var b bytes.Buffer
	_ = r.WriteText(&b)
	if !strings.Contains(b.String(), "no RTO: ended rolled-back after 2m41.00s") {
		t.Fatalf("text:\n%s", b.String())
	}
	if err := r.WriteHTML(&bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
}

func TestDuration(t *testing.T) {
	for s, want := range map[float64]string{0.421: "0.42s", 12.3: "12.30s", 100.25: "1m40.25s", 3723: "1h02m03s"} {
		if got := Duration(s); got != want {
			t.Errorf("Duration(%v) = %q, want %q", s, got, want)
		}
	}
}

func TestTextShowsHowDecisionsWereProven(t *testing.T) {
	st := succeeded()
	st.Approvals = []workflows.Approval{
		{By: "alice", Person: "alice", Via: "cli", Decision: "approve", For: workflows.DecideFailover, At: at("1s"),
			Key: "SHA256:alicekey", ProofID: "proof-1"},
		{By: "bob", Person: "bob", Via: "slack", Decision: "approve", For: workflows.DecideFailover, At: at("2s"),
			Key: "SHA256:frontdoor", SlackUser: "U222", ProofID: "proof-2"},
		{By: "carol", Person: "carol", Via: workflows.ViaWebUI, Decision: "approve", For: workflows.DecideFailover, At: at("3s")},
	}
	var b bytes.Buffer
	if err := FromStatus("failover-payments", "0f3c2d1e-run", st).WriteText(&b); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"by alice via cli [key SHA256:alicekey, proof-1]",
		"by bob via slack [Slack user U222, front-door key SHA256:frontdoor, proof-2]", "by carol via web-ui [unsigned]"} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("report lacks %q:\n%s", want, b.String())
		}
	}
}
