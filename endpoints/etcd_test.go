package endpoints

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/failover/failover/testsuite/etcdserver"
	"github.com/failover/failover/testsuite/testpki"
)

// securedEtcd runs etcd over TLS requiring client certificates, with auth on: user "failover-worker" logs in by
// certificate (its CN), user "orchestrator" by password; both hold the orchestrator role on payments' keys.
func securedEtcd(t *testing.T) (*etcdserver.Server, *testpki.CA) {
	t.Helper()
	ca := testpki.NewCA(t, "etcd")
	server := ca.Issue(t, testpki.Leaf{Name: "etcd", Server: true})
	srv, err := etcdserver.Start(etcdserver.Options{TLS: &etcdserver.TLS{CertFile: server.CertFile, KeyFile: server.KeyFile,
		ClientCAFile: ca.CertFile, ClientCertAuth: true}})
	if err != nil {
		t.Fatal(err)
	}
	role := etcdserver.OrchestratorRole("failover-payments", "/failover/payments/active", "/failover/payments/acks/")
	err = srv.EnableAuth(t.Context(), "root-pw", []etcdserver.Role{role}, []etcdserver.User{
		{Name: "failover-worker", Roles: []string{role.Name}},
		{Name: "orchestrator", Password: "s3cret", Roles: []string{role.Name}},
	})
	if err != nil {
		srv.Stop()
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	return srv, ca
}

// etcd with client-certificate auth and RBAC: a certificate user and a password user read and write the active key;
// a missing certificate, an unknown CA, a wrong password, an expired certificate and a missing key are each one line
// naming the flag. (A certificate whose CN is no etcd user passes Check and fails on the first key with "permission
// denied": Check cannot know the keys a plan will use.)
func TestEtcdClientCertsAndRBAC(t *testing.T) {
	srv, ca := securedEtcd(t)
	worker := ca.Issue(t, testpki.Leaf{Name: "failover-worker"})
	nobody := ca.Issue(t, testpki.Leaf{Name: "nobody"}) // a CN that is no etcd user: TLS only
	stranger := testpki.NewCA(t, "stranger")
	pwFile := filepath.Join(t.TempDir(), "etcd-password")
	os.WriteFile(pwFile, []byte("s3cret\n"), 0o600)
	wrongPW := filepath.Join(t.TempDir(), "wrong-password")
	os.WriteFile(wrongPW, []byte("guess\n"), 0o600)
	expired := ca.Issue(t, testpki.Leaf{Name: "expired", NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})

	base := config()
	base.EtcdEndpoints, base.EtcdCACert = []string{srv.Endpoint()}, ca.CertFile

	// open runs Load, Etcd and Check as the worker does, and on success writes and reads the active key.
	open := func(t *testing.T, cfg Config) error {
		t.Helper()
		if err := cfg.Load(); err != nil {
			return err
		}
		began := time.Now()
		cl, err := cfg.Etcd()
		if err != nil {
			t.Logf("Etcd() took %v", time.Since(began).Round(time.Millisecond))
			return err
		}
		defer cl.Close()
		if err := cfg.Check(t.Context(), nil, cl, nil); err != nil {
			t.Logf("Check took %v", time.Since(began).Round(time.Millisecond))
			return err
		}
		if _, err := cl.Put(t.Context(), "/failover/payments/active", `{"region":"us-east","epoch":1}`); err != nil {
			t.Fatalf("put the active key: %v", err)
		}
		return nil
	}

	t.Run("certificate user", func(t *testing.T) {
		cfg := base
		cfg.EtcdCert, cfg.EtcdKey = worker.CertFile, worker.KeyFile
		if err := open(t, cfg); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("password user", func(t *testing.T) {
		cfg := base
		cfg.EtcdCert, cfg.EtcdKey = nobody.CertFile, nobody.KeyFile // the TLS listener still wants a certificate
		cfg.EtcdUser, cfg.EtcdPasswordFile = "orchestrator", pwFile
		if err := open(t, cfg); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("wrong password", func(t *testing.T) {
		cfg := base
		cfg.EtcdCert, cfg.EtcdKey = nobody.CertFile, nobody.KeyFile
		cfg.EtcdUser, cfg.EtcdPasswordFile = "orchestrator", wrongPW
		testpki.WantOneLine(t, open(t, cfg), srv.Endpoint(), `rejected user "orchestrator"`, "--etcd-user", "--etcd-password-file "+wrongPW)
	})
	t.Run("no client certificate", func(t *testing.T) {
		testpki.WantOneLine(t, open(t, base), srv.Endpoint(), "requires a client certificate", "--etcd-cert", "--etcd-key")
	})
	t.Run("unknown CA", func(t *testing.T) {
		cfg := base
		cfg.EtcdCACert, cfg.EtcdCert, cfg.EtcdKey = stranger.CertFile, worker.CertFile, worker.KeyFile
		testpki.WantOneLine(t, open(t, cfg), srv.Endpoint(), "--etcd-ca-cert "+stranger.CertFile, "signed")
	})
	t.Run("expired certificate", func(t *testing.T) {
		cfg := base
		cfg.EtcdCert, cfg.EtcdKey = expired.CertFile, expired.KeyFile
		testpki.WantOneLine(t, open(t, cfg), "--etcd-cert "+expired.CertFile, "expired")
	})
	t.Run("missing key file", func(t *testing.T) {
		cfg := base
		cfg.EtcdCert, cfg.EtcdKey = worker.CertFile, filepath.Join(t.TempDir(), "absent.key")
		testpki.WantOneLine(t, open(t, cfg), "--etcd-key "+cfg.EtcdKey, "no such file")
	})
}
