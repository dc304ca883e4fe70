package temporaldev

import (
	"context"
	"errors"
	"time"

	"go.temporal.io/sdk/workflow"
)

// Small workflows the tests drive through the real server.

// greetWorkflow runs one activity.
func greetWorkflow(ctx workflow.Context, name string) (string, error) {
	ctx = workflow.WithActivityOptions(ctx, workflow.ActivityOptions{StartToCloseTimeout: 10 * time.Second})
	var greeting string
	err := workflow.ExecuteActivity(ctx, greet, name).Get(ctx, &greeting)
	return greeting, err
}

func greet(_ context.Context, name string) (string, error) {
	return "hello, " + name, nil
}

// approvalSignal carries the approver's name to approvalWorkflow.
const approvalSignal = "approve"

// approvalWorkflow waits for a human: it blocks on a signal, as the failover waits for approval.
// Its "state" query says "waiting" once it blocks.
func approvalWorkflow(ctx workflow.Context) (string, error) {
	state := "starting"
	if err := workflow.SetQueryHandler(ctx, "state", func() (string, error) { return state, nil }); err != nil {
		return "", err
	}
	state = "waiting"
	var approver string
	workflow.GetSignalChannel(ctx, approvalSignal).Receive(ctx, &approver)
	return "approved by " + approver, nil
}

// weightWorkflow sums positive weights sent as "add" updates until a "done" update, the way the
// failover workflow takes decisions: validated updates, handlers set before anything blocks.
func weightWorkflow(ctx workflow.Context) (int, error) {
	total, done := 0, false
	err := workflow.SetUpdateHandlerWithOptions(ctx, "add",
		func(_ workflow.Context, n int) (int, error) {
			total += n
			return total, nil
		},
		workflow.UpdateHandlerOptions{Validator: func(_ workflow.Context, n int) error {
			if n <= 0 {
				return errors.New("weight must be positive")
			}
			return nil
		}},
	)
	if err != nil {
		return 0, err
	}
	if err := workflow.SetUpdateHandler(ctx, "done", func(workflow.Context) error {
		done = true
		return nil
	}); err != nil {
		return 0, err
	}
	if err := workflow.Await(ctx, func() bool { return done }); err != nil {
		return 0, err
	}
	return total, nil
}
