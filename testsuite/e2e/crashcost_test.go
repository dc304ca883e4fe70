package e2e

import (
	"bytes"
	"fmt"
	"maps"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// BenchmarkCrashCost is the crash drill: what one kill -9 of the worker costs a running failover. Each iteration
// runs three failovers on a real worker process (the ./worker binary): one without a crash (the baseline, in the
// same run), one in which the worker is SIGKILLed once at a random moment and one in which it is killed twice; a
// replacement worker starts at once after each kill, as a supervisor would restart it. The kill moments are drawn
// from CRASH_SEED (default 1) within the first baseline's duration. It reports p50/p99 of the failover duration
// (start → result, as a client sees it) per number of kills, and what each crash added over the baseline (p50 and
// p99 delta per crash, p50 ratio). Every failover must end succeeded with Kong on the target and the etcd epoch
// written exactly once, crash or not; -v prints where each kill landed.
//
// Two plans: "pauses" spends most of its time in the step pause and the verification interval (kills mostly hit a
// timer: the cost is the sticky queue's wait), "slow-checks" adds 100 ms to every region answer, so a third of the
// failover is HTTP checks through the gateway (kills often hit a running activity: the cost is its heartbeat
// timeout).
//
//	go test -run '^$' -bench CrashCost -benchtime 10x -timeout 30m ./testsuite/e2e/
func BenchmarkCrashCost(b *testing.B) {
	bin := buildWorker(b)
	b.Run("pauses", func(b *testing.B) { crashCost(b, bin, 0) })
	b.Run("slow-checks", func(b *testing.B) { crashCost(b, bin, 100) })
}

// crashCost runs the drill with latencyMS added to every answer of both regions.
func crashCost(b *testing.B, bin string, latencyMS int) {
	s := startStack(b)
	for _, r := range []string{"us-east", "eu-west"} {
		fault(b, s, r, fmt.Sprintf(`{"latency_ms":%d}`, latencyMS))
	}
	p := planWithoutPrometheus(s)
	p.Traffic.StepPause = time.Second // timers fire on whole seconds on the embedded server
	seed := uint64(1)
	if v := os.Getenv("CRASH_SEED"); v != "" {
		n, err := strconv.ParseUint(v, 10, 64)
		if err != nil {
			b.Fatalf("CRASH_SEED=%q: want an unsigned integer", v)
		}
		seed = n
	}
	rng := rand.New(rand.NewPCG(seed, 0))
	d := &crashDrill{b: b, s: s, bin: bin, logDir: b.TempDir()}
	d.worker = d.startWorker()

	regions := []string{"us-east", "eu-west"}
	const minGap = 500 * time.Millisecond
	took := map[int][]time.Duration{}      // number of kills → failover durations
	byStep := map[string][]time.Duration{} // step hit by a single kill → failover durations
	var window time.Duration               // the first baseline: kills land within it
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, kills := range []int{0, 1, 2} {
			from, to := regions[d.n%2], regions[(d.n+1)%2]
			var at []time.Duration
			for range kills {
				at = append(at, time.Duration(rng.Int64N(int64(window))))
			}
			slices.Sort(at)
			if kills == 2 && at[1]-at[0] < minGap {
				at[1] = at[0] + minGap // the replacement has connected and taken work before it dies too
			}
			req := request(p, from, to)
			req.Force = true // the source stays healthy: no fault to set and clear between runs
			dur, hit := d.failover(req, at)
			// A failover that ended before a planned kill counts under the kills that happened.
			took[len(hit)] = append(took[len(hit)], dur)
			if len(hit) == 1 {
				byStep[hit[0]] = append(byStep[hit[0]], dur)
			}
			if window == 0 {
				window = dur
			}
		}
	}
	b.StopTimer()

	base50, base99 := percentiles(took[0])
	b.ReportMetric(base50.Seconds(), "base-p50-s")
	b.ReportMetric(base99.Seconds(), "base-p99-s")
	for _, kills := range []int{1, 2} {
		if len(took[kills]) == 0 {
			continue
		}
		p50, p99 := percentiles(took[kills])
		k := time.Duration(kills)
		b.ReportMetric(p50.Seconds(), fmt.Sprintf("kill%d-p50-s", kills))
		b.ReportMetric(p99.Seconds(), fmt.Sprintf("kill%d-p99-s", kills))
		b.ReportMetric(((p50 - base50) / k).Seconds(), fmt.Sprintf("kill%d-added-p50-s/crash", kills))
		b.ReportMetric(((p99 - base50) / k).Seconds(), fmt.Sprintf("kill%d-added-p99-s/crash", kills))
		b.ReportMetric(float64(p50)/float64(base50), fmt.Sprintf("kill%d-p50-ratio", kills))
	}
	b.Logf("seed %d; failovers with 0, 1, 2 kills: %d, %d, %d", seed, len(took[0]), len(took[1]), len(took[2]))
	steps := slices.Sorted(maps.Keys(byStep))
	for _, step := range steps {
		_, worst := percentiles(byStep[step])
		b.Logf("one kill in %s: %d failovers, added at most %s", step, len(byStep[step]), (worst - base50).Round(10*time.Millisecond))
	}
}

// crashDrill runs failovers on one worker process at a time, killing and replacing it on cue.
type crashDrill struct {
	b      *testing.B
	s      *stack.Stack
	bin    string
	logDir string
	worker *workerProcess
	n      int // failovers so far; also names the worker log files
}

// failover runs one failover, SIGKILLs the worker at each moment in kills (after the start, ascending) while it
// is still running and starts a replacement right away. It checks the end state and returns the duration and the
// step each kill that happened hit.
func (d *crashDrill) failover(req workflows.Request, kills []time.Duration) (time.Duration, []string) {
	b, s := d.b, d.s
	b.Helper()
	before, err := s.EtcdClient.Get(b.Context(), req.Plan.Etcd.ActiveKey)
	if err != nil || len(before.Kvs) != 1 {
		b.Fatalf("read %s before failover %d: %v", req.Plan.Etcd.ActiveKey, d.n, err)
	}
	prevEpoch := active(b, s).Value.Epoch

	begin := time.Now()
	run := start(b, s, req)
	finished := make(chan struct{})
	var res workflows.Result
	var runErr error
	go func() {
		defer close(finished)
		runErr = run.Get(b.Context(), &res)
	}()
	done := 0
	for _, at := range kills {
		select {
		case <-finished:
		case <-time.After(time.Until(begin.Add(at))):
			d.kill()
			done++
			continue
		}
		break
	}
	select {
	case <-finished:
	case <-time.After(2 * time.Minute):
		b.Fatalf("failover %d (%d kills at %v) still running after 2 minutes%s", d.n, done, kills[:done], d.workerLogs())
	}
	took := time.Since(begin)
	if runErr != nil {
		b.Fatalf("failover %d (%d kills at %v): %v%s", d.n, done, kills[:done], runErr, d.workerLogs())
	}

	if res.Outcome != workflows.Succeeded {
		b.Fatalf("failover %d (%d kills at %v): outcome %s: %s%s", d.n, done, kills[:done], res.Outcome, res.Reason, d.workerLogs())
	}
	if w := weights(b, s); w[req.To] != 100 || w[req.From] != 0 {
		b.Fatalf("failover %d (%d kills at %v): Kong weights %v, want all on %s", d.n, done, kills[:done], w, req.To)
	}
	after, err := s.EtcdClient.Get(b.Context(), req.Plan.Etcd.ActiveKey)
	if err != nil || len(after.Kvs) != 1 {
		b.Fatalf("read %s after failover %d: %v", req.Plan.Etcd.ActiveKey, d.n, err)
	}
	// Version counts the key's writes: exactly one per failover, however often the worker died.
	if a := active(b, s).Value; a.Region != req.To || a.Epoch != prevEpoch+1 || after.Kvs[0].Version != before.Kvs[0].Version+1 {
		b.Fatalf("failover %d (%d kills at %v): etcd %+v at version %d, want %s at epoch %d and version %d (one write)",
			d.n, done, kills[:done], a, after.Kvs[0].Version, req.To, prevEpoch+1, before.Kvs[0].Version+1)
	}
	var during []string
	for _, at := range kills[:done] {
		during = append(during, stepAt(res.Steps, begin.Add(at)))
	}
	if testing.Verbose() && done > 0 {
		// Benchmark logs are cut to 10 lines: the details go to stderr, with -v.
		fmt.Fprintf(os.Stderr, "failover %d: killed at %v in %v; took %s\n", d.n, kills[:done], during, took.Round(time.Millisecond))
	}
	d.n++
	return took, during
}

// kill SIGKILLs the current worker and starts its replacement at once.
func (d *crashDrill) kill() {
	if err := d.worker.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		d.b.Fatalf("kill worker: %v", err)
	}
	<-d.worker.exited
	d.worker = d.startWorker()
}

// startWorker runs the worker binary with its output in a log file of its own.
func (d *crashDrill) startWorker() *workerProcess {
	d.b.Helper()
	log, err := os.Create(filepath.Join(d.logDir, fmt.Sprintf("worker-%03d-%d.log", d.n, time.Now().UnixNano())))
	if err != nil {
		d.b.Fatal(err)
	}
	cmd := exec.Command(d.bin, "--temporal-address", d.s.Temporal.Address(), "--etcd-endpoints", d.s.Etcd.Endpoint(),
		"--kong-admin-url", d.s.Kong.AdminURL(), "--metrics-addr", "off", "--audit-log", os.DevNull)
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		d.b.Fatal(err)
	}
	w := &workerProcess{cmd: cmd, exited: make(chan struct{})}
	go func() {
		cmd.Wait()
		log.Close()
		close(w.exited)
	}()
	d.b.Cleanup(func() {
		cmd.Process.Kill()
		<-w.exited
	})
	return w
}

// workerLogs is the tail of the current worker's log, for a failure message.
func (d *crashDrill) workerLogs() string {
	files, _ := filepath.Glob(filepath.Join(d.logDir, "*.log"))
	if len(files) == 0 {
		return ""
	}
	slices.Sort(files)
	raw, _ := os.ReadFile(files[len(files)-1])
	if len(raw) > 4000 {
		raw = raw[len(raw)-4000:]
	}
	return fmt.Sprintf("\nlast worker log (%s):\n%s", filepath.Base(files[len(files)-1]), bytes.TrimSpace(raw))
}

// stepAt names the failover step that was running at t.
func stepAt(steps []workflows.StepRecord, t time.Time) string {
	name := "start"
	for _, st := range steps {
		if !st.Started.After(t) {
			name = st.Name
		}
	}
	return name
}
