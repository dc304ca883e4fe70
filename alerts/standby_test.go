package alerts

import (
	"strings"
	"testing"

	"github.com/failover/failover/plan"
)

// threeRegions is the demo plan with a third region, ap-south.
func threeRegions(t *testing.T) plan.Plan {
	p := demoPlan(t)
	p.Regions = map[string]plan.Region{"ap-south": p.Regions["us-east"], "us-east": p.Regions["us-east"], "eu-west": p.Regions["eu-west"]}
	return p
}

// The region watcher's standby for a down region is the routes' target: "other" on two-region plans, a named
// region, or the route whose region match names the down region; none when no route applies; an error when the
// routes disagree.
func TestStandbyIsTheRoutesTarget(t *testing.T) {
	two, three := demoPlan(t), threeRegions(t)
	ledger := three
	ledger.Service = "ledger"
	match := func(kv ...string) map[string]string {
		m := map[string]string{"alertname": "RegionDown"}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	for _, tc := range []struct {
		name   string
		routes []Route
		p      plan.Plan
		down   string
		want   string // "" for none
		err    string
	}{
		{"other", []Route{{Match: match(), Plan: two, To: ToOther}}, two, "us-east", "eu-west", ""},
		{"other, the other way", []Route{{Match: match(), Plan: two, To: ToOther}}, two, "eu-west", "us-east", ""},
		{"a named standby", []Route{{Match: match(), Plan: three, To: "eu-west"}}, three, "ap-south", "eu-west", ""},
		{"the standby itself down", []Route{{Match: match(), Plan: three, To: "eu-west"}}, three, "eu-west", "", ""},
		{"per-region routes", []Route{
			{Match: match("region", "us-east"), Plan: three, To: "eu-west"},
			{Match: match("region", "eu-west"), Plan: three, To: "us-east"},
		}, three, "eu-west", "us-east", ""},
		{"no route for the region", []Route{
			{Match: match("region", "us-east"), Plan: three, To: "eu-west"},
		}, three, "ap-south", "", ""},
		{"another service's routes", []Route{{Match: match("service", "ledger"), Plan: ledger, To: "us-east"}}, three, "eu-west", "", ""},
		{"routes disagree", []Route{
			{Match: match("severity", "page"), Plan: three, To: "eu-west"},
			{Match: match("severity", "ticket"), Plan: three, To: "us-east"},
		}, three, "ap-south", "", "routes [0 1] send a failover away from ap-south to different regions [eu-west us-east]: add match: {region: ap-south}"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewRouter(tc.routes...)
			if err != nil {
				t.Fatal(err)
			}
			to, ok, err := r.Standby(tc.p, tc.down)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil || to != tc.want || ok != (tc.want != "") {
				t.Fatalf("Standby(%s) = %q %t %v, want %q", tc.down, to, ok, err, tc.want)
			}
		})
	}
}
