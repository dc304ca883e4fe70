package stack

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	taskqueuepb "go.temporal.io/api/taskqueue/v1"
	"go.temporal.io/api/workflowservice/v1"

	"github.com/failover/failover/testsuite/freeport"
	"github.com/failover/failover/workflows"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestStackStartsUsesAndStopsEverything brings the whole stack up, touches every component for real, stops it and
// checks that no port is left listening and no goroutines leaked.
func TestStackStartsUsesAndStopsEverything(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := Start(ctx, Options{Prometheus: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	t.Logf("start times: %v", s.StartTimes)

	if code, body := get(t, s.Temporal.UIURL()); code != 200 || !strings.Contains(strings.ToLower(body), "<html") {
		t.Fatalf("Web UI: %d", code)
	}
	if _, err := s.EtcdClient.Put(ctx, "/stack-test", "x"); err != nil {
		t.Fatalf("etcd put: %v", err)
	}
	targets, err := s.KongClient.Targets.ListAll(ctx, ptr("payments"))
	if err != nil || len(targets) != 2 {
		t.Fatalf("kong targets %v %v", targets, err)
	}
	resp, err := http.Get(s.Kong.ProxyURL() + "/payments/items/a")
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("X-Region") != "us-east" {
		t.Fatalf("proxy: %v %v", resp, err)
	}
	resp.Body.Close()
	for name, r := range s.Regions {
		if code, _ := get(t, r.URL()+"/healthz"); code != 200 {
			t.Fatalf("region %s healthz %d", name, code)
		}
	}
	for _, u := range []string{s.Prom.PrometheusURL(), s.Prom.AlertmanagerURL()} {
		if code, _ := get(t, u+"/-/ready"); code != 200 {
			t.Fatalf("%s not ready: %d", u, code)
		}
	}
	// The in-process worker polls the failover task queue.
	deadline := time.Now().Add(20 * time.Second)
	for {
		d, err := s.TemporalClient.WorkflowService().DescribeTaskQueue(ctx, &workflowservice.DescribeTaskQueueRequest{
			Namespace: "default", TaskQueue: &taskqueuepb.TaskQueue{Name: workflows.TaskQueue}, TaskQueueType: enumspb.TASK_QUEUE_TYPE_WORKFLOW})
		if err == nil && len(d.Pollers) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no worker polls %s: %v", workflows.TaskQueue, err)
		}
		time.Sleep(50 * time.Millisecond)
	}

	addrs := []string{s.Temporal.Address(), strings.TrimPrefix(s.Temporal.UIURL(), "http://"), strings.TrimPrefix(s.Etcd.Endpoint(), "http://"),
		strings.TrimPrefix(s.Kong.AdminURL(), "http://"), strings.TrimPrefix(s.Kong.ProxyURL(), "http://"),
		strings.TrimPrefix(s.Prom.PrometheusURL(), "http://"), strings.TrimPrefix(s.Prom.AlertmanagerURL(), "http://")}
	for _, r := range s.Regions {
		addrs = append(addrs, r.Addr())
	}
	stopped := time.Now()
	s.Stop()
	t.Logf("stop took %s", time.Since(stopped))
	for _, a := range addrs {
		if c, err := net.DialTimeout("tcp", a, time.Second); err == nil {
			c.Close()
			t.Errorf("%s still listening after Stop", a)
		}
	}
	// The embedded Temporal server keeps ~30 goroutines it cannot close (see testsuite/temporaldev); allow for them.
	const allowance = 60
	deadline = time.Now().Add(15 * time.Second)
	for runtime.NumGoroutine() > before+allowance {
		if time.Now().After(deadline) {
			t.Fatalf("goroutines: %d before start, %d after stop (allowed %d more)", before, runtime.NumGoroutine(), allowance)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPortInUseLeavesNothingRunning(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// Temporal and etcd start before Kong fails: they must be stopped again.
	var started []int
	for range 2 {
		p, err := freeport.Get(0)
		if err != nil {
			t.Fatal(err)
		}
		started = append(started, p)
	}
	_, err = Start(ctx, Options{NoUI: true, Ports: Ports{TemporalGRPC: started[0], Etcd: started[1], KongAdmin: port}})
	if err == nil || !strings.Contains(err.Error(), fmt.Sprint(port)) {
		t.Fatalf("error %v, want it to name port %d", err, port)
	}
	for _, p := range started {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", p), time.Second); err == nil {
			c.Close()
			t.Errorf("port %d still listening after a failed start", p)
		}
	}
}

func TestUnwritableDirIsNamed(t *testing.T) {
	_, err := Start(context.Background(), Options{NoUI: true, Dir: "/proc/failover-cannot-write-here"})
	if err == nil || !strings.Contains(err.Error(), "/proc/failover-cannot-write-here") {
		t.Fatalf("error %v", err)
	}
}

func ptr(s string) *string { return &s }
