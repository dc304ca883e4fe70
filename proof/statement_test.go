package proof

import (
	"strings"
	"testing"
	"time"
)

// The signed bytes are a wire format: changing them invalidates every proof in flight. Change version with them.
func TestStatementBytesAreCanonical(t *testing.T) {
	want := "failover-proof-v1\n" +
		"workflow_id=failover-payments\n" +
		"run_id=0195-run\n" +
		"plan_hash=3f2a9c0d1e2b4a5f\n" +
		"kind=approve-failover\n" +
		"decision=approve\n" +
		"approver=alice\n" +
		"via=cli\n" +
		"time=2026-03-01T11:00:00.123456789Z\n"
	if got := string(statement().Bytes()); got != want {
		t.Fatalf("bytes:\n%s\nwant:\n%s", got, want)
	}
	// The same instant in another zone signs the same bytes.
	st := statement()
	st.Time = st.Time.In(time.UTC)
	if string(st.Bytes()) != want {
		t.Fatal("the time zone changed the signed bytes")
	}
	// A Slack statement signs the click and the user groups after the fields every statement has.
	st = statement()
	st.Via, st.Click, st.SlackGroups = ViaSlack, "U111:fo-approve:1700000000.000001:1700000000.000100", []string{"S0ONCALL", "S0SRE"}
	slack := strings.Replace(want, "via=cli", "via=slack", 1) +
		"click=U111:fo-approve:1700000000.000001:1700000000.000100\n" +
		"slack_groups=S0ONCALL,S0SRE\n"
	if got := string(st.Bytes()); got != slack {
		t.Fatalf("slack bytes:\n%s\nwant:\n%s", got, slack)
	}
	st.SlackGroups = []string{"S0,ONE"}
	if err := st.Check(); err == nil || !strings.Contains(err.Error(), "slack_groups[0]") {
		t.Fatalf("a group with a comma: %v, want slack_groups[0] named", err)
	}
}

func TestStatementCheckNamesEveryProblem(t *testing.T) {
	err := Statement{Decision: "maybe", Via: "email", Approver: "a\tb"}.Check()
	if err == nil {
		t.Fatal("accepted an empty statement")
	}
	for _, want := range []string{"workflow_id: missing", "run_id: missing", "plan_hash: missing", "kind: missing",
		"approver:", "control character", `decision: "maybe"`, `via: "email"`, "time: missing"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %v does not mention %q", err, want)
		}
	}
	if err := statement().Check(); err != nil {
		t.Fatalf("good statement: %v", err)
	}
}
