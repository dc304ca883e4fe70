package plan

// Drill is how the service's drills may run (`starter drill`, workflows/drill.go). Without a `drill:` section a
// drill runs as every failover and failback does.
type Drill struct {
	// Failback is who approves a drill's failback: "person" (the default, as for every failback) or "auto": the
	// plan approves the failback of a drill, so a scheduled game day fails over and back with nobody there. It
	// applies only to the failback a Drill workflow starts as its own child (the failback checks its parent);
	// every other failback, and every real failover, keeps the plan's approvals. The failback still waits out
	// failback.holdDown and its readiness checks.
	Failback string `yaml:"failback" json:"failback,omitempty"`
}

// Drill.Failback values.
const (
	DrillFailbackPerson = "person"
	DrillFailbackAuto   = "auto"
)

// AutoFailback reports whether the plan approves its drills' failbacks (drill.failback auto).
func (p Plan) AutoFailback() bool { return p.Drill != nil && p.Drill.Failback == DrillFailbackAuto }

func (p Plan) validateDrill(v *problems) {
	if p.Drill == nil {
		return
	}
	switch p.Drill.Failback {
	case "", DrillFailbackPerson, DrillFailbackAuto:
	default:
		v.add("drill.failback", "%q: use person (a person approves a drill's failback) or auto (the plan does, for drills only)",
			p.Drill.Failback)
	}
}

// lintDrill notes a plan that approves its drills' failbacks: who reviews the plan should see it.
func (p Plan) lintDrill(l *lints) {
	if !p.AutoFailback() {
		return
	}
	l.add(SevNote, "drill.failback", "auto: a drill's failback is approved by this plan, with nobody asked (recorded as "+
		"\"auto-approved: drill failback policy\"); it still waits out failback.holdDown %s and readiness. Real failovers "+
		"and failbacks keep approval.mode %s", p.Failback.HoldDown, p.Approval.Mode)
}
