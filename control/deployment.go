package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/failover/failover/workflows"
)

// Worker builds: failovers are pinned to the worker build that started them (workflows/deployment.go); these make a
// build current and say which one is.

// CurrentBuild is the build new failovers start on; "" when none is current (no versioned worker was ever made
// current, or unversioned workers are).
func CurrentBuild(ctx context.Context, c client.Client) (string, error) {
	d, err := c.WorkerDeploymentClient().GetHandle(workflows.DeploymentName).Describe(ctx, client.WorkerDeploymentDescribeOptions{})
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) {
		return "", nil // no versioned worker has polled yet
	}
	if err != nil {
		return "", fmt.Errorf("describe worker deployment %s: %w", workflows.DeploymentName, err)
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
	h := c.WorkerDeploymentClient().GetHandle(workflows.DeploymentName)
	for {
		_, err := h.SetCurrentVersion(ctx, client.WorkerDeploymentSetCurrentVersionOptions{BuildID: buildID, Identity: identity})
		if err == nil {
			return nil
		}
		var notFound *serviceerror.NotFound
		var notYet *serviceerror.FailedPrecondition // its workers have not polled all the current build's queues yet
		if !errors.As(err, &notFound) && !errors.As(err, &notYet) {
			return fmt.Errorf("make build %s of worker deployment %s current: %w", buildID, workflows.DeploymentName, err)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("make build %s of worker deployment %s current: its workers have not polled Temporal yet "+
				"(start them first): %w", buildID, workflows.DeploymentName, err)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
