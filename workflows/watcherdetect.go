package workflows

import (
	"go.temporal.io/sdk/workflow"
)

// watcherQuorumDetect is the workflow.GetVersion change ID of: a failover the region watcher started with its
// quorum's agreement (Trigger.Quorum) confirms the outage with one probe instead of detection.probes.
const watcherQuorumDetect = "watcher-quorum-detect"

// detectProbes is how many probes detect runs. A watcher start already carries the proof detection's probes
// exist for: watch.failures consecutive failed probes over a window a blip does not fill, agreed on by other
// watchers or Prometheus (Trigger.Quorum). Its detection still probes the source once, so a region that came
// back meanwhile is not failed over, but does not re-prove the outage probe by probe.
func (f *failover) detectProbes(ctx workflow.Context) int {
	probes := f.plan.Detection.Probes
	if probes <= 1 || f.req.Trigger.Source != TriggerWatcher || f.req.Trigger.Quorum == "" {
		return probes
	}
	if workflow.GetVersion(ctx, watcherQuorumDetect, workflow.DefaultVersion, 1) == workflow.DefaultVersion {
		return probes
	}
	f.status.Evidence = append(f.status.Evidence, "watcher quorum: "+f.req.Trigger.Quorum)
	return 1
}
