package workflows

import (
	"go.temporal.io/sdk/worker"

	"github.com/failover/failover/activities"
)

// Register adds the failover and evacuation workflows and their activities (configured with the worker's clients) to a worker, and
// installs trust for the approve and reject validators (see Trust).
func Register(w worker.Registry, acts *activities.Activities, trust Trust) {
	setTrust(trust)
	w.RegisterWorkflow(Failover)
	w.RegisterWorkflow(Drill)
	w.RegisterWorkflow(Evacuation)
	w.RegisterActivity(acts)
}
