package slackbot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// RunSocketMode receives clicks over Socket Mode (no public URL needed) until ctx ends, acknowledging every
// envelope at once and handing block_actions to a — the same decisions as HTTP interactivity. The connection is
// authenticated by the app-level token, so there is no signature to check; redelivered envelopes are recognised
// by Approvals as the same click. It returns nil when ctx ends, or the error that ended the connection for good
// (a bad token).
func RunSocketMode(ctx context.Context, cfg Config, a *Approvals, logger *slog.Logger) error {
	if cfg.AppToken == "" {
		return fmt.Errorf("socket mode: %s is not set", EnvAppToken)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	api := slack.New(string(cfg.BotToken), append(cfg.clientOptions(), slack.OptionAppLevelToken(string(cfg.AppToken)))...)
	sm := socketmode.New(api, socketmode.OptionLog(slog.NewLogLogger(logger.Handler(), slog.LevelDebug)))
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	runErr := make(chan error, 1)
	go func() { runErr <- sm.RunContext(ctx) }()
	for {
		select {
		case <-ctx.Done():
			<-runErr
			a.Wait()
			return nil
		case err := <-runErr:
			a.Wait()
			if ctx.Err() != nil || errors.Is(err, context.Canceled) {
				return nil
			}
			return fmt.Errorf("socket mode: %w", err)
		case evt := <-sm.Events:
			routeSocketEvent(evt, sm, a, logger)
		}
	}
}

// acker acknowledges a Socket Mode envelope; *socketmode.Client is one.
type acker interface {
	Ack(req socketmode.Request, payload ...any) error
}

// routeSocketEvent acknowledges envelopes and starts handling clicks; it never blocks on Temporal or Slack's Web API.
func routeSocketEvent(evt socketmode.Event, ack acker, a *Approvals, logger *slog.Logger) {
	switch evt.Type {
	case socketmode.EventTypeInteractive:
		if evt.Request != nil {
			if err := ack.Ack(*evt.Request); err != nil {
				logger.Warn("socket mode: ack failed", "envelope", evt.Request.EnvelopeID, "error", err)
			}
		}
		cb, ok := evt.Data.(slack.InteractionCallback)
		if !ok {
			logger.Warn("socket mode: interactive envelope without a callback")
			return
		}
		a.clickAsync(cb, nil)
	case socketmode.EventTypeEventsAPI, socketmode.EventTypeSlashCommand:
		// Not ours, but unacknowledged envelopes are redelivered: acknowledge and drop them.
		if evt.Request != nil {
			_ = ack.Ack(*evt.Request)
		}
	case socketmode.EventTypeConnectionError, socketmode.EventTypeInvalidAuth, socketmode.EventTypeIncomingError:
		// Only the type: a dial error may quote the connection URL and its ticket.
		logger.Warn("socket mode: connection trouble; retrying", "event", string(evt.Type))
	case socketmode.EventTypeConnected:
		logger.Info("socket mode connected")
	}
}
