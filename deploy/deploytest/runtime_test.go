package deploytest

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/kong/go-kong/kong"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/follow"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/etcdserver"
	"github.com/failover/failover/testsuite/freeport"
	"github.com/failover/failover/testsuite/kongstandin"
)

// runBinary runs one of the built binaries to completion with a deadline and returns its combined output.
func runBinary(t *testing.T, name string, env []string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin(t, name), args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// waitFor polls cond every 20ms until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %s", what, within)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestComposeOneShotsAndRegionRunForReal runs the compose-only binaries the way docker-compose.yml does, with its
// arguments, against a real etcd and the Kong stand-in (which enforces the admin token like Kong Enterprise RBAC):
// demoseed seeds once and changes nothing the second time; regiond follows the key and acks; healthcheck
// tells a served URL from a missing one; regiond exits cleanly on SIGTERM.
func TestComposeOneShotsAndRegionRunForReal(t *testing.T) {
	c := loadCompose(t)
	etcd, err := etcdserver.Start(etcdserver.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(etcd.Stop)
	ec, err := etcd.NewClient()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ec.Close() })
	const token = "deploytest-admin-token"
	kongSrv, err := kongstandin.Start(kongstandin.Options{AdminToken: token})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { kongSrv.Close() })
	tokenFile := filepath.Join(t.TempDir(), "kong_admin_token")
	if err := os.WriteFile(tokenFile, []byte(token+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	admin := kongSrv.AdminURL()
	kc, err := kong.NewClient(&admin, kong.HTTPClientWithHeaders(&http.Client{Timeout: 5 * time.Second},
		http.Header{"Kong-Admin-Token": []string{token}}))
	if err != nil {
		t.Fatal(err)
	}

	// demoseed, with compose's command; only its file and endpoint locations are this machine's.
	seed := c.Services["demoseed"]
	args := append([]string(nil), seed.Command...)
	secrets := map[string]string{"/run/secrets/kong_admin_token": tokenFile}
	for i, a := range args {
		if f, ok := secrets[a]; ok {
			args[i] = f
		} else if strings.HasPrefix(a, "/") {
			if h := c.hostPath(t, "demoseed", a); h != "" {
				args[i] = h
			}
		}
	}
	if !slices.Contains(args, tokenFile) {
		t.Fatalf("demoseed's compose command %q does not pass the kong_admin_token secret", seed.Command)
	}
	env := []string{"HOME=" + t.TempDir(), "KONG_ADMIN_URL=" + admin, "ETCD_ENDPOINTS=" + etcd.Endpoint()}
	p, err := plan.Load(c.hostPath(t, "demoseed", flagArgs(t, "demoseed", interfaces(t)["demoseed"], seed.Command)["plan"]))
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if out, err := runBinary(t, "demoseed", env, args...); err != nil {
		t.Fatalf("demoseed %v: %v\n%s", args, err, out)
	}
	t.Logf("demoseed seeded Kong and etcd in %s", time.Since(start).Round(time.Millisecond))
	acts := &activities.Activities{Etcd: ec, Kong: kc}
	ctx := t.Context()
	wantWeights := func(want map[string]int) {
		t.Helper()
		ws, err := acts.ReadWeights(ctx, p.Kong.Upstream)
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]int{}
		for name, r := range p.Regions {
			for _, w := range ws {
				if w.Target == r.KongTarget {
					got[name] = w.Weight
				}
			}
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("Kong weights %v, want %v", got, want)
		}
	}
	wantWeights(map[string]int{"us-east": 100, "eu-west": 0})
	if _, err := kc.Routes.Get(ctx, kong.String(p.Service)); err != nil {
		t.Fatalf("route %s: %v", p.Service, err)
	}
	st, err := acts.ReadActive(ctx, p.Etcd.ActiveKey)
	if err != nil || !st.Exists || st.Value.Region != "us-east" || st.Value.Epoch != 1 {
		t.Fatalf("active key after seeding: %+v (%v)", st, err)
	}

	// After a failover, a second `docker compose up` must not move anything back.
	for name, w := range map[string]int{"us-east": 0, "eu-west": 100} {
		if _, err := kc.Targets.Update(ctx, kong.String(p.Kong.Upstream), kong.String(p.Regions[name].KongTarget), &kong.Target{Weight: kong.Int(w)}); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := runBinary(t, "demoseed", env, args...); err != nil {
		t.Fatalf("demoseed again: %v\n%s", err, out)
	}
	wantWeights(map[string]int{"us-east": 0, "eu-west": 100})
	if again, _ := acts.ReadActive(ctx, p.Etcd.ActiveKey); again.ModRevision != st.ModRevision {
		t.Fatalf("demoseed rewrote the active key: revision %d → %d", st.ModRevision, again.ModRevision)
	}
	// Without the token the stand-in refuses, as Kong Enterprise would: demoseed must say so, not hang.
	emptyToken := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(emptyToken, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	noToken := slices.Clone(args)
	noToken[slices.Index(noToken, tokenFile)] = emptyToken
	if out, err := runBinary(t, "demoseed", env, append(noToken, "--wait", "2s")...); err == nil {
		t.Fatalf("demoseed without the admin token succeeded:\n%s", out)
	}

	// regiond, with region-eu-west's command on a free loopback port.
	svc := c.Services["region-eu-west"]
	port, err := freeport.Get(0)
	if err != nil {
		t.Fatal(err)
	}
	rargs := append([]string(nil), svc.Command...)
	for i := range rargs {
		if rargs[i] == "--listen" {
			rargs[i+1] = fmt.Sprintf("127.0.0.1:%d", port)
		}
	}
	rf := flagArgs(t, "region-eu-west", interfaces(t)["regiond"], svc.Command)
	region := exec.Command(bin(t, "regiond"), rargs...)
	region.Env = []string{"HOME=" + t.TempDir(), "ETCD_ENDPOINTS=" + etcd.Endpoint()}
	var regionLog strings.Builder
	region.Stdout, region.Stderr = &regionLog, &regionLog
	if err := region.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- region.Wait() }()
	t.Cleanup(func() {
		region.Process.Kill()
		<-exited
	})
	metrics := fmt.Sprintf("http://127.0.0.1:%d/metrics", port)
	waitFor(t, 30*time.Second, "regiond serving "+metrics, func() bool {
		resp, err := http.Get(metrics)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	ackKey := follow.AckKey(p.Etcd.AckPrefix, rf["instance"])
	waitFor(t, 30*time.Second, "regiond ack at "+ackKey, func() bool {
		resp, err := ec.Get(ctx, ackKey)
		if err != nil || len(resp.Kvs) == 0 {
			return false
		}
		a, err := follow.ParseAck(resp.Kvs[0].Value)
		return err == nil && a.Epoch == 1 && a.Region == st.Value.Region
	})
	if out, err := runBinary(t, "healthcheck", nil, metrics); err != nil {
		t.Errorf("healthcheck %s: %v\n%s", metrics, err, out)
	}
	if out, err := runBinary(t, "healthcheck", nil, fmt.Sprintf("http://127.0.0.1:%d/no-such-path", port)); err == nil {
		t.Errorf("healthcheck of a 404 succeeded:\n%s", out)
	}
	if err := region.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		exited <- err // for the cleanup
		if err != nil {
			t.Errorf("regiond exited with %v after SIGTERM:\n%s", err, regionLog.String())
		}
	case <-time.After(15 * time.Second):
		t.Errorf("regiond still running 15s after SIGTERM:\n%s", regionLog.String())
	}
}
