package main

import (
	"context"
	"log/slog"
	"net/http"

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
