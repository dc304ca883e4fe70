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
