package main

import (
	"context"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/failover/failover/codec"
)

// TestCodecServerCommand runs `starter codec-server` as a person would, then decodes through it as the Web UI does.
func TestCodecServerCommand(t *testing.T) {
	dir := t.TempDir()
	keyFile, tokenFile := filepath.Join(dir, "keys"), filepath.Join(dir, "token")
	drillWriteFile(t, keyFile, "new:"+drillKey(t)+"\nold:"+drillKey(t)+"\n")
	drillWriteFile(t, tokenFile, "ui-token\n")
	keys, err := codec.Load(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := converter.GetDefaultDataConverter().ToPayload("payments")
	enc, _ := keys.Encode([]*commonpb.Payload{plain})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out := &drillBuffer{}
	root := newRoot()
	root.SetArgs([]string{"codec-server", "--listen", "127.0.0.1:0", "--codec-key-file", keyFile, "--auth-token-file", tokenFile,
		"--cors-origin", "http://127.0.0.1:8233"})
	root.SetOut(out)
	done := make(chan error, 1)
	go func() { done <- root.ExecuteContext(ctx) }()

	var url string
	drillWithin(t, 10*time.Second, "codec server prints its URL", func() bool {
		url = regexp.MustCompile(`http://127\.0\.0\.1:\d+`).FindString(out.String())
		return url != ""
	})
	if !strings.Contains(out.String(), "keys new, old, active new") {
		t.Errorf("banner: %s", out.String())
	}
	resp, body := drillDecode(t, url, &commonpb.Payloads{Payloads: enc}, "Bearer ui-token", "http://127.0.0.1:8233")
	var dec commonpb.Payloads
	if resp.StatusCode != http.StatusOK || protojson.Unmarshal(body, &dec) != nil {
		t.Fatalf("decode: HTTP %d %s", resp.StatusCode, body)
	}
	var s string
	if err := converter.GetDefaultDataConverter().FromPayload(dec.Payloads[0], &s); err != nil || s != "payments" {
		t.Fatalf("decoded %q %v", s, err)
	}
	if resp, _ := drillDecode(t, url, &commonpb.Payloads{Payloads: enc}, "Bearer ui-token", "http://elsewhere:8233"); resp.StatusCode != http.StatusForbidden {
		t.Errorf("other origin: HTTP %d, want 403", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("codec-server returned %v after Ctrl-C", err)
	}
}

func TestObserveCommandsNameBadInput(t *testing.T) {
	t.Setenv(codec.KeysEnv, "")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"report", "failover-payments", "--format", "pdf"}, "--format"},
		{[]string{"report"}, "accepts 1 arg"},
		{[]string{"watch", "failover-payments", "--interval", "1ms"}, "--interval"},
		{[]string{"codec-server"}, "--codec-key-file"},
		{[]string{"codec-server", "--codec-key-file", "/nonexistent/keys"}, "codec key file"},
		{[]string{"report", "failover-payments", "--codec-key-file", "/nonexistent/keys"}, "--codec-key-file"},
	} {
		root := newRoot()
		root.SetArgs(tc.args)
		root.SetOut(&strings.Builder{})
		root.SetErr(&strings.Builder{})
		if err := root.Execute(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want it to mention %q", tc.args, err, tc.want)
		}
	}
}
