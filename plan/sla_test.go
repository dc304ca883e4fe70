package plan

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func TestValidateSLA(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*Plan)
		want string // "" for valid
	}{
		{"example", func(*Plan) {}, ""},
		{"no sla", func(p *Plan) { p.SLA = nil }, ""},
		{"empty sla", func(p *Plan) { p.SLA = &SLA{} }, "sla: sets neither rto nor rpo"},
		{"negative rto", func(p *Plan) { p.SLA.RTO = -time.Second }, "sla.rto"},
		{"rpo without a lag query: unknown RPO, which plan lint reports", func(p *Plan) { p.Readiness.LagQuery, p.Readiness.MaxReplicationLag = "", 0 }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := example(t)
			tc.edit(&p)
			err := p.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("valid plan refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestPlanWithoutSLAHashesAsBefore: sla is a pointer left out of the JSON, so plans written before it keep their
// hash (approvals in flight name it).
func TestPlanWithoutSLAHashesAsBefore(t *testing.T) {
	p := example(t)
	withSLA := p.Hash()
	p.SLA = nil
	if p.Hash() == withSLA {
		t.Fatal("the SLA is not covered by the hash")
	}
	if b := mustJSON(t, p); strings.Contains(b, `"sla"`) {
		t.Fatalf("a plan without sla still has it in its JSON: %s", b)
	}
}

func mustJSON(t *testing.T, p Plan) string {
	t.Helper()
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
