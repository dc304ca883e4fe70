package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Upgrades use Temporal's Worker Versioning. Every failover worker with a build ID (the image tag) belongs to the
// Worker Deployment DeploymentName, and a failover is pinned to the build that started it: it replays and finishes
// on that build's workers, however many builds are deployed meanwhile, so a deploy during a failover cannot break
// it. New failovers start on the deployment's current build (control.SetCurrentBuild makes a build current). README, "Upgrading the worker", has the procedure.
//
// A fix that must reach failovers already running still goes behind workflow.GetVersion, and those failovers are
// moved to the new build by hand (Temporal's versioning override); recorded histories in testsuite/histories
// replay in CI either way.

// DeploymentName is the Worker Deployment of every failover worker.
const DeploymentName = "failover"

// deploymentOptions turns Worker Versioning on for buildID, pinning every failover to its build.
func deploymentOptions(buildID string) worker.DeploymentOptions {
	if buildID == "" {
		return worker.DeploymentOptions{}
	}
	return worker.DeploymentOptions{
		UseVersioning:             true,
		Version:                   worker.WorkerDeploymentVersion{DeploymentName: DeploymentName, BuildID: buildID},
		DefaultVersioningBehavior: workflow.VersioningBehaviorPinned,
	}
}
