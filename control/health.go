package control

import (
	"context"

	"go.temporal.io/sdk/client"
)

// HealthChecker asks the Temporal frontend whether it serves; client.Client is one.
type HealthChecker interface {
	CheckHealth(ctx context.Context, request *client.CheckHealthRequest) (*client.CheckHealthResponse, error)
}

// Health returns nil when the Temporal frontend answers and serves, else why not.
func Health(ctx context.Context, t HealthChecker) error {
	_, err := t.CheckHealth(ctx, &client.CheckHealthRequest{})
	return err
}
