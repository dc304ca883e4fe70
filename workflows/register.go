package workflows

import (
	"go.temporal.io/sdk/worker"

	"github.com/failover/failover/activities"
)

// Register adds the failover workflow and its activities (configured with the worker's clients) to a worker.
func Register(w worker.Registry, acts *activities.Activities) {
	w.RegisterWorkflow(Failover)
	w.RegisterActivity(acts)
}
