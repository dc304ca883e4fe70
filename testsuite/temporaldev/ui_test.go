package temporaldev

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestWebUI(t *testing.T) {
	const codec = "http://127.0.0.1:8888/codec"
	s := startServer(t, Options{Namespace: "failover-dev", UICodecEndpoint: codec})
	if !strings.HasPrefix(s.UIURL(), "http://127.0.0.1:") {
		t.Fatalf("UIURL = %q, want http://127.0.0.1:<port>", s.UIURL())
	}
	httpc := &http.Client{Timeout: 5 * time.Second}
	get := func(path string) (string, string) {
		t.Helper()
		resp, err := httpc.Get(s.UIURL() + path)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("GET %s: read body: %v", path, err)
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s: %.300s", path, resp.Status, body)
		}
		return resp.Header.Get("Content-Type"), string(body)
	}

	t.Run("serves the app", func(t *testing.T) {
		ctype, body := get("/")
		if !strings.HasPrefix(ctype, "text/html") || !strings.Contains(strings.ToLower(body), "<html") {
			t.Errorf("GET / = %s, %.200q; want an HTML page", ctype, body)
		}
	})

	t.Run("proxies the API to the server", func(t *testing.T) {
		ctype, body := get("/api/v1/namespaces")
		var list struct {
			Namespaces []struct {
				NamespaceInfo struct{ Name string }
			}
		}
		if err := json.Unmarshal([]byte(body), &list); err != nil {
			t.Fatalf("GET /api/v1/namespaces = %s %.300q: %v", ctype, body, err)
		}
		var names []string
		for _, ns := range list.Namespaces {
			names = append(names, ns.NamespaceInfo.Name)
		}
		if !strings.Contains(strings.Join(names, ","), "failover-dev") {
			t.Errorf("namespaces = %v, want failover-dev among them", names)
		}
	})

	t.Run("passes the codec endpoint and default namespace", func(t *testing.T) {
		_, body := get("/api/v1/settings")
		var settings struct {
			DefaultNamespace string
			Codec            struct{ Endpoint string }
		}
		if err := json.Unmarshal([]byte(body), &settings); err != nil {
			t.Fatalf("GET /api/v1/settings %.300q: %v", body, err)
		}
		if settings.Codec.Endpoint != codec || settings.DefaultNamespace != "failover-dev" {
			t.Errorf("settings: codec %q, namespace %q; want %q, failover-dev", settings.Codec.Endpoint, settings.DefaultNamespace, codec)
		}
	})
}
