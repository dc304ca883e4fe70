package plan

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Evacuation moves every selected service out of one region, in waves: data stores first, then services, then the
// edge. It is the YAML an SRE writes once per estate (deploy/evacuation/example.yaml documents every field); each
// service still fails over with its own plan.
type Evacuation struct {
	// From is the region to evacuate; `starter evacuate --region` overrides it.
	From string `yaml:"from" json:"from"`
	// To is the target region of every service; empty means each plan's other region (plans with exactly two).
	To string `yaml:"to" json:"to,omitempty"`
	// Plans is the directory of per-service plans (*.yaml), relative to the evacuation file; `--plans` overrides it.
	// The worker reads the same directory (mount it on both), and refuses a service whose plan changed since start.
	Plans string `yaml:"plans" json:"plans"`
	// Selector, when set, takes only the plans whose labels hold every key: value here.
	Selector map[string]string `yaml:"selector" json:"selector,omitempty"`
	// Waves run in dependency order; a service belongs to exactly one wave. No waves: one wave of every plan.
	Waves []Wave `yaml:"waves" json:"waves,omitempty"`
	// Concurrency is how many failovers of one wave run at once, for waves that do not set their own; default 10.
	Concurrency int `yaml:"concurrency" json:"concurrency"`
	// BlastRadius stops starting new failovers once too many failed; the rest wait for a human.
	BlastRadius BlastRadius `yaml:"blastRadius" json:"blastRadius"`
	// Approval is the one decision for the whole evacuation.
	Approval EvacuationApproval `yaml:"approval" json:"approval"`
	// Force skips each failover's outage confirmation (the region is known down).
	Force bool `yaml:"force" json:"force,omitempty"`
	// Failback is the hold-down of a failback (--failback) as a whole (evacuation_failback.go); a pointer, so
	// evacuations without one hash as before.
	Failback *EvacuationFailback `yaml:"failback" json:"failback,omitempty"`
}

// Wave is one ordered block of an evacuation: its services fail over concurrently, up to Concurrency at once.
type Wave struct {
	Name string `yaml:"name" json:"name"`
	// Services names services explicitly; Selector takes every selected plan whose labels match. Either or both.
	Services []string          `yaml:"services" json:"services,omitempty"`
	Selector map[string]string `yaml:"selector" json:"selector,omitempty"`
	// DependsOn names the waves that must be finished first. Unset: the wave before it in the list; [] for none.
	DependsOn   []string `yaml:"dependsOn" json:"dependsOn"`
	Concurrency int      `yaml:"concurrency" json:"concurrency"`
}

// BlastRadius limits how much breaks at once. A service counts as failed when its failover ends with any outcome
// but succeeded or not-needed, or it was refused (its plan changed, ...). Zero turns a limit off.
type BlastRadius struct {
	// MaxFailed: more than this many failed services in the whole evacuation holds it.
	MaxFailed int `yaml:"maxFailed" json:"maxFailed"`
	// MaxFailedPercent: more than this percentage of one wave's services failed holds it.
	MaxFailedPercent float64 `yaml:"maxFailedPercent" json:"maxFailedPercent"`
}

// Per-service approval policies of an evacuation.
const (
	PerServiceWaive = "waive" // the evacuation's decision approves every service's failover
	PerServiceKeep  = "keep"  // every service's failover still waits for its own plan's approval
)

// EvacuationApproval is the evacuation's approval policy: the same fields as a plan's (mode, people, approvers,
// quorum, timeout, ...), checked by the same signed-decision validator, plus what happens to per-service approvals.
type EvacuationApproval struct {
	Approval `yaml:",inline"`
	// PerService is waive (default) or keep.
	PerService string `yaml:"perService" json:"perService"`
}

// DefaultEvacuationConcurrency is a wave's concurrency when neither the wave nor the evacuation sets one.
const DefaultEvacuationConcurrency = 10

// MaxEvacuationConcurrency caps a wave's concurrency: every running failover is a child workflow of the evacuation.
const MaxEvacuationConcurrency = 500

// LoadEvacuation reads, decodes strictly, defaults and validates an evacuation file. Plans, when relative, becomes
// relative to the file's directory.
func LoadEvacuation(path string) (Evacuation, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return Evacuation{}, fmt.Errorf("read evacuation: %w", err)
	}
	e, err := decodeEvacuation(bytes.NewReader(b), filepath.Dir(path))
	if err != nil {
		return Evacuation{}, fmt.Errorf("evacuation %s: %w", path, err)
	}
	return e, nil
}

// DecodeEvacuation decodes one evacuation strictly, fills defaults and validates it (approval.peopleFile needs
// LoadEvacuation).
func DecodeEvacuation(r io.Reader) (Evacuation, error) {
	return decodeEvacuation(r, "")
}

func decodeEvacuation(r io.Reader, dir string) (Evacuation, error) {
	var e Evacuation
	if err := decodeStrict(r, &e, "evacuation", "deploy/evacuation/example.yaml"); err != nil {
		return Evacuation{}, err
	}
	if err := e.Approval.readPeopleFile(dir); err != nil {
		return Evacuation{}, err
	}
	if e.Plans != "" && dir != "" && !filepath.IsAbs(e.Plans) {
		e.Plans = filepath.Join(dir, e.Plans)
	}
	e.SetDefaults()
	if err := e.Validate(); err != nil {
		return Evacuation{}, err
	}
	return e, nil
}

// SetDefaults fills what an evacuation may leave out.
func (e *Evacuation) SetDefaults() {
	if e.Concurrency == 0 {
		e.Concurrency = DefaultEvacuationConcurrency
	}
	for i := range e.Waves {
		if e.Waves[i].Concurrency == 0 {
			e.Waves[i].Concurrency = e.Concurrency
		}
	}
	a := &e.Approval
	if a.PerService == "" {
		a.PerService = PerServiceWaive
	}
	p := Plan{Approval: a.Approval}
	p.SetDefaults()
	a.Approval = p.Approval
}

// Validate checks a defaulted evacuation and returns every problem at once, each naming the field and the fix. It
// cannot see the plans: Schedule checks the services against them.
func (e Evacuation) Validate() error {
	var v problems
	if strings.TrimSpace(e.From) == "" {
		v.add("from", "missing: name the region to evacuate (or pass --region)")
	}
	if e.To != "" && e.To == e.From {
		v.add("to", "%q is the region being evacuated: name another region, or leave it empty for each plan's other region", e.To)
	}
	if e.Plans == "" {
		v.add("plans", "missing: name the directory of per-service plans (or pass --plans)")
	}
	checkSelector(&v, "selector", e.Selector)
	checkConcurrency(&v, "concurrency", e.Concurrency)
	if e.BlastRadius.MaxFailed < 0 {
		v.add("blastRadius.maxFailed", "is %d: use 0 (no limit) or more", e.BlastRadius.MaxFailed)
	}
	if pct := e.BlastRadius.MaxFailedPercent; pct < 0 || pct > 100 {
		v.add("blastRadius.maxFailedPercent", "is %g: use a percentage from 0 (no limit) to 100", pct)
	}
	e.validateWaves(&v)
	e.validateFailback(&v)
	a := e.Approval
	Plan{Approval: a.Approval}.validateApproval(&v)
	if a.OnTimeout == OnTimeoutEscalate {
		v.add("approval.onTimeout", "escalate is not supported for evacuations: use abort (nothing starts) or approve")
	}
	if a.PerService != PerServiceWaive && a.PerService != PerServiceKeep {
		v.add("approval.perService", "%q: use %s (the evacuation's decision approves every service) or %s (each "+
			"service waits for its own plan's approvers)", a.PerService, PerServiceWaive, PerServiceKeep)
	}
	if len(v) == 0 {
		return nil
	}
	return errors.New("invalid evacuation:\n  " + v.join())
}

func (e Evacuation) validateWaves(v *problems) {
	index := map[string]int{}
	for i, w := range e.Waves {
		f := fmt.Sprintf("waves[%d]", i)
		if msg := checkName(w.Name); msg != "" {
			v.add(f+".name", "%s", msg)
		} else if j, ok := index[w.Name]; ok {
			v.add(f+".name", "%q is also waves[%d].name: name each wave once", w.Name, j)
		} else {
			index[w.Name] = i
		}
		if len(w.Services) == 0 && len(w.Selector) == 0 {
			v.add(f, "selects nothing: give services, a selector, or both")
		}
		v.names(f+".services", w.Services)
		checkSelector(v, f+".selector", w.Selector)
		checkConcurrency(v, f+".concurrency", w.Concurrency)
	}
	for i, w := range e.Waves {
		for j, d := range w.DependsOn {
			if _, ok := index[d]; !ok {
				v.add(fmt.Sprintf("waves[%d].dependsOn[%d]", i, j), "%q is no wave: name one of %v", d, e.waveNames())
			}
		}
	}
	if cycle := e.dependencyCycle(); len(cycle) > 0 {
		v.add("waves", "dependsOn has a cycle %s: remove one of its dependencies", strings.Join(cycle, " → "))
	}
}

func (e Evacuation) waveNames() []string {
	names := make([]string, len(e.Waves))
	for i, w := range e.Waves {
		names[i] = w.Name
	}
	return names
}

// dependsOn is wave i's dependencies as indexes: its dependsOn, or the wave before it when dependsOn is unset.
func (e Evacuation) dependsOn(i int) []int {
	w := e.Waves[i]
	if w.DependsOn == nil {
		if i == 0 {
			return nil
		}
		return []int{i - 1}
	}
	var deps []int
	for _, d := range w.DependsOn {
		if j := slices.IndexFunc(e.Waves, func(o Wave) bool { return o.Name == d }); j >= 0 {
			deps = append(deps, j)
		}
	}
	return deps
}

// dependencyCycle returns the names along one dependency cycle (first name repeated at the end), or nil.
func (e Evacuation) dependencyCycle() []string {
	const (
		unseen = iota
		onPath
		done
	)
	state := make([]int, len(e.Waves))
	var path []int
	var visit func(i int) []string
	visit = func(i int) []string {
		state[i] = onPath
		path = append(path, i)
		for _, d := range e.dependsOn(i) {
			switch state[d] {
			case onPath:
				start := slices.Index(path, d)
				var names []string
				for _, k := range path[start:] {
					names = append(names, e.Waves[k].Name)
				}
				return append(names, e.Waves[d].Name)
			case unseen:
				if c := visit(d); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[i] = done
		return nil
	}
	for i := range e.Waves {
		if state[i] == unseen {
			if c := visit(i); c != nil {
				return c
			}
		}
	}
	return nil
}

// WaveOrder is the waves' indexes in an order that runs every wave after its dependencies (list order among
// waves that are ready together). Call it on a valid evacuation (no cycle).
func (e Evacuation) WaveOrder() []int {
	finished := make([]bool, len(e.Waves))
	var order []int
	for len(order) < len(e.Waves) {
		progressed := false
		for i := range e.Waves {
			if finished[i] {
				continue
			}
			ready := true
			for _, d := range e.dependsOn(i) {
				ready = ready && finished[d]
			}
			if ready {
				finished[i], progressed = true, true
				order = append(order, i)
			}
		}
		if !progressed {
			return order // a cycle: Validate reports it
		}
	}
	return order
}

// Hash identifies this exact evacuation (with its schedule): its approvals must name it.
func (e Evacuation) Hash() string {
	b, err := json.Marshal(e)
	if err != nil {
		panic(fmt.Sprintf("evacuation hash: %v", err)) // plain data: cannot fail
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])[:16]
}

// Selects reports whether labels hold every key: value of selector (an empty selector selects everything).
func Selects(selector, labels map[string]string) bool {
	for k, want := range selector {
		if got, ok := labels[k]; !ok || got != want {
			return false
		}
	}
	return true
}

func checkSelector(v *problems, field string, sel map[string]string) {
	for _, k := range slices.Sorted(maps.Keys(sel)) {
		if strings.TrimSpace(k) == "" || strings.TrimSpace(sel[k]) == "" {
			v.add(field, "%q: %q: give a label name and value, e.g. tier: data", k, sel[k])
		}
	}
}

func checkConcurrency(v *problems, field string, n int) {
	if n < 1 || n > MaxEvacuationConcurrency {
		v.add(field, "is %d: run from 1 to %d failovers at once (each is a child workflow of the evacuation)", n, MaxEvacuationConcurrency)
	}
}

// DefaultEvacuation is the evacuation `starter evacuate` runs without an evacuation file: every plan in plans, in
// one wave, no blast-radius limit, and no decision of its own: every service keeps its own plan's approval
// (perService keep), so nothing is approved that a plan would not approve by itself. requester may abort, pause
// and resume it.
func DefaultEvacuation(from, to, plans, requester string) Evacuation {
	e := Evacuation{From: from, To: to, Plans: plans,
		Approval: EvacuationApproval{Approval: Approval{Mode: ApprovalAuto, Approvers: []string{requester}}, PerService: PerServiceKeep}}
	e.SetDefaults()
	return e
}
