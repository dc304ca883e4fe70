package activities

import "context"

// Notice is something people should hear about: an escalation, a step finished, the final outcome.
type Notice struct {
	Service    string
	WorkflowID string
	Kind       string // escalation, step, outcome
	To         string // who is addressed, e.g. the escalation group
	Text       string
}

// Notifier delivers notices (Slack, a pager); the worker plugs one in.
type Notifier interface {
	Notify(ctx context.Context, n Notice) error
}

// Notify logs a notice and hands it to the worker's Notifier, if any.
func (a *Activities) Notify(ctx context.Context, n Notice) error {
	a.logger().Info("notice", "service", n.Service, "workflow", n.WorkflowID, "kind", n.Kind, "to", n.To, "text", n.Text)
	if a.Notifier == nil {
		return nil
	}
	return a.Notifier.Notify(ctx, n)
}
