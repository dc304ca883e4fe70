package workflows

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// Upgrades use Temporal's Worker Versioning. Every failover worker with a build ID (the image tag) belongs to the
// Worker Deployment DeploymentName, and a failover is pinned to the build that started it: it replays and finishes
// on that build's workers, however many builds are deployed meanwhile, so a deploy during a failover cannot break
// it. New failovers start on the deployment's current build. README, "Upgrading the worker", has the procedure.
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

// CurrentBuild is the build new failovers start on; "" when none is current (no versioned worker was ever made
// current, or unversioned workers are).
func CurrentBuild(ctx context.Context, c client.Client) (string, error) {
	d, err := c.WorkerDeploymentClient().GetHandle(DeploymentName).Describe(ctx, client.WorkerDeploymentDescribeOptions{})
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return "", nil // no versioned worker has polled yet
	}
	if err != nil {
		return "", fmt.Errorf("describe worker deployment %s: %w", DeploymentName, err)
	}
	if cur := d.Info.RoutingConfig.CurrentVersion; cur != nil {
		return cur.BuildID, nil
	}
	return "", nil
}

// SetCurrentBuild makes buildID the build new failovers start on; running failovers stay on theirs. Temporal knows
// a build only once its workers have polled every task queue the current build polls (workflow and activity tasks
// of the queue failover), so it retries until then or until ctx ends.
func SetCurrentBuild(ctx context.Context, c client.Client, buildID, identity string) error {
	h := c.WorkerDeploymentClient().GetHandle(DeploymentName)
	for {
		_, err := h.SetCurrentVersion(ctx, client.WorkerDeploymentSetCurrentVersionOptions{BuildID: buildID, Identity: identity})
		if err == nil {
			return nil
		}
		var notFound *serviceerror.NotFound
		var notYet *serviceerror.FailedPrecondition // its workers have not polled all the current build's queues yet
		if !errors.As(err, &notFound) && !errors.As(err, &notYet) {
			return fmt.Errorf("make build %s of worker deployment %s current: %w", buildID, DeploymentName, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("make build %s of worker deployment %s current: its workers have not polled Temporal yet "+
				"(start them first): %w", buildID, DeploymentName, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
