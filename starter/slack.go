package main

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"os"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/stack"

	"github.com/failover/failover/slackbot"
	"github.com/failover/failover/workflows"
)

// serveSlack mounts Slack approvals on the front door when SLACK_* is configured: POST /slack/interactions (with a
// signing secret) and Socket Mode (with an app token). The returned wait blocks until clicks in flight are done.
func serveSlack(ctx context.Context, mux *http.ServeMux, tc *temporalConn, logger *slog.Logger) (wait func(), err error) {
	cfg, err := slackbot.LoadConfig()
	if err != nil || !cfg.Enabled() {
		return func() {}, err
	}
	if err := cfg.Validate(true); err != nil {
		return nil, err
	}
	api := cfg.BotClient()
	approvals := slackbot.NewApprovals(api, lazyWorkflows{tc}, cfg.Allowlist(api), logger)
	if cfg.SigningSecret != "" {
		mux.Handle("POST /slack/interactions", slackbot.NewInteractions(cfg.SigningSecret, approvals, logger))
	}
	if cfg.AppToken != "" {
		go func() {
			if err := slackbot.RunSocketMode(ctx, cfg, approvals, logger); err != nil {
				logger.Error("slack socket mode stopped", "error", err)
			}
		}()
	}
	logger.Info("slack approvals on", "http", cfg.SigningSecret != "", "socket_mode", cfg.AppToken != "")
	return approvals.Wait, nil
}

// lazyWorkflows sends Slack decisions through serve's Temporal connection, which may still be dialing.
type lazyWorkflows struct{ tc *temporalConn }

func (l lazyWorkflows) Status(ctx context.Context, workflowID, runID string) (workflows.Status, error) {
	c, err := l.tc.client()
	if err != nil {
		return workflows.Status{}, err
	}
	return slackbot.Temporal{Client: c}.Status(ctx, workflowID, runID)
}

func (l lazyWorkflows) Decide(ctx context.Context, workflowID, runID, update, updateID string, req workflows.ApprovalRequest) (workflows.DecisionState, error) {
	c, err := l.tc.client()
	if err != nil {
		return workflows.DecisionState{}, err
	}
	return slackbot.Temporal{Client: c}.Decide(ctx, workflowID, runID, update, updateID, req)
}

// slackDemo runs `starter demo --approve=slack` against a real workspace over Socket Mode (the demo has no public
// URL): SLACK_BOT_TOKEN, SLACK_APP_TOKEN, SLACK_CHANNEL (a channel ID) and SLACK_APPROVER_USERS (user IDs) are needed.
type slackDemo struct {
	cfg     slackbot.Config
	channel string
}

func newSlackDemo() (*slackDemo, error) {
	cfg, err := slackbot.LoadConfig()
	if err != nil {
		return nil, err
	}
	var errs []error
	if cfg.BotToken == "" || cfg.AppToken == "" {
		errs = append(errs, errors.New("--approve=slack: set SLACK_BOT_TOKEN and SLACK_APP_TOKEN (Socket Mode; or their _FILE forms)"))
	}
	channel := os.Getenv("SLACK_CHANNEL")
	if channel == "" {
		errs = append(errs, errors.New("--approve=slack: set SLACK_CHANNEL to the channel ID (C…) to post the approval in"))
	}
	if len(cfg.ApproverUsers) == 0 {
		errs = append(errs, errors.New("--approve=slack: set SLACK_APPROVER_USERS to the Slack user IDs (U…) who may approve"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if err := cfg.Validate(true); err != nil {
		return nil, err
	}
	return &slackDemo{cfg: cfg, channel: channel}, nil
}

func (d *slackDemo) publishers(logger *slog.Logger) []activities.Publisher {
	return []activities.Publisher{slackbot.NewPublisher(d.cfg.BotClient(), logger)}
}

// adapt makes the demo plan ask the Slack approvers in the Slack channel.
func (d *slackDemo) adapt(p *plan.Plan) {
	p.Approval.SlackChannel = d.channel
	p.Approval.Approvers = d.cfg.ApproverUsers
	p.Approval.Quorum = 1
}

// listen routes button clicks from Socket Mode to the stack's failover until ctx ends.
func (d *slackDemo) listen(ctx context.Context, s *stack.Stack, logger *slog.Logger) {
	api := d.cfg.BotClient()
	approvals := slackbot.NewApprovals(api, slackbot.Temporal{Client: s.TemporalClient}, d.cfg.Allowlist(api), logger)
	if err := slackbot.RunSocketMode(ctx, d.cfg, approvals, logger); err != nil {
		logger.Error("slack socket mode stopped", "error", err)
	}
	approvals.Wait()
}
