package slackbot

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadConfigFromEnvAndFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	botFile := write("bot", "xoxb-from-file\n")
	empty := write("empty", "\n")
	tests := []struct {
		name    string
		env     map[string]string
		want    Config
		wantErr string
	}{
		{name: "nothing set: Slack off", env: nil, want: Config{}},
		{name: "env values", env: map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_SIGNING_SECRET": "s3cr3t", "SLACK_APP_TOKEN": "xapp-1",
			"SLACK_API_URL": "http://127.0.0.1:1/api/", "SLACK_APPROVER_USERS": "U1, U2,", "SLACK_APPROVER_GROUPS": "S1"},
			want: Config{BotToken: "xoxb-1", SigningSecret: "s3cr3t", AppToken: "xapp-1", APIURL: "http://127.0.0.1:1/api/",
				ApproverUsers: []string{"U1", "U2"}, ApproverGroups: []string{"S1"}}},
		{name: "file, newline trimmed", env: map[string]string{"SLACK_BOT_TOKEN_FILE": botFile}, want: Config{BotToken: "xoxb-from-file"}},
		{name: "both set", env: map[string]string{"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_BOT_TOKEN_FILE": botFile}, wantErr: "both set"},
		{name: "empty file", env: map[string]string{"SLACK_SIGNING_SECRET_FILE": empty}, wantErr: "is empty"},
		{name: "missing file", env: map[string]string{"SLACK_APP_TOKEN_FILE": filepath.Join(dir, "nope")}, wantErr: "SLACK_APP_TOKEN_FILE"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadConfigFrom(func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprintf("%q", []any{string(got.BotToken), string(got.SigningSecret), string(got.AppToken), got.APIURL, got.ApproverUsers, got.ApproverGroups}) !=
				fmt.Sprintf("%q", []any{string(tt.want.BotToken), string(tt.want.SigningSecret), string(tt.want.AppToken), tt.want.APIURL, tt.want.ApproverUsers, tt.want.ApproverGroups}) {
				t.Fatalf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestSecretsNeverPrint(t *testing.T) {
	c := Config{BotToken: "xoxb-very-secret", SigningSecret: "signing-very-secret", AppToken: "xapp-very-secret", APIURL: "http://x"}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "config", c, "token", c.BotToken)
	js, _ := json.Marshal(c)
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%s", c.BotToken), logged.String(), string(js)} {
		if strings.Contains(out, "very-secret") {
			t.Fatalf("a secret leaked: %s", out)
		}
		if !strings.Contains(out, redacted) {
			t.Fatalf("no redaction marker in %s", out)
		}
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name         string
		c            Config
		servesClicks bool
		wantErr      string
	}{
		{"worker needs only the bot token", Config{BotToken: "xoxb-1"}, false, ""},
		{"no bot token", Config{SigningSecret: "s"}, false, "SLACK_BOT_TOKEN: missing"},
		{"swapped tokens", Config{BotToken: "xapp-1", AppToken: "xoxb-1"}, false, "not a bot token"},
		{"serve without a way to receive clicks", Config{BotToken: "xoxb-1"}, true, "SLACK_SIGNING_SECRET or SLACK_APP_TOKEN"},
		{"serve over HTTP", Config{BotToken: "xoxb-1", SigningSecret: "s"}, true, ""},
		{"serve over Socket Mode", Config{BotToken: "xoxb-1", AppToken: "xapp-1"}, true, ""},
		{"group handle instead of ID", Config{BotToken: "xoxb-1", ApproverGroups: []string{"@oncall"}}, false, "not a user group ID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.c.Validate(tt.servesClicks)
			if tt.wantErr == "" && err != nil || tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("error %v, want %q", err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "xoxb-1") {
				t.Fatalf("the error quotes a token: %v", err)
			}
		})
	}
}
