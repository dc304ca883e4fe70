package codec

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// An oversized body is the request's fault but not a malformed one: 413 saying the limit, not the SDK handler's
// 400 "http: request body too large". A valid request after it still decodes.
func TestServerOversizedBodyIs413(t *testing.T) {
	srv := httptest.NewServer(NewServer(mustNew(t, key("k1", 1)), ServerOptions{}))
	defer srv.Close()
	big := `{"payloads":[{"data":"` + strings.Repeat("A", maxBody) + `"}]}`
	resp, err := http.Post(srv.URL+"/decode", "application/json", bytes.NewReader([]byte(big)))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(msg), "fewer payloads") {
		t.Fatalf("oversized body: HTTP %d %s, want 413 naming the fix", resp.StatusCode, msg)
	}
	if resp := post(t, srv.URL+"/decode", `{"payloads":[]}`, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("a small request after the big one: HTTP %d", resp.StatusCode)
	}
}
