package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShippedPlansAreValid(t *testing.T) {
	files, _ := filepath.Glob("../deploy/plans/*.yaml")
	if len(files) == 0 {
		t.Fatal("no plans in deploy/plans")
	}
	for _, f := range files {
		if _, err := Load(f); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
}

func TestDecodeNamesTheBadField(t *testing.T) {
	base, err := os.ReadFile("../deploy/plans/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"unknown field", "cooldown: 30m", "cooldwn: 30m", "field cooldwn not found"},
		{"missing service", "service: payments", "service: ''", "service: missing"},
		{"bad target", "kongTarget: 10.20.1.20:8080", "kongTarget: 10.20.1.20", "regions.eu-west.kongTarget"},
		{"bad url", "healthURL: http://10.10.1.20:8080/healthz", "healthURL: ftp://x", "regions.us-east.healthURL"},
		{"steps must end at 100", "steps: [10, 50, 100]", "steps: [10, 50]", "traffic.steps"},
		{"steps increase", "steps: [10, 50, 100]", "steps: [50, 10, 100]", "increasing percentages"},
		{"bad condition", `condition: "> 0.5"`, `condition: "above 0.5"`, "detection.query.condition"},
		{"bad mode", "mode: manual", "mode: yolo", "approval.mode"},
		{"quorum above approvers", "quorum: 1", "quorum: 5", "approval.approvers"},
		{"bad duration", "timeout: 15m", "timeout: soon", "decode"},
		{"bad rollback", "onFailure: auto", "onFailure: maybe", "rollback.onFailure"},
		{"bad point of no return", "pointOfNoReturn: verify", "pointOfNoReturn: lunch", "rollback.pointOfNoReturn"},
		{"check with both kinds", "      http:\n        url: http://kong.internal", "      prometheus: {expr: x, condition: '> 1'}\n      http:\n        url: http://kong.internal", "exactly one of prometheus or http"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.Replace(string(base), tc.old, tc.new, 1)
			if src == string(base) {
				t.Fatalf("test edit %q not applied", tc.old)
			}
			_, err := Decode(strings.NewReader(src))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
}

func TestEmptyPlan(t *testing.T) {
	if _, err := Decode(strings.NewReader("")); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Fatalf("error %v", err)
	}
}

func TestHashChangesWithThePlan(t *testing.T) {
	p, err := Load("../deploy/plans/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	h := p.Hash()
	q, _ := Load("../deploy/plans/example.yaml")
	if q.Hash() != h {
		t.Fatal("same plan, different hash")
	}
	q.Traffic.Steps = []int{100}
	if q.Hash() == h {
		t.Fatal("changed plan, same hash")
	}
}

func TestConditions(t *testing.T) {
	for _, tc := range []struct {
		cond string
		v    float64
		want bool
	}{{"> 0.5", 0.6, true}, {"> 0.5", 0.5, false}, {">= 2", 2, true}, {"< 0.01", 0.02, false}, {"<= 5", 5, true}, {"== 1", 1, true}, {"!= 1", 1, false}} {
		c, err := ParseCondition(tc.cond)
		if err != nil {
			t.Fatal(err)
		}
		if c.Holds(tc.v) != tc.want {
			t.Errorf("%s holds for %g: got %v", tc.cond, tc.v, !tc.want)
		}
	}
	if _, err := ParseCondition("about 3"); err == nil {
		t.Fatal("accepted a condition without an operator")
	}
}
