// Package slackbot is failover's Slack integration: a Publisher that keeps one Block Kit message per failover up to
// date (with Approve / Reject buttons while a decision is pending) and threads the progress under it, and the two
// ways Slack delivers button clicks (HTTP interactivity and Socket Mode), both turned into the workflow's approve /
// reject Updates by Approvals.
//
// Tokens and the signing secret come from the environment or files (LoadConfig), never from workflow inputs or
// history, and are never logged.
package slackbot

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/slack-go/slack"
)

// Secret is a credential. It prints, logs and marshals as "[redacted]"; string(s) is the value.
type Secret string

const redacted = "[redacted]"

// String keeps the value out of fmt output (%v, %s, %+v of structs holding it).
func (s Secret) String() string {
	if s == "" {
		return ""
	}
	return redacted
}

// GoString keeps the value out of %#v.
func (s Secret) GoString() string { return fmt.Sprintf("slackbot.Secret(%q)", s.String()) }

// LogValue keeps the value out of slog records.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.String()) }

// MarshalText keeps the value out of JSON and YAML.
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Config is what the Slack integration needs. The worker needs BotToken (to post); `starter serve` needs BotToken
// and SigningSecret for HTTP interactivity and/or AppToken for Socket Mode.
type Config struct {
	// BotToken (xoxb-…) posts and updates messages, answers ephemerally and reads user groups.
	BotToken Secret
	// SigningSecret verifies HTTP interaction requests (POST /slack/interactions).
	SigningSecret Secret
	// AppToken (xapp-…) opens the Socket Mode connection; no public URL needed.
	AppToken Secret
	// APIURL overrides Slack's API base URL (tests point it at slacktest); "" = https://slack.com/api/.
	APIURL string
	// ApproverUsers and ApproverGroups are the Slack-side allow-list of who may press the buttons (user IDs U…,
	// user group IDs S…). Empty = anyone in the channel may press them and the workflow's own check (the plan's
	// approval.approvers) decides alone.
	ApproverUsers  []string
	ApproverGroups []string
}

// Environment variables LoadConfig reads. Each secret may instead be read from the file named by NAME_FILE.
const (
	EnvBotToken       = "SLACK_BOT_TOKEN"
	EnvSigningSecret  = "SLACK_SIGNING_SECRET"
	EnvAppToken       = "SLACK_APP_TOKEN"
	EnvAPIURL         = "SLACK_API_URL"
	EnvApproverUsers  = "SLACK_APPROVER_USERS"  // comma-separated user IDs
	EnvApproverGroups = "SLACK_APPROVER_GROUPS" // comma-separated user group IDs
)

// LoadConfig reads the Slack settings from the process environment (see LoadConfigFrom).
func LoadConfig() (Config, error) { return LoadConfigFrom(os.Getenv) }

// LoadConfigFrom reads the Slack settings through getenv: SLACK_BOT_TOKEN or SLACK_BOT_TOKEN_FILE,
// SLACK_SIGNING_SECRET or SLACK_SIGNING_SECRET_FILE, SLACK_APP_TOKEN or SLACK_APP_TOKEN_FILE, SLACK_API_URL,
// SLACK_APPROVER_USERS and SLACK_APPROVER_GROUPS. Nothing set means Slack is off (Enabled reports false).
func LoadConfigFrom(getenv func(string) string) (Config, error) {
	var c Config
	var errs []error
	for _, s := range []struct {
		name string
		dst  *Secret
	}{{EnvBotToken, &c.BotToken}, {EnvSigningSecret, &c.SigningSecret}, {EnvAppToken, &c.AppToken}} {
		v, err := secretFrom(getenv, s.name)
		errs = append(errs, err)
		*s.dst = v
	}
	c.APIURL = strings.TrimSpace(getenv(EnvAPIURL))
	c.ApproverUsers = splitList(getenv(EnvApproverUsers))
	c.ApproverGroups = splitList(getenv(EnvApproverGroups))
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// secretFrom reads NAME, or the file NAME_FILE points at (trailing newline trimmed); setting both is an error.
func secretFrom(getenv func(string) string, name string) (Secret, error) {
	val, file := getenv(name), getenv(name+"_FILE")
	switch {
	case val != "" && file != "":
		return "", fmt.Errorf("%s and %s_FILE are both set: keep one (the file is safer: it stays out of the process environment)", name, name)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("%s_FILE: %w", name, err) // names the path, never the content
		}
		v := strings.TrimSpace(string(b))
		if v == "" {
			return "", fmt.Errorf("%s_FILE: %s is empty: write the secret into it", name, file)
		}
		return Secret(v), nil
	}
	return Secret(strings.TrimSpace(val)), nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// Enabled reports whether any Slack setting is present.
func (c Config) Enabled() bool { return c.BotToken != "" || c.SigningSecret != "" || c.AppToken != "" }

// Validate checks the settings a process needs: every Slack process needs the bot token; `starter serve` (serving
// clicks) also needs the signing secret (HTTP) or the app token (Socket Mode), or both.
func (c Config) Validate(servesClicks bool) error {
	var errs []error
	switch {
	case c.BotToken == "":
		errs = append(errs, fmt.Errorf("%s: missing: set it (or %s_FILE) to the app's bot token (xoxb-…)", EnvBotToken, EnvBotToken))
	case !strings.HasPrefix(string(c.BotToken), "xoxb-"):
		errs = append(errs, fmt.Errorf("%s: not a bot token (want xoxb-…): copy it from OAuth & Permissions", EnvBotToken))
	}
	if c.AppToken != "" && !strings.HasPrefix(string(c.AppToken), "xapp-") {
		errs = append(errs, fmt.Errorf("%s: not an app-level token (want xapp-…): create one with connections:write under Basic Information", EnvAppToken))
	}
	if servesClicks && c.SigningSecret == "" && c.AppToken == "" {
		errs = append(errs, fmt.Errorf("%s or %s: set the signing secret for HTTP interactivity (POST /slack/interactions) or the app token for Socket Mode",
			EnvSigningSecret, EnvAppToken))
	}
	for _, g := range c.ApproverGroups {
		if !strings.HasPrefix(g, "S") {
			errs = append(errs, fmt.Errorf("%s: %q is not a user group ID (S…): use the ID, not the @handle", EnvApproverGroups, g))
		}
	}
	return errors.Join(errs...)
}

// apiTimeout bounds one Slack API call, so a hanging Slack cannot eat a Publish activity's whole timeout.
const apiTimeout = 5 * time.Second

// BotClient is a Slack Web API client with the bot token.
func (c Config) BotClient() *slack.Client {
	return slack.New(string(c.BotToken), c.clientOptions()...)
}

func (c Config) clientOptions() []slack.Option {
	opts := []slack.Option{slack.OptionHTTPClient(&http.Client{Timeout: apiTimeout})}
	if c.APIURL != "" {
		opts = append(opts, slack.OptionAPIURL(c.APIURL))
	}
	return opts
}

// Allowlist builds the Slack-side allow-list from ApproverUsers and ApproverGroups; nil when both are empty.
func (c Config) Allowlist(api *slack.Client) *Allowlist {
	if len(c.ApproverUsers) == 0 && len(c.ApproverGroups) == 0 {
		return nil
	}
	return NewAllowlist(api, c.ApproverUsers, c.ApproverGroups)
}
