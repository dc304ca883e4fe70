package plan

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// PlanFile is one plan loaded from a plan directory.
type PlanFile struct {
	// File is the plan's file name inside the directory.
	File string
	Plan Plan
	Hash string
}

// LoadDir loads every plan (*.yaml, *.yml) in dir, sorted by file name. It reports every bad plan and every service
// that two files plan, each with its file.
func LoadDir(dir string) ([]PlanFile, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("plans: %w: name the directory of per-service plans", err)
	}
	var files []PlanFile
	var errs []error
	byService := map[string]string{}
	for _, e := range entries {
		name := e.Name()
		if e.IsDir() || !(strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml")) {
			continue
		}
		p, err := Load(filepath.Join(dir, name))
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if other, ok := byService[p.Service]; ok {
			errs = append(errs, fmt.Errorf("plan %s: service %q is also planned by %s: keep one plan per service", name, p.Service, other))
			continue
		}
		byService[p.Service] = name
		files = append(files, PlanFile{File: name, Plan: p, Hash: p.Hash()})
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("plans: %s holds no plan (*.yaml): point --plans at the per-service plans", dir)
	}
	return files, nil
}

// Scheduled is one service's place in an evacuation: its plan as loaded at start (file and hash), the regions
// it moves between and its wave.
type Scheduled struct {
	Service  string `json:"service"`
	File     string `json:"file"`
	PlanHash string `json:"plan_hash"`
	From     string `json:"from"`
	To       string `json:"to"`
	// HoldDown is the plan's failback.holdDown (the default of the evacuation's failback hold-down).
	HoldDown time.Duration `json:"hold_down,omitempty"`
}

// ScheduledWave is one wave of services, in the order the evacuation runs the waves.
type ScheduledWave struct {
	Name        string      `json:"name"`
	Concurrency int         `json:"concurrency"`
	Services    []Scheduled `json:"services"`
}

// Schedule resolves the evacuation against its plans: which services, in which wave (waves in dependency order),
// from and to which region. It reports every problem at once: a service a wave names that no selected plan has,
// a service in two waves or in none, a plan without the evacuated or the target region, no service at all.
func (e Evacuation) Schedule(plans []PlanFile) ([]ScheduledWave, error) {
	var v problems
	selected := map[string]PlanFile{}
	var order []string // services in plan-file order
	for _, pf := range plans {
		if Selects(e.Selector, pf.Plan.Labels) {
			selected[pf.Plan.Service] = pf
			order = append(order, pf.Plan.Service)
		}
	}
	waves := e.Waves
	if len(waves) == 0 {
		waves = []Wave{{Name: "all", Selector: map[string]string{}, Concurrency: e.Concurrency}}
	}
	waveOf := map[string]int{}
	members := make([][]string, len(waves))
	for i, w := range waves {
		f := fmt.Sprintf("waves[%d]", i)
		add := func(service string) {
			if j, ok := waveOf[service]; ok && j != i {
				v.add(f, "service %s is also in wave %s: put each service in exactly one wave", service, waves[j].Name)
				return
			}
			if _, ok := waveOf[service]; !ok {
				waveOf[service] = i
				members[i] = append(members[i], service)
			}
		}
		for j, s := range w.Services {
			if _, ok := selected[s]; !ok {
				v.add(fmt.Sprintf("%s.services[%d]", f, j), "unknown service %q: no selected plan in %s plans it", s, e.Plans)
				continue
			}
			add(s)
		}
		if w.Selector != nil || len(w.Services) == 0 {
			for _, s := range order {
				if Selects(w.Selector, selected[s].Plan.Labels) {
					add(s)
				}
			}
		}
	}
	for _, s := range order {
		if _, ok := waveOf[s]; !ok {
			v.add("waves", "service %s (%s) is in no wave: name it in a wave's services or match it with a selector", s, selected[s].File)
		}
	}
	if len(order) == 0 {
		v.add("selector", "selects none of the %d plans in %s: check the labels", len(plans), e.Plans)
	}
	ordered := make([]ScheduledWave, 0, len(waves))
	waveOrder := Evacuation{Waves: waves}.WaveOrder()
	for _, i := range waveOrder {
		sw := ScheduledWave{Name: waves[i].Name, Concurrency: waves[i].Concurrency}
		for _, s := range members[i] {
			pf := selected[s]
			if sc, ok := e.scheduled(&v, pf); ok {
				sw.Services = append(sw.Services, sc)
			}
		}
		ordered = append(ordered, sw)
	}
	if len(v) > 0 {
		return nil, errors.New("invalid evacuation:\n  " + v.join())
	}
	return ordered, nil
}

// scheduled checks one plan's regions against the evacuation and returns its entry.
func (e Evacuation) scheduled(v *problems, pf PlanFile) (Scheduled, bool) {
	p := pf.Plan
	if _, ok := p.Regions[e.From]; !ok {
		v.add("plans/"+pf.File, "service %s has no region %s (it has %v): remove the plan from the evacuation or add the region",
			p.Service, e.From, p.RegionNames())
		return Scheduled{}, false
	}
	to := e.To
	if to == "" {
		other, err := p.OtherRegion(e.From)
		if err != nil {
			v.add("plans/"+pf.File, "%v (set to: in the evacuation)", err)
			return Scheduled{}, false
		}
		to = other
	} else if _, ok := p.Regions[to]; !ok {
		v.add("plans/"+pf.File, "service %s has no region %s (it has %v): evacuate it to one of those, or add the region",
			p.Service, to, p.RegionNames())
		return Scheduled{}, false
	}
	return Scheduled{Service: p.Service, File: pf.File, PlanHash: pf.Hash, From: e.From, To: to, HoldDown: p.Failback.HoldDown}, true
}

// Resolve loads the evacuation's plan directory and schedules it (LoadDir, then Schedule).
func (e Evacuation) Resolve() ([]ScheduledWave, error) {
	plans, err := LoadDir(e.Plans)
	if err != nil {
		return nil, err
	}
	return e.Schedule(plans)
}
