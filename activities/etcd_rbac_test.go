package activities

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"

	"github.com/failover/failover/clienttls"
	"github.com/failover/failover/endpoints"
	"github.com/failover/failover/follow"
	"github.com/failover/failover/testsuite/etcdserver"
	"github.com/failover/failover/testsuite/testpki"
)

// etcd over mutual TLS with auth on and the README's two least-privilege roles: the orchestrator (certificate user,
// through endpoints as the worker connects) reads and cuts over the active key and sees the ack; the service
// (password user, through follow.Etcd as a service connects) follows the key and acks; neither can do the other's part.
func TestCutoverAndFollowWithRBAC(t *testing.T) {
	const key, acks = "/failover/payments/active", "/failover/payments/acks/"
	ca := testpki.NewCA(t, "etcd")
	server := ca.Issue(t, testpki.Leaf{Name: "etcd", Server: true})
	srv, err := etcdserver.Start(etcdserver.Options{TLS: &etcdserver.TLS{CertFile: server.CertFile, KeyFile: server.KeyFile,
		ClientCAFile: ca.CertFile, ClientCertAuth: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	orch := etcdserver.OrchestratorRole("failover-payments", key, acks)
	svc := etcdserver.ServiceRole("payments", key, acks)
	err = srv.EnableAuth(t.Context(), "root-pw", []etcdserver.Role{orch, svc}, []etcdserver.User{
		{Name: "failover-worker", Roles: []string{orch.Name}},
		{Name: "payments", Password: "svc-pw", Roles: []string{svc.Name}},
	})
	if err != nil {
		t.Fatal(err)
	}

	// The orchestrator: flags as the worker takes them.
	workerCert := ca.Issue(t, testpki.Leaf{Name: "failover-worker"})
	cfg := endpoints.Config{TemporalAddress: "127.0.0.1:1", KongAdminURL: "http://127.0.0.1:1", EtcdEndpoints: []string{srv.Endpoint()},
		EtcdCACert: ca.CertFile, EtcdCert: workerCert.CertFile, EtcdKey: workerCert.KeyFile}
	if err := cfg.Load(); err != nil {
		t.Fatal(err)
	}
	orchCl, err := cfg.Etcd()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { orchCl.Close() })
	if err := cfg.Check(t.Context(), nil, orchCl, nil); err != nil {
		t.Fatal(err)
	}

	// The service: the environment a region service gets (ETCD_* with a password file).
	svcCert := ca.Issue(t, testpki.Leaf{Name: "payments-tls"}) // TLS only; the password names the user
	pw := filepath.Join(t.TempDir(), "password")
	os.WriteFile(pw, []byte("svc-pw\n"), 0o600)
	for k, v := range map[string]string{"ETCD_ENDPOINTS": srv.Endpoint(), "ETCD_CA_CERT": ca.CertFile, "ETCD_CERT": svcCert.CertFile,
		"ETCD_KEY": svcCert.KeyFile, "ETCD_USERNAME": "payments", "ETCD_PASSWORD_FILE": pw} {
		t.Setenv(k, v)
	}
	svcEtcd, err := follow.EtcdFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	svcCl, err := svcEtcd.Client(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svcCl.Close() })

	a := &Activities{Etcd: orchCl}
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Second)
	defer cancel()
	before, err := a.ReadActive(ctx, key)
	if err != nil {
		t.Fatalf("orchestrator reads the active key: %v", err)
	}
	res, err := a.Cutover(ctx, CutoverInput{Key: key, Expected: before, Region: "eu-west", WorkflowID: "failover-payments", RunID: "r1", AckPrefix: acks})
	if err != nil {
		t.Fatalf("orchestrator cuts over: %v", err)
	}

	f, err := follow.New(follow.Config{Client: svcCl, Key: key, AckPrefix: acks, Instance: "payments-1", LeaseTTL: 2 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	fctx, stopFollow := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); f.Run(fctx) }()
	t.Cleanup(func() { stopFollow(); <-done })

	got, err := a.WaitAcks(ctx, WaitAcksInput{AckPrefix: acks, Epoch: res.Value.Epoch, Required: []string{"payments-1"}, Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("orchestrator waits for the service's ack: %v", err)
	}
	if cur, _ := f.Current(); cur.Region != "eu-west" || len(got.Acked) != 1 {
		t.Fatalf("service follows %+v, acks %v", cur, got.Acked)
	}

	// Least privilege: the service cannot move the key, the orchestrator cannot forge an ack.
	if _, err := svcCl.Put(ctx, key, `{"region":"us-east","epoch":99}`); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Errorf("service writing the active key: want permission denied, got %v", err)
	}
	if _, err := orchCl.Put(ctx, follow.AckKey(acks, "forged"), "x"); !errors.Is(err, rpctypes.ErrPermissionDenied) {
		t.Errorf("orchestrator writing an ack: want permission denied, got %v", err)
	}
}

// A wrong password in the service's environment is one line naming the variables to fix.
func TestFollowWrongPassword(t *testing.T) {
	srv, err := etcdserver.Start(etcdserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	err = srv.EnableAuth(t.Context(), "root-pw", nil, []etcdserver.User{{Name: "payments", Password: "svc-pw"}})
	if err != nil {
		t.Fatal(err)
	}
	e := follow.Etcd{Endpoints: []string{srv.Endpoint()}, Username: "payments", Password: "guess", PasswordSetting: "ETCD_PASSWORD_FILE /run/secrets/pw",
		UsernameSetting: "ETCD_USERNAME", EndpointsSetting: "ETCD_ENDPOINTS", TLS: clienttls.Files{}}
	_, err = e.Client(t.Context())
	if err == nil || err.Error() != `etcd at `+srv.Endpoint()+` rejected user "payments": check ETCD_USERNAME and the password in ETCD_PASSWORD_FILE /run/secrets/pw` {
		t.Fatalf("got %v", err)
	}
}
