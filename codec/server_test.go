package codec

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/converter"
	"google.golang.org/protobuf/encoding/protojson"
)

const uiOrigin = "http://127.0.0.1:8233"

func post(t *testing.T, url string, body string, headers map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestServerDecodesForTheUI(t *testing.T) {
	c := mustNew(t, key("k1", 1))
	srv := httptest.NewServer(NewServer(c, ServerOptions{AllowedOrigins: []string{uiOrigin}, Token: "s3cret"}))
	defer srv.Close()
	enc, _ := c.Encode([]*commonpb.Payload{plainPayload(t, "payments")})
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: enc})
	auth := map[string]string{"Authorization": "Bearer s3cret", "Origin": uiOrigin, "X-Namespace": "default"}

	resp := post(t, srv.URL+"/decode", string(body), auth)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("decode: HTTP %d %s", resp.StatusCode, b)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != uiOrigin {
		t.Fatalf("Access-Control-Allow-Origin %q", got)
	}
	var out commonpb.Payloads
	raw, _ := io.ReadAll(resp.Body)
	if err := protojson.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	var s string
	if err := converter.GetDefaultDataConverter().FromPayload(out.Payloads[0], &s); err != nil || s != "payments" {
		t.Fatalf("decoded %q %v", s, err)
	}

	// The UI encodes what a person types (signal, update input) through /encode.
	plain, _ := protojson.Marshal(&commonpb.Payloads{Payloads: []*commonpb.Payload{plainPayload(t, "typed in the UI")}})
	resp = post(t, srv.URL+"/encode", string(plain), auth)
	var encoded commonpb.Payloads
	raw, _ = io.ReadAll(resp.Body)
	if err := protojson.Unmarshal(raw, &encoded); err != nil || string(encoded.Payloads[0].Metadata["encoding"]) != Encoding {
		t.Fatalf("encode: HTTP %d %s %v", resp.StatusCode, raw, err)
	}

	for name, tc := range map[string]struct {
		headers map[string]string
		status  int
	}{
		"no token":     {map[string]string{"Origin": uiOrigin}, http.StatusUnauthorized},
		"wrong token":  {map[string]string{"Authorization": "Bearer nope", "Origin": uiOrigin}, http.StatusUnauthorized},
		"other origin": {map[string]string{"Authorization": "Bearer s3cret", "Origin": "http://evil.example"}, http.StatusForbidden},
		"no origin":    {map[string]string{"Authorization": "Bearer s3cret"}, http.StatusOK}, // CLI, not a browser
	} {
		if resp := post(t, srv.URL+"/decode", string(body), tc.headers); resp.StatusCode != tc.status {
			t.Errorf("%s: HTTP %d, want %d", name, resp.StatusCode, tc.status)
		}
	}
}

func TestServerPreflight(t *testing.T) {
	srv := httptest.NewServer(NewServer(mustNew(t, key("k1", 1)), ServerOptions{AllowedOrigins: []string{uiOrigin}, Token: "s3cret"}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
	req.Header.Set("Origin", uiOrigin)
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type,x-namespace,authorization")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("preflight: HTTP %d", resp.StatusCode)
	}
	for h, want := range map[string]string{
		"Access-Control-Allow-Origin":      uiOrigin,
		"Access-Control-Allow-Credentials": "true",
		"Access-Control-Allow-Headers":     "Content-Type, X-Namespace, Authorization",
	} {
		if got := resp.Header.Get(h); got != want {
			t.Errorf("%s: %q, want %q", h, got, want)
		}
	}
}

func TestServerWithoutTheKeyRefuses(t *testing.T) {
	enc, _ := mustNew(t, key("k1", 1)).Encode([]*commonpb.Payload{plainPayload(t, "payments")})
	srv := httptest.NewServer(NewServer(mustNew(t, key("other", 2)), ServerOptions{}))
	defer srv.Close()
	body, _ := protojson.Marshal(&commonpb.Payloads{Payloads: enc})
	resp := post(t, srv.URL+"/decode", string(body), nil)
	msg, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(msg), `"k1"`) {
		t.Fatalf("HTTP %d %s, want 400 naming key k1", resp.StatusCode, msg)
	}
}

// With --cors-origin "*" any page may call, so a browser must never send its credentials (cookies, a logged-in
// session) along: the answer is the literal wildcard without Access-Control-Allow-Credentials, and the bearer
// token is still required.
func TestServerWildcardOriginNeverAllowsCredentials(t *testing.T) {
	srv := httptest.NewServer(NewServer(mustNew(t, key("k1", 1)), ServerOptions{AllowedOrigins: []string{"*"}, Token: "s3cret"}))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
	req.Header.Set("Origin", "http://evil.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got, creds := resp.Header.Get("Access-Control-Allow-Origin"), resp.Header.Get("Access-Control-Allow-Credentials"); got != "*" || creds != "" {
		t.Fatalf("Access-Control-Allow-Origin %q, Access-Control-Allow-Credentials %q: want * and none", got, creds)
	}
	if resp := post(t, srv.URL+"/decode", "{}", map[string]string{"Origin": "http://evil.example"}); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("no token from any origin: HTTP %d, want 401", resp.StatusCode)
	}
}

// A token of another length is refused like a wrong one (the comparison is on digests, so it takes the same time
// whatever the length).
func TestServerTokenOfAnotherLength(t *testing.T) {
	if bearerMatches("Bearer s3cret-and-more", "s3cret") || bearerMatches("Bearer s3", "s3cret") || !bearerMatches("Bearer s3cret", "s3cret") {
		t.Fatal("bearer comparison")
	}
}

// A codec server bounds every phase of a request, so a client trickling its body cannot hold a connection.
func TestServerHasTimeouts(t *testing.T) {
	s, err := StartServer("127.0.0.1:0", mustNew(t, key("k1", 1)), ServerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	if s.srv.ReadHeaderTimeout == 0 || s.srv.ReadTimeout == 0 || s.srv.WriteTimeout == 0 || s.srv.IdleTimeout == 0 {
		t.Fatalf("timeouts: header %s, read %s, write %s, idle %s: want all set", s.srv.ReadHeaderTimeout, s.srv.ReadTimeout,
			s.srv.WriteTimeout, s.srv.IdleTimeout)
	}
}
