package e2e

import (
	"cmp"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.temporal.io/api/workflowservice/v1"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/control"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/testsuite/temporaldev"
	"github.com/failover/failover/workflows"
)

// BenchmarkEvacuation evacuates us-east on the local stack with EVAC_SERVICES services (default 1,000: 1,000 etcd
// keys, 1,000 Kong upstreams in the stand-in, all served by the two demo regions), auto-approved, one detection
// probe and one HTTP verification check each, EVAC_CONCURRENCY failovers at once (default 200). The worker is its
// own process (the release binary); the test process runs Temporal, etcd, the Kong stand-in and the regions. It
// reports the wall time, the per-service RTO p50/p99, the CPU seconds and peak RSS of the worker and of the
// server process, and, in the same run, the floor: the same etcd and Kong writes made directly, without Temporal,
// at the same concurrency (services moved back), and the ratio of the two. Run it once: `make bench`.
//
// Where the time goes: it also reports what one failover costs Temporal (history events, activities, workflow tasks),
// what the evacuation itself adds, and the server's persistence calls per service by operation (SQLite reads and
// writes, visibility writes). EVAC_PROFILE=DIR writes CPU profiles of the evacuation: DIR/server.pprof (this process)
// and, when perf is installed, DIR/worker.perf.data. EVAC_WORKER_BIN runs a prebuilt worker (compare two builds on
// the same stack); the worker reads FAILOVER_STICKY_CACHE from the environment like the release binary.
func BenchmarkEvacuation(b *testing.B) {
	n := envInt(b, "EVAC_SERVICES", 1000)
	concurrency := envInt(b, "EVAC_CONCURRENCY", 200)
	bin := os.Getenv("EVAC_WORKER_BIN") // a prebuilt worker, to compare two builds on the same stack code
	if bin == "" {
		bin = buildWorker(b)
	}
	ops := temporaldev.NewOpCounter()
	s := startCountedStack(b, ops)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	dir := b.TempDir()
	names := stack.ServiceNames("svc", n)
	seeded := time.Now()
	if err := s.SeedServices(ctx, dir, names, stack.ServiceOptions{Probes: 1, Samples: 1}); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d services (etcd keys, Kong upstreams, plans) in %s", n, time.Since(seeded).Round(time.Millisecond))
	fault(b, s, "us-east", `{"status":503}`)
	worker := startWorkerProcess(b, bin, s)
	req := evacuationOf(b, dir, fmt.Sprintf("from: us-east\nconcurrency: %d\napproval: {mode: auto, approvers: [alice]}\n", concurrency))

	b.ResetTimer()
	for range b.N {
		serverBefore, workerBefore, opsBefore := selfCPU(), procCPU(b, worker.Process.Pid), ops.Counts()
		stopProfiles := startProfiles(b, worker.Process.Pid)
		begin := time.Now()
		run, err := control.StartEvacuation(ctx, s.TemporalClient, req)
		if err != nil {
			b.Fatal(err)
		}
		var res workflows.EvacuationResult
		if err := run.Get(ctx, &res); err != nil {
			b.Fatal(err)
		}
		wall := time.Since(begin)
		serverCPU, workerCPU := selfCPU()-serverBefore, procCPU(b, worker.Process.Pid)-workerBefore
		stopProfiles()
		b.Logf("%d services in %s: server %.1f s CPU (%.0f ms a service), worker %.1f s CPU (%.0f ms a service), load average %s",
			n, wall.Round(time.Millisecond), serverCPU.Seconds(), serverCPU.Seconds()*1000/float64(n), workerCPU.Seconds(),
			workerCPU.Seconds()*1000/float64(n), loadAverage())
		persisted, visibility := logOps(b, opsBefore, ops.Counts(), n)
		// Under overload a verification can fail and that service roll back: an honest outcome, reported, not fatal.
		if res.Outcome != workflows.Succeeded && res.Outcome != workflows.Incomplete {
			b.Fatalf("result %s (%s): %v", res.Outcome, res.Reason, res.Counts)
		}
		for _, sv := range res.NotSucceeded {
			b.Logf("not succeeded: %s %s at %s: %s", sv.Service, sv.Outcome, sv.Step, sv.Reason)
		}
		st, err := control.EvacuationStatus(ctx, s.TemporalClient, run.GetID(), "")
		if err != nil {
			b.Fatal(err)
		}
		var rtos []float64
		var moved []string // the floor moves these back: the same writes, done directly
		for _, sv := range st.Services {
			if sv.Outcome == workflows.Succeeded {
				rtos = append(rtos, sv.RTOSeconds)
				moved = append(moved, sv.Service)
			}
		}
		slices.Sort(rtos)
		if one, err := control.Status(ctx, s.TemporalClient, workflows.WorkflowID(names[len(names)-1]), ""); err == nil {
			var steps []string
			for _, sr := range one.Steps {
				steps = append(steps, fmt.Sprintf("%s %s→%.2fs", sr.Name, sr.Started.Sub(one.StartedAt).Round(time.Millisecond), sr.Seconds()))
			}
			b.Logf("%s: started %s after the evacuation, steps %s", names[len(names)-1], one.StartedAt.Sub(begin).Round(time.Millisecond), strings.Join(steps, ", "))
		}
		one := costOfRun(b, s, workflows.WorkflowID(names[0]), "")
		parent := evacuationCost(b, s, run.GetID())
		b.Logf("one failover: %d events, %d activities (%d publishing), %d local activities, %d workflow tasks, %d upserts, %d timers",
			one.Events, one.Activities, one.Publishing, one.Local, one.WorkflowTasks, one.Upserts, one.Timers)
		b.Logf("the evacuation, all runs: %d events, %d workflow tasks, %d activities, %d upserts (%.1f events and %.2f workflow tasks per service)",
			parent.Events, parent.WorkflowTasks, parent.Activities, parent.Upserts, float64(parent.Events)/float64(n), float64(parent.WorkflowTasks)/float64(n))
		floor := directEvacuation(b, s, moved, concurrency)
		b.ReportMetric(float64(res.Counts[workflows.Succeeded]), "succeeded")
		b.ReportMetric(wall.Seconds(), "wall-s")
		b.ReportMetric(rtos[len(rtos)/2], "rto-p50-s")
		b.ReportMetric(rtos[min(len(rtos)-1, len(rtos)*99/100)], "rto-p99-s")
		b.ReportMetric(float64(n)/wall.Seconds(), "services/s")
		b.ReportMetric(workerCPU.Seconds(), "worker-cpu-s")
		b.ReportMetric(float64(procPeakRSS(b, worker.Process.Pid))/(1<<20), "worker-rss-MiB")
		b.ReportMetric(serverCPU.Seconds(), "server-cpu-s")
		b.ReportMetric(float64(selfPeakRSS())/(1<<20), "server-rss-MiB")
		b.ReportMetric(floor.Seconds(), "direct-s")
		b.ReportMetric(wall.Seconds()/floor.Seconds(), "ratio")
		// Where the time goes: what one failover costs the server.
		b.ReportMetric(float64(one.Events), "events/failover")
		b.ReportMetric(float64(one.Activities), "activities/failover")
		b.ReportMetric(float64(one.WorkflowTasks), "wft/failover")
		b.ReportMetric(persisted, "persistence-calls/service")
		b.ReportMetric(visibility, "visibility-writes/service")
		b.ReportMetric(serverCPU.Seconds()*1000/float64(n), "server-cpu-ms/service")
		b.ReportMetric(workerCPU.Seconds()*1000/float64(n), "worker-cpu-ms/service")
		b.Logf("%d services: wall %s, %d evacuation runs, direct writes %s", n, wall.Round(time.Millisecond), st.Run+1, floor.Round(time.Millisecond))
		if b.N > 1 {
			b.Fatal("run it once (-benchtime 1x): the services are on eu-west now")
		}
	}
}

// directEvacuation moves every service back to us-east with the same etcd and Kong writes an evacuation makes
// (read the key and the weights, fenced cutover, weights 100/0), straight from Go at the given concurrency.
func directEvacuation(b *testing.B, s *stack.Stack, names []string, concurrency int) time.Duration {
	// The worker's HTTP timeout: on a loaded machine the Kong stand-in holding 1,000 upstreams can take seconds.
	acts := &activities.Activities{Etcd: s.EtcdClient, Kong: s.KongClient, HTTP: &http.Client{Timeout: 30 * time.Second}}
	east, west := s.Regions["us-east"].Addr(), s.Regions["eu-west"].Addr()
	ctx := context.Background()
	work := make(chan string)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	begin := time.Now()
	for range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range work {
				err := func() error {
					key := "/failover/" + name + "/active"
					cur, err := acts.ReadActive(ctx, key)
					if err != nil {
						return err
					}
					if _, err := acts.ReadWeights(ctx, name); err != nil {
						return err
					}
					if _, err := acts.Cutover(ctx, activities.CutoverInput{Key: key, Expected: cur, Region: "us-east", RunID: "direct"}); err != nil {
						return err
					}
					_, err = acts.SetWeights(ctx, activities.SetWeightsInput{Upstream: name, Weights: []activities.TargetWeight{
						{Target: east, Weight: 100}, {Target: west, Weight: 0}}})
					return err
				}()
				if err != nil {
					mu.Lock()
					firstErr = cmp.Or(firstErr, fmt.Errorf("%s: %w", name, err))
					mu.Unlock()
				}
			}
		}()
	}
	for _, n := range names {
		work <- n
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		b.Fatal(firstErr)
	}
	return time.Since(begin)
}

// startWorkerProcess runs the worker binary against the stack with its audit log in a file (not the test's output).
func startWorkerProcess(b *testing.B, bin string, s *stack.Stack) *exec.Cmd {
	cmd := exec.Command(bin, "--temporal-address", s.Temporal.Address(), "--etcd-endpoints", s.Etcd.Endpoint(),
		"--kong-admin-url", s.Kong.AdminURL(), "--metrics-addr", "off", "--audit-log", filepath.Join(b.TempDir(), "audit.log"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

func envInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("%s=%q: want a positive number", name, v)
	}
	return n
}

// loadAverage is the machine's 1, 5 and 15 minute load average (the machine may be shared).
func loadAverage() string {
	raw, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(raw))[:3], " ")
}

// selfCPU is this process's user+system CPU time.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// selfPeakRSS is this process's peak resident set, in bytes.
func selfPeakRSS() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Maxrss * 1024
}

// procCPU reads another process's user+system CPU time from /proc/PID/stat.
func procCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name (which may hold spaces) start at state; utime and stime are 14th and 15th.
	fields := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	const ticks = 100 // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / ticks
}

// procPeakRSS reads another process's peak resident set (VmHWM) in bytes.
func procPeakRSS(b *testing.B, pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

// costOfRun reads one run's history (runID "" = the latest) and what it cost Temporal.
func costOfRun(b *testing.B, s *stack.Stack, id, runID string) failoverCost {
	h, err := history(s.TemporalClient, id, runID)
	if err != nil {
		b.Fatal(err)
	}
	return costOf(h)
}

// evacuationCost sums the histories of every run of an evacuation (it continues as new every MaxServicesPerRun
// failovers).
func evacuationCost(b *testing.B, s *stack.Stack, id string) failoverCost {
	var sum failoverCost
	var token []byte
	for {
		resp, err := s.TemporalClient.ListWorkflow(context.Background(), &workflowservice.ListWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowId = %q", id), NextPageToken: token})
		if err != nil {
			b.Fatal(err)
		}
		for _, ex := range resp.Executions {
			c := costOfRun(b, s, id, ex.GetExecution().GetRunId())
			sum.Events += c.Events
			sum.Activities += c.Activities
			sum.WorkflowTasks += c.WorkflowTasks
			sum.Upserts += c.Upserts
			sum.Local += c.Local
		}
		if token = resp.NextPageToken; len(token) == 0 {
			return sum
		}
	}
}

// startCountedStack is startStack with the Temporal server's persistence calls counted.
func startCountedStack(b *testing.B, ops *temporaldev.OpCounter) *stack.Stack {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{NoUI: true, NoWorker: true, TemporalOps: ops})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(s.Stop)
	return s
}

// logOps logs the server's persistence calls during the evacuation per service, the most frequent first, and
// returns the calls to the main store and the visibility writes per service.
func logOps(b *testing.B, before, after map[string]int64, n int) (persisted, visibility float64) {
	type op struct {
		name string
		n    int64
	}
	var all []op
	for k, v := range after {
		if d := v - before[k]; d > 0 {
			all = append(all, op{k, d})
		}
	}
	slices.SortFunc(all, func(x, y op) int { return cmp.Compare(y.n, x.n) })
	var lines []string
	for _, o := range all {
		per := float64(o.n) / float64(n)
		lines = append(lines, fmt.Sprintf("%s %.1f", o.name, per))
		switch {
		case strings.HasPrefix(o.name, "persistence/"):
			persisted += per
		case strings.HasPrefix(o.name, "visibility/") && !strings.Contains(o.name, "List") && !strings.Contains(o.name, "Count") &&
			!strings.Contains(o.name, "Get"):
			visibility += per
		}
	}
	b.Logf("server persistence calls per service: %s", strings.Join(lines, ", "))
	return persisted, visibility
}

// startProfiles profiles the evacuation when EVAC_PROFILE names a directory: this process (the server side) with
// runtime/pprof into server.pprof, and the worker process with perf (when on PATH) into worker.perf.data. The
// returned func stops both.
func startProfiles(b *testing.B, workerPID int) func() {
	dir := os.Getenv("EVAC_PROFILE")
	if dir == "" {
		return func() {}
	}
	f, err := os.Create(filepath.Join(dir, "server.pprof"))
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	var perf *exec.Cmd
	if path, err := exec.LookPath("perf"); err == nil {
		perf = exec.Command(path, "record", "-F", "199", "-g", "-p", strconv.Itoa(workerPID), "-o", filepath.Join(dir, "worker.perf.data"))
		if err := perf.Start(); err != nil {
			b.Logf("perf: %v (no worker profile)", err)
			perf = nil
		}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		if perf != nil {
			_ = perf.Process.Signal(os.Interrupt)
			_ = perf.Wait()
		}
		b.Logf("profiles in %s: go tool pprof -top %s; perf report -i %s", dir, f.Name(), filepath.Join(dir, "worker.perf.data"))
	}
}
