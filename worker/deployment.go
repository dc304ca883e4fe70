package main

import (
	"context"
	"log/slog"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/failover/failover/control"
	"github.com/failover/failover/workflows"
)

// joinDeployment reports where this worker's build stands in the Worker Deployment and, on the first deploy of a
// versioned worker (no build current yet), makes it current so that new failovers have somewhere to run. A later
// build only becomes current when an operator says so (`starter workers promote BUILD`): a restarted worker of an
// older build must never take new failovers back.
func joinDeployment(ctx context.Context, tc client.Client, buildID string, logger *slog.Logger) error {
	if buildID == "" {
		logger.Warn("Worker Versioning is off (no --build-id): a failover running while a new worker build is deployed " +
			"replays on the new code; set FAILOVER_BUILD_ID to the image tag")
		return nil
	}
	current, err := control.CurrentBuild(ctx, tc)
	if err != nil {
		return err
	}
	switch current {
	case buildID:
		logger.Info("this build is current: new failovers start on it", "build", buildID)
	case "":
		ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		if err := control.SetCurrentBuild(ctx, tc, buildID, "worker first deploy"); err != nil {
			return err
		}
		logger.Info("first versioned build: made it current", "build", buildID, "deployment", workflows.DeploymentName)
	default:
		logger.Info("this build is not current: it runs the failovers pinned to it; new failovers start on the current build",
			"build", buildID, "current", current, "promote", "starter workers promote "+buildID)
	}
	return nil
}
