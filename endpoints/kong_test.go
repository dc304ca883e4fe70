package endpoints

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/kong/go-kong/kong"

	"github.com/failover/failover/testsuite/kongstandin"
	"github.com/failover/failover/testsuite/testpki"
)

// The Kong stand-in's Admin API behind TLS that requires a client certificate: go-kong through Kong() works with
// the certificate, and Check names the flags without it.
func TestKongAdminMutualTLS(t *testing.T) {
	ca := testpki.NewCA(t, "kong")
	server := ca.Issue(t, testpki.Leaf{Name: "kong-admin", Server: true})
	client := ca.Issue(t, testpki.Leaf{Name: "failover-worker"})
	cert, err := tls.LoadX509KeyPair(server.CertFile, server.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := os.ReadFile(ca.CertFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	k, err := kongstandin.Start(kongstandin.Options{AdminTLS: &tls.Config{Certificates: []tls.Certificate{cert},
		ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })

	t.Run("with the client certificate", func(t *testing.T) {
		cfg := config()
		cfg.KongAdminURL, cfg.KongAdminCA, cfg.KongAdminCert, cfg.KongAdminKey = k.AdminURL(), ca.CertFile, client.CertFile, client.KeyFile
		if err := cfg.Load(); err != nil {
			t.Fatal(err)
		}
		kc, err := cfg.Kong()
		if err != nil {
			t.Fatal(err)
		}
		if err := cfg.Check(t.Context(), nil, nil, kc); err != nil {
			t.Fatal(err)
		}
		if _, err := kc.Upstreams.Create(t.Context(), &kong.Upstream{Name: kong.String("payments")}); err != nil {
			t.Fatalf("create upstream over mTLS: %v", err)
		}
	})
	t.Run("without a client certificate", func(t *testing.T) {
		cfg := config()
		cfg.KongAdminURL, cfg.KongAdminCA = k.AdminURL(), ca.CertFile
		if err := cfg.Load(); err != nil {
			t.Fatal(err)
		}
		kc, _ := cfg.Kong()
		err := cfg.Check(t.Context(), nil, nil, kc)
		testpki.WantOneLine(t, err, "Kong Admin API at "+k.AdminURL(), "requires a client certificate", "--kong-admin-cert", "--kong-admin-key")
	})
	t.Run("client certificate files on an http URL", func(t *testing.T) {
		cfg := config()
		cfg.KongAdminURL, cfg.KongAdminCert, cfg.KongAdminKey = "http://127.0.0.1:8001", client.CertFile, client.KeyFile
		testpki.WantOneLine(t, cfg.Load(), "--kong-admin-url http://127.0.0.1:8001 is not https://")
	})
}

// The Konnect token goes out as Authorization: Bearer, beside the Kong-Admin-Token; a 401 names the token's flag.
func TestKongBearerToken(t *testing.T) {
	var got http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Clone()
		if r.Header.Get("Authorization") != "Bearer kpat_good" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write([]byte(`{"message":"Unauthorized"}`))
			return
		}
		w.Write([]byte(`{"version":"3.9.0"}`))
	}))
	t.Cleanup(srv.Close)
	tokenFile := filepath.Join(t.TempDir(), "konnect-token")
	for _, tc := range []struct{ token, wantErr string }{{"kpat_good", ""}, {"kpat_revoked", "--kong-admin-bearer-file " + tokenFile}} {
		os.WriteFile(tokenFile, []byte(tc.token+"\n"), 0o600)
		cfg := config()
		cfg.KongAdminURL, cfg.KongBearerFile = srv.URL, tokenFile
		if err := cfg.Load(); err != nil {
			t.Fatal(err)
		}
		kc, _ := cfg.Kong()
		err := cfg.Check(t.Context(), nil, nil, kc)
		if tc.wantErr == "" {
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		testpki.WantOneLine(t, err, "rejected our credentials (HTTP 401)", tc.wantErr)
	}
	if got.Get("Authorization") == "" {
		t.Fatal("no Authorization header sent")
	}
}

// A Konnect control plane, addressed by its control-plane path with the bearer token: the check lists upstreams
// (Konnect serves no GET /), and a revoked token names the flag.
func TestKonnectControlPlanePath(t *testing.T) {
	prefix := "/v2/control-planes/4b1c6a2e-1c2d-4a55-9a0e-0c1f2d3e4f50/core-entities"
	k, err := kongstandin.Start(kongstandin.Options{KonnectPrefix: prefix, KonnectToken: "kpat_good"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	tokenFile := filepath.Join(t.TempDir(), "konnect-token")
	for _, tc := range []struct{ token, wantErr string }{{"kpat_good", ""}, {"kpat_revoked", "--kong-admin-bearer-file " + tokenFile}} {
		if err := os.WriteFile(tokenFile, []byte(tc.token+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := config()
		cfg.KongAdminURL, cfg.KongBearerFile = k.AdminURL()+prefix, tokenFile
		if err := cfg.Load(); err != nil {
			t.Fatal(err)
		}
		kc, err := cfg.Kong()
		if err != nil {
			t.Fatal(err)
		}
		err = cfg.Check(t.Context(), nil, nil, kc)
		if tc.wantErr == "" {
			if err != nil {
				t.Fatalf("check: %v", err)
			}
			if _, err := kc.Upstreams.Create(t.Context(), &kong.Upstream{Name: kong.String("payments")}); err != nil {
				t.Fatalf("create an upstream through the control-plane path: %v", err)
			}
			continue
		}
		testpki.WantOneLine(t, err, "rejected our credentials (HTTP 401)", tc.wantErr)
	}
}
