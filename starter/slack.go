package main

import (
	"context"
	"log/slog"
	"net/http"

	"go.temporal.io/sdk/client"
	"golang.org/x/crypto/ssh"

	"github.com/failover/failover/slackbot"
)

// serveSlack mounts Slack approvals on the front door when SLACK_* is configured: POST /slack/interactions (with a
// signing secret) and Socket Mode (with an app token). The returned wait blocks until clicks in flight are done.
// frontDoor (may be nil) signs clicks on plans with approval.people.
func serveSlack(ctx context.Context, mux *http.ServeMux, tc client.Client, frontDoor ssh.Signer, logger *slog.Logger) (wait func(), err error) {
	cfg, err := slackbot.LoadConfig()
	if err != nil || !cfg.Enabled() {
		return func() {}, err
	}
	if err := cfg.Validate(true); err != nil {
		return nil, err
	}
	api := cfg.BotClient()
	approvals := slackbot.NewApprovals(api, slackbot.Temporal{Client: tc}, cfg.Allowlist(api), logger)
	approvals.FrontDoor = frontDoor
	if frontDoor == nil {
		logger.Warn("slack: no --front-door-key (env FRONT_DOOR_KEY_FILE): clicks on plans with approval.people are refused")
	}
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
	logger.Info("slack approvals on", "http", cfg.SigningSecret != "", "socket_mode", cfg.AppToken != "", "front_door_key", frontDoor != nil)
	return approvals.Wait, nil
}
