package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"

	"golang.org/x/crypto/ssh"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/slackbot"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// slackDemo runs `devstack demo --approve=slack` against a real workspace over Socket Mode (the demo has no public
// URL): SLACK_BOT_TOKEN, SLACK_APP_TOKEN, SLACK_CHANNEL (a channel ID) and SLACK_APPROVER_USERS (user IDs) are needed.
type slackDemo struct {
	cfg     slackbot.Config
	channel string
	// frontDoor signs the clicks, as starter serve's --front-door-key does; the stack's worker trusts it.
	frontDoor ssh.Signer
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
	_, key, err := ed25519.GenerateKey(rand.Reader) // a key for this demo run only
	if err != nil {
		return nil, fmt.Errorf("front-door key: %w", err)
	}
	frontDoor, err := ssh.NewSignerFromKey(key)
	if err != nil {
		return nil, fmt.Errorf("front-door key: %w", err)
	}
	if err := cfg.Validate(true); err != nil {
		return nil, err
	}
	return &slackDemo{cfg: cfg, channel: channel, frontDoor: frontDoor}, nil
}

// trust is what the stack's worker trusts: this demo's front-door key.
func (d *slackDemo) trust() workflows.Trust {
	return workflows.Trust{FrontDoorKeys: []ssh.PublicKey{d.frontDoor.PublicKey()}}
}

func (d *slackDemo) publishers(logger *slog.Logger) []activities.Publisher {
	return []activities.Publisher{slackbot.NewPublisher(d.cfg.BotClient(), logger)}
}

// adapt makes the demo plan ask the Slack approvers in the Slack channel. Clicks name the clicking user by their
// Slack ID, so each approver becomes a person named after their ID.
func (d *slackDemo) adapt(p *plan.Plan) {
	p.Approval.SlackChannel = d.channel
	p.Approval.Approvers = d.cfg.ApproverUsers
	p.Approval.People = nil
	for _, id := range d.cfg.ApproverUsers {
		p.Approval.People = append(p.Approval.People, plan.Person{Name: id, Slack: []string{id}})
	}
	p.Approval.Quorum = 1
}

// listen routes button clicks from Socket Mode to the stack's failover until ctx ends.
func (d *slackDemo) listen(ctx context.Context, s *stack.Stack, logger *slog.Logger) {
	api := d.cfg.BotClient()
	approvals := slackbot.NewApprovals(api, slackbot.Temporal{Client: s.TemporalClient}, d.cfg.Allowlist(api), logger)
	approvals.FrontDoor = d.frontDoor
	if err := slackbot.RunSocketMode(ctx, d.cfg, approvals, logger); err != nil {
		logger.Error("slack socket mode stopped", "error", err)
	}
	approvals.Wait()
}
