package plan

import (
	"strings"
	"testing"
	"time"
)

func TestEvacuationFailbackNamesEveryProblem(t *testing.T) {
	base := "from: us-east\nplans: /plans\napproval: {approvers: [alice]}\n"
	for _, tc := range []struct{ yaml, want string }{
		{"failback: {holdDown: -1m}", "failback.holdDown: is -1m0s: use a positive duration"},
		{"failback: {probeInterval: 100ms}", "failback.probeInterval: is 100ms: a round probes every service, use at least 500ms"},
		{"failback: {holdDown: 10s, probeInterval: 30s}", "failback.probeInterval: 30s is longer than failback.holdDown 10s"},
		{"failback: {healthyPercent: 120}", "failback.healthyPercent: is 120: use a percentage above 0 up to 100"},
		{"failback: {holdDown: 10m, minSinceEvacuation: 30m, timeout: 20m}", "failback.timeout: 20m0s leaves no room"},
		{"failback: {holddown: 10m}", "field holddown not found"},
	} {
		_, err := DecodeEvacuation(strings.NewReader(base + tc.yaml + "\n"))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", tc.yaml, err, tc.want)
		}
	}
	e, err := DecodeEvacuation(strings.NewReader(base))
	if err != nil {
		t.Fatal(err)
	}
	with, err := DecodeEvacuation(strings.NewReader(base + "failback: {holdDown: 10m}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if e.Failback != nil || e.Hash() == with.Hash() {
		t.Fatal("an evacuation without failback: must hash as before, and one with it differently")
	}
}

func TestFailbackRuleDefaultsFromThePlans(t *testing.T) {
	waves := []ScheduledWave{{Services: []Scheduled{{Service: "a", HoldDown: 3 * time.Minute}, {Service: "b", HoldDown: 7 * time.Minute}}}}
	r := Evacuation{}.FailbackRule(waves)
	want := EvacuationFailback{HoldDown: 7 * time.Minute, ProbeInterval: 10 * time.Second, HealthyPercent: 100, Timeout: 24 * time.Hour}
	if r != want {
		t.Fatalf("rule %+v, want %+v (the longest plan hold-down)", r, want)
	}
	r = Evacuation{Failback: &EvacuationFailback{HoldDown: 3 * time.Second, MinSinceEvacuation: 13 * time.Hour}}.FailbackRule(waves)
	if r.HoldDown != 3*time.Second || r.ProbeInterval != time.Second || r.Timeout != 26*time.Hour+6*time.Second {
		t.Fatalf("rule %+v, want the evacuation's hold-down, a third of it between rounds, room for both waits", r)
	}
	if got := r.String(); !strings.Contains(got, "healthy for 3s without a failed round (a round every 1s") ||
		!strings.Contains(got, "at least 13h0m0s after the evacuation out of the region ended") {
		t.Fatalf("rule reads %q", got)
	}
}
