package plan

import "time"

// SLA is what a failover of this service promises: how long until traffic is verified on the standby (RTO) and how
// much recent data the standby may lack when it takes over (RPO). Every run is judged against it (the result, the
// report, Slack, the audit log and failover_sla_breaches_total); a plan without one is judged against nothing.
type SLA struct {
	// RTO bounds fault → traffic verified on the target; 0 means no RTO objective.
	RTO time.Duration `yaml:"rto" json:"rto,omitempty"`
	// RPO bounds the target's replication lag sampled at the cutover (readiness.lagQuery); 0 means no RPO objective.
	RPO time.Duration `yaml:"rpo" json:"rpo,omitempty"`
}

func (p Plan) validateSLA(v *problems) {
	s := p.SLA
	if s == nil {
		return
	}
	if s.RTO == 0 && s.RPO == 0 {
		v.add("sla", "sets neither rto nor rpo: give e.g. rto: 30s and rpo: 5s, or remove sla")
	}
}
