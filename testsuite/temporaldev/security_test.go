package temporaldev

import (
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/server/common/authorization"

	"github.com/failover/failover/endpoints"
	"github.com/failover/failover/testsuite/testpki"
)

// connect loads cfg the way the binaries do (Load, then Temporal, then Check) and returns the client or the one-line
// error a person would read.
func connect(t *testing.T, cfg endpoints.Config) (client.Client, error) {
	t.Helper()
	if err := cfg.Load(); err != nil {
		return nil, err
	}
	began := time.Now()
	c, err := cfg.Temporal(slog.New(slog.DiscardHandler))
	if err == nil {
		t.Cleanup(c.Close)
		err = cfg.Check(t.Context(), c, nil, nil)
	}
	t.Logf("connect took %v: %v", time.Since(began).Round(time.Millisecond), err)
	return c, err
}

// The frontend requires client certificates: a client with one signed by the server's CA runs a workflow; one without
// a certificate, one with a certificate from another CA, and one that does not trust the server's CA each get one
// line naming the flag to fix.
func TestMutualTLS(t *testing.T) {
	ca := testpki.NewCA(t, "temporal")
	server := ca.Issue(t, testpki.Leaf{Name: "frontend", Server: true})
	s := startServer(t, Options{NoUI: true, TLS: &ServerTLS{CertFile: server.CertFile, KeyFile: server.KeyFile, CAFile: ca.CertFile, RequireClientCert: true}})
	worker1 := ca.Issue(t, testpki.Leaf{Name: "failover-worker"})
	stranger := testpki.NewCA(t, "stranger")
	strangerCert := stranger.Issue(t, testpki.Leaf{Name: "intruder"})

	base := endpoints.Config{TemporalAddress: s.Address(), TemporalNamespace: s.Namespace(), KongAdminURL: "http://127.0.0.1:1",
		EtcdEndpoints: []string{"http://127.0.0.1:1"}, TemporalTLSCA: ca.CertFile}

	t.Run("client certificate works", func(t *testing.T) {
		cfg := base
		cfg.TemporalTLSCert, cfg.TemporalTLSKey = worker1.CertFile, worker1.KeyFile
		c, err := connect(t, cfg)
		if err != nil {
			t.Fatal(err)
		}
		runWorker(t, c, "greet", func(r worker.Registry) {
			r.RegisterWorkflow(greetWorkflow)
			r.RegisterActivity(greet)
		})
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		run, err := c.ExecuteWorkflow(ctx, client.StartWorkflowOptions{ID: "greet-mtls", TaskQueue: "greet"}, greetWorkflow, "mtls")
		if err != nil {
			t.Fatal(err)
		}
		var got string
		if err := run.Get(ctx, &got); err != nil || got != "hello, mtls" {
			t.Fatalf("workflow over mTLS: %q, %v", got, err)
		}
	})
	t.Run("no client certificate", func(t *testing.T) {
		_, err := connect(t, base)
		testpki.WantOneLine(t, err, s.Address(), "requires a client certificate", "--temporal-tls-cert", "--temporal-tls-key")
	})
	t.Run("certificate from another CA", func(t *testing.T) {
		cfg := base
		cfg.TemporalTLSCert, cfg.TemporalTLSKey = strangerCert.CertFile, strangerCert.KeyFile
		_, err := connect(t, cfg)
		testpki.WantOneLine(t, err, s.Address(), "refused the client certificate --temporal-tls-cert "+strangerCert.CertFile, "CN=intruder")
	})
	t.Run("wrong CA for the server", func(t *testing.T) {
		cfg := base
		cfg.TemporalTLSCert, cfg.TemporalTLSKey, cfg.TemporalTLSCA = worker1.CertFile, worker1.KeyFile, stranger.CertFile
		_, err := connect(t, cfg)
		testpki.WantOneLine(t, err, s.Address(), "--temporal-tls-ca "+stranger.CertFile, "signed")
	})
	t.Run("expired client certificate", func(t *testing.T) {
		old := ca.Issue(t, testpki.Leaf{Name: "old", NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
		cfg := base
		cfg.TemporalTLSCert, cfg.TemporalTLSKey = old.CertFile, old.KeyFile
		_, err := connect(t, cfg)
		testpki.WantOneLine(t, err, "--temporal-tls-cert "+old.CertFile, "expired")
	})
}

// apiKeyAuth stands in for Temporal Cloud's API keys: a request whose Authorization header is "Bearer <key>" gets the
// admin role; a wrong key is refused. A request without credentials never reaches the claim mapper (it has no
// claims): Temporal's default authorizer then allows it health checks only.
type apiKeyAuth struct{ key string }

func (a apiKeyAuth) GetClaims(info *authorization.AuthInfo) (*authorization.Claims, error) {
	if info.AuthToken == "Bearer "+a.key {
		return &authorization.Claims{Subject: "api-key", System: authorization.RoleAdmin}, nil
	}
	return nil, errors.New("unknown API key")
}

// serverWorkerAllowed is Temporal's default authorizer, except that requests without credentials may use the
// temporal-system namespace: the server's own worker service sends none (a real cluster gives it a certificate).
type serverWorkerAllowed struct{ authorization.Authorizer }

func (a serverWorkerAllowed) Authorize(ctx context.Context, c *authorization.Claims, t *authorization.CallTarget) (authorization.Result, error) {
	if c == nil && t.Namespace == "temporal-system" {
		return authorization.Result{Decision: authorization.DecisionAllow}, nil
	}
	return a.Authorizer.Authorize(ctx, c, t)
}

// A server that wants a bearer token (over TLS, like Temporal Cloud): the key from --temporal-api-key-file works and is
// re-read when the file changes; a wrong or missing key is one line naming the flag.
func TestAPIKey(t *testing.T) {
	ca := testpki.NewCA(t, "temporal")
	server := ca.Issue(t, testpki.Leaf{Name: "frontend", Server: true})
	s := startServer(t, Options{NoUI: true,
		TLS:    &ServerTLS{CertFile: server.CertFile, KeyFile: server.KeyFile, CAFile: ca.CertFile},
		Auth:   &Auth{ClaimMapper: apiKeyAuth{key: "good-key"}, Authorizer: serverWorkerAllowed{authorization.NewDefaultAuthorizer()}},
		Logger: slog.New(slog.DiscardHandler), // the server's per-namespace workers have no key: their denials are expected
	})
	keyFile := filepath.Join(t.TempDir(), "api-key")
	base := endpoints.Config{TemporalAddress: s.Address(), TemporalNamespace: s.Namespace(), KongAdminURL: "http://127.0.0.1:1",
		EtcdEndpoints: []string{"http://127.0.0.1:1"}, TemporalTLSCA: ca.CertFile, TemporalAPIKeyFile: keyFile}

	t.Run("key works, rotation is read", func(t *testing.T) {
		writeKey(t, keyFile, "good-key")
		c, err := connect(t, base)
		if err != nil {
			t.Fatal(err)
		}
		writeKey(t, keyFile, "revoked-key") // the next call reads the file again
		err = base.Check(t.Context(), c, nil, nil)
		if err == nil {
			t.Fatal("a revoked key in the file still works: the key is not re-read")
		}
		testpki.WantOneLine(t, err, "--temporal-api-key-file "+keyFile)
	})
	t.Run("wrong key", func(t *testing.T) {
		writeKey(t, keyFile, "wrong-key")
		_, err := connect(t, base)
		testpki.WantOneLine(t, err, s.Address(), "rejected our credentials", "--temporal-api-key-file "+keyFile)
	})
	t.Run("no key", func(t *testing.T) {
		cfg := base
		cfg.TemporalAPIKeyFile = ""
		cfg.TemporalTLS = true
		t.Setenv("TEMPORAL_API_KEY", "")
		_, err := connect(t, cfg)
		testpki.WantOneLine(t, err, s.Address(), "rejected our credentials", "--temporal-api-key-file")
	})
	t.Run("missing key file", func(t *testing.T) {
		cfg := base
		cfg.TemporalAPIKeyFile = filepath.Join(t.TempDir(), "absent")
		_, err := connect(t, cfg)
		testpki.WantOneLine(t, err, "--temporal-api-key-file "+cfg.TemporalAPIKeyFile, "no such file")
	})
}

func writeKey(t *testing.T, path, key string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
}
