package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestShippedEvacuationSchedules(t *testing.T) {
	e, err := LoadEvacuation("../deploy/evacuation/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	plans, err := LoadDir(e.Plans)
	if err != nil {
		t.Fatal(err)
	}
	waves, err := e.Schedule(plans)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range waves {
		var names []string
		for _, s := range w.Services {
			names = append(names, s.Service+"→"+s.To)
		}
		got = append(got, w.Name+":"+strings.Join(names, ","))
	}
	if want := "data:orders-db→eu-west services:payments→eu-west edge:edge-api→eu-west"; strings.Join(got, " ") != want {
		t.Fatalf("waves %v, want %s", got, want)
	}
	if waves[0].Concurrency != 5 || waves[1].Concurrency != 10 {
		t.Fatalf("concurrency %d %d, want 5 (the wave's) and 10 (the evacuation's)", waves[0].Concurrency, waves[1].Concurrency)
	}
}

// writePlans writes one minimal plan per service (name:tier) into a new directory, from the shipped example.
func writePlans(t *testing.T, services ...string) string {
	t.Helper()
	base, err := os.ReadFile("../deploy/evacuation/plans/payments.yaml")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for i, s := range services {
		name, tier, _ := strings.Cut(s, ":")
		y := strings.ReplaceAll(string(base), "payments", name)
		y = strings.Replace(y, "tier: service", "tier: "+tier, 1)
		if err := os.WriteFile(filepath.Join(dir, strings.Repeat("p", i+1)+".yaml"), []byte(y), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestEvacuationNamesEveryProblem(t *testing.T) {
	for _, tc := range []struct {
		name, yaml string
		services   []string
		want       []string // each must appear in the error
	}{
		{"unknown field", "from: us-east\nplans: x\nwaevs: []\n", nil, []string{"field waevs not found"}},
		{"cycle", `from: us-east
plans: x
waves:
  - {name: a, selector: {tier: data}, dependsOn: [c]}
  - {name: b, selector: {tier: service}}
  - {name: c, selector: {tier: edge}}
`, nil, []string{"waves: dependsOn has a cycle a → c → b → a"}},
		{"bad fields", `from: us-east
to: us-east
plans: x
concurrency: -1
blastRadius: {maxFailed: -1, maxFailedPercent: 150}
waves:
  - {name: a}
  - {name: a, services: [x], dependsOn: [nope]}
approval: {perService: maybe, onTimeout: escalate, escalateTo: x, approvers: [alice]}
`, nil, []string{"to: \"us-east\" is the region being evacuated", "concurrency: is -1", "blastRadius.maxFailed: is -1",
			"blastRadius.maxFailedPercent: is 150", "waves[0]: selects nothing", "waves[1].name: \"a\" is also waves[0].name",
			"waves[1].dependsOn[0]: \"nope\" is no wave", "approval.perService: \"maybe\"", "approval.onTimeout: escalate is not supported"}},
		{"missing region", "from: ap-south\nplans: x\n", []string{"a:data"}, []string{"service a has no region ap-south"}},
		{"unknown service", `from: us-east
plans: x
waves:
  - {name: w, services: [a, ghost]}
`, []string{"a:data"}, []string{"waves[0].services[1]: unknown service \"ghost\""}},
		{"two waves and none", `from: us-east
plans: x
waves:
  - {name: one, services: [a]}
  - {name: two, selector: {tier: data}}
`, []string{"a:data", "b:edge"}, []string{"service a is also in wave one", "service b (pp.yaml) is in no wave"}},
		{"missing target", "from: us-east\nto: mars\nplans: x\n", []string{"a:data"}, []string{"service a has no region mars"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			y := tc.yaml
			if !strings.Contains(y, "approval:") {
				y += "approval: {approvers: [alice]}\n"
			}
			e, err := DecodeEvacuation(strings.NewReader(y))
			if err == nil && tc.services != nil {
				e.Plans = writePlans(t, tc.services...)
				plans, lerr := LoadDir(e.Plans)
				if lerr != nil {
					t.Fatal(lerr)
				}
				_, err = e.Schedule(plans)
			}
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestLoadDirRefusesTwoPlansForOneService(t *testing.T) {
	dir := writePlans(t, "a:data", "a:edge")
	_, err := LoadDir(dir)
	if err == nil || !strings.Contains(err.Error(), `plan pp.yaml: service "a" is also planned by p.yaml`) {
		t.Fatalf("err %v, want the second file named", err)
	}
}

func TestWaveOrderFollowsDependsOn(t *testing.T) {
	e := Evacuation{Waves: []Wave{{Name: "edge", DependsOn: []string{"svc"}}, {Name: "svc", DependsOn: []string{"data"}}, {Name: "data", DependsOn: []string{}}}}
	if got := e.WaveOrder(); len(got) != 3 || got[0] != 2 || got[1] != 1 || got[2] != 0 {
		t.Fatalf("order %v, want [2 1 0]", got)
	}
}
