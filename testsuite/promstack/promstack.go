// Package promstack runs the real Prometheus and Alertmanager binaries on loopback with generated configs, so tests
// and the dev stack exercise the same alert path as production: scrape → rule → Alertmanager → webhook.
package promstack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/failover/failover/testsuite/freeport"
)

// Target is one endpoint Prometheus scrapes at /metrics.
type Target struct {
	// Job is the scrape job; default DefaultJob ("regions").
	Job string
	// Addr is host:port.
	Addr string
	// Labels are attached to every series of the target, e.g. service and region.
	Labels map[string]string
}

// Options configure a stack. The zero value runs both binaries on free loopback ports in a temp dir.
type Options struct {
	// Dir holds configs, data and the two logs; "" means a temp dir removed on Stop.
	Dir string
	// Targets are scraped at /metrics.
	Targets []Target
	// WebhookURL is the Alertmanager webhook receiver (the orchestrator's POST /webhooks/alertmanager).
	WebhookURL string
	// WebhookToken is sent as "Authorization: Bearer <token>"; it is written to a 0600 file the config refers to.
	WebhookToken string
	// ScrapeInterval is the scrape and rule evaluation interval; default 1s.
	ScrapeInterval time.Duration
	// PrometheusPort and AlertmanagerPort are loopback ports; 0 picks free ones.
	PrometheusPort, AlertmanagerPort int
	// Logger receives start/stop events; default slog.Default().
	Logger *slog.Logger
}

// readyTimeout bounds how long each binary may take to answer /-/ready (both answer in well under a second here).
const readyTimeout = 30 * time.Second

// stopGrace is how long a binary gets to exit on SIGTERM before it is killed.
const stopGrace = 5 * time.Second

// Stack is a running Prometheus and Alertmanager pair.
type Stack struct {
	log       *slog.Logger
	dir       string
	removeDir bool
	prom, am  *process
	stopOnce  sync.Once
	stopErr   error
	stopped   chan struct{}
}

// Start writes the configs, starts Alertmanager and Prometheus, and returns once both answer /-/ready. The stack
// runs until Stop is called or ctx is done; if anything fails nothing is left running.
func Start(ctx context.Context, opts Options) (*Stack, error) {
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	promBin, err := lookBinary("prometheus", "prometheus", "prometheus")
	if err != nil {
		return nil, err
	}
	amBin, err := lookBinary("alertmanager", "prometheus-alertmanager", "alertmanager", "prometheus-alertmanager")
	if err != nil {
		return nil, err
	}
	if err := freeport.Check(opts.PrometheusPort, "prometheus"); err != nil {
		return nil, fmt.Errorf("promstack: %w", err)
	}
	if err := freeport.Check(opts.AlertmanagerPort, "alertmanager"); err != nil {
		return nil, fmt.Errorf("promstack: %w", err)
	}
	promPort, err := freeport.Get(opts.PrometheusPort)
	if err != nil {
		return nil, fmt.Errorf("promstack: %w", err)
	}
	amPort, err := freeport.Get(opts.AlertmanagerPort)
	if err != nil {
		return nil, fmt.Errorf("promstack: %w", err)
	}
	if promPort == amPort {
		return nil, fmt.Errorf("promstack: PrometheusPort and AlertmanagerPort are both %d: use two ports", promPort)
	}

	dir, removeDir := opts.Dir, false
	if dir == "" {
		d, err := os.MkdirTemp("", "failover-promstack-*")
		if err != nil {
			return nil, fmt.Errorf("promstack: create temp dir: %w", err)
		}
		dir, removeDir = d, true
	} else {
		if dir, err = filepath.Abs(dir); err != nil {
			return nil, fmt.Errorf("promstack: Dir %q: %w", opts.Dir, err)
		}
	}
	s := &Stack{log: log, dir: dir, removeDir: removeDir, stopped: make(chan struct{})}
	fail := func(err error) (*Stack, error) {
		s.Stop()
		return nil, err
	}
	promAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(promPort))
	amAddr := net.JoinHostPort("127.0.0.1", strconv.Itoa(amPort))
	files, err := writeConfigs(dir, opts, amAddr)
	if err != nil {
		return fail(err)
	}

	// Alertmanager first: Prometheus would otherwise log failed sends until it is up.
	s.am, err = startProcess("alertmanager", amBin, amAddr, filepath.Join(dir, "alertmanager.log"),
		"--web.listen-address="+amAddr,
		"--config.file="+files.alertmanager,
		"--storage.path="+filepath.Join(dir, "alertmanager-data"),
		"--cluster.listen-address=", // empty disables gossip clustering: one node, no extra port
	)
	if err != nil {
		return fail(err)
	}
	s.prom, err = startProcess("prometheus", promBin, promAddr, filepath.Join(dir, "prometheus.log"),
		"--web.listen-address="+promAddr,
		"--config.file="+files.prometheus,
		"--storage.tsdb.path="+filepath.Join(dir, "prometheus-data"),
		"--web.enable-lifecycle",
	)
	if err != nil {
		return fail(err)
	}
	// Both start in parallel; wait for each and record how long it took from exec to ready.
	for _, p := range []*process{s.am, s.prom} {
		if err := p.waitReady(ctx); err != nil {
			return fail(err)
		}
	}
	log.Info("promstack ready",
		"prometheus", s.PrometheusURL(), "prometheus_start", s.prom.startTook.Round(time.Millisecond),
		"alertmanager", s.AlertmanagerURL(), "alertmanager_start", s.am.startTook.Round(time.Millisecond),
		"dir", dir, "targets", len(opts.Targets))

	go func() {
		select {
		case <-ctx.Done():
			s.Stop()
		case <-s.stopped:
		}
	}()
	return s, nil
}

type configFiles struct{ prometheus, rules, alertmanager string }

func writeConfigs(dir string, opts Options, amAddr string) (configFiles, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return configFiles{}, fmt.Errorf("promstack: dir %s is not writable (%v): pass a writable Dir", dir, err)
	}
	f := configFiles{
		prometheus:   filepath.Join(dir, "prometheus.yml"),
		rules:        filepath.Join(dir, "rules.yml"),
		alertmanager: filepath.Join(dir, "alertmanager.yml"),
	}
	tokenFile := ""
	if opts.WebhookToken != "" {
		tokenFile = filepath.Join(dir, "webhook-token")
		if err := writeFile(tokenFile, opts.WebhookToken, 0o600); err != nil {
			return configFiles{}, err
		}
	}
	promCfg, err := PrometheusConfig(opts, f.rules, amAddr)
	if err != nil {
		return configFiles{}, err
	}
	amCfg, err := AlertmanagerConfig(opts, tokenFile)
	if err != nil {
		return configFiles{}, err
	}
	for path, content := range map[string]string{
		f.prometheus:   promCfg,
		f.rules:        Rules(RuleParamsFor(opts.ScrapeInterval)),
		f.alertmanager: amCfg,
	} {
		if err := writeFile(path, content, 0o600); err != nil {
			return configFiles{}, err
		}
	}
	return f, nil
}

func writeFile(path, content string, mode os.FileMode) error {
	if err := os.WriteFile(path, []byte(content), mode); err != nil {
		return fmt.Errorf("promstack: write %s (%v): pass a writable Dir", path, err)
	}
	return nil
}

// lookBinary finds the first of names in PATH, or says which Debian package provides it.
func lookBinary(what, pkg string, names ...string) (string, error) {
	for _, n := range names {
		if p, err := exec.LookPath(n); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("promstack: %s not found in PATH (looked for %s): install it with 'apt-get install %s'",
		what, strings.Join(names, ", "), pkg)
}

// PrometheusURL is Prometheus' base URL, e.g. http://127.0.0.1:9090.
func (s *Stack) PrometheusURL() string { return s.prom.url() }

// AlertmanagerURL is Alertmanager's base URL, e.g. http://127.0.0.1:9093.
func (s *Stack) AlertmanagerURL() string { return s.am.url() }

// Dir is the directory holding configs, data and prometheus.log / alertmanager.log.
func (s *Stack) Dir() string { return s.dir }

// StartTimes report how long each binary took from exec to answering /-/ready.
func (s *Stack) StartTimes() (prometheus, alertmanager time.Duration) {
	return s.prom.startTook, s.am.startTook
}

// Stop terminates both binaries (SIGTERM, then SIGKILL after a grace period), waits for them, and removes a temp
// Dir. It is safe to call more than once and returns the first call's result.
func (s *Stack) Stop() error {
	s.stopOnce.Do(func() {
		defer close(s.stopped)
		t0 := time.Now()
		var errs []error
		// Prometheus first so it does not log failed alert sends while Alertmanager goes away.
		for _, p := range []*process{s.prom, s.am} {
			if p != nil {
				errs = append(errs, p.stop(s.log))
			}
		}
		if s.removeDir {
			if err := os.RemoveAll(s.dir); err != nil {
				errs = append(errs, fmt.Errorf("promstack: remove %s: %w", s.dir, err))
			}
		}
		s.stopErr = errors.Join(errs...)
		s.log.Info("promstack stopped", "took", time.Since(t0).Round(time.Millisecond), "err", s.stopErr)
	})
	return s.stopErr
}

// process is one child binary.
type process struct {
	name      string
	addr      string // host:port it listens on
	cmd       *exec.Cmd
	logPath   string
	logFile   *os.File
	exited    chan struct{} // closed once Wait returned
	waitErr   error
	started   time.Time
	startTook time.Duration
}

func (p *process) url() string { return "http://" + p.addr }

func startProcess(name, bin, addr, logPath string, args ...string) (*process, error) {
	logFile, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("promstack: %s log %s (%v): pass a writable Dir", name, logPath, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid: true, // keep terminal signals (Ctrl-C) for us; Stop decides when the child ends
		// If the test binary dies without running Stop, the kernel kills the child instead of leaking it.
		Pdeathsig: syscall.SIGKILL,
	}
	p := &process{name: name, addr: addr, cmd: cmd, logPath: logPath, logFile: logFile, exited: make(chan struct{})}
	p.started = time.Now()
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("promstack: start %s: %w", name, err)
	}
	go func() {
		p.waitErr = cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	return p, nil
}

// waitReady polls /-/ready until it answers 200, the process exits, ctx ends or readyTimeout passes.
func (p *process) waitReady(ctx context.Context) error {
	url := p.url() + "/-/ready"
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: time.Second}
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if resp, err := client.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				p.startTook = time.Since(p.started)
				return nil
			}
		}
		select {
		case <-p.exited:
			return fmt.Errorf("promstack: %s exited while starting (%v): %s", p.name, p.waitErr, p.lastLogLine())
		case <-ctx.Done():
			return fmt.Errorf("promstack: %s not ready at %s after %s: %s", p.name, url,
				time.Since(p.started).Round(time.Millisecond), p.lastLogLine())
		case <-tick.C:
		}
	}
}

func (p *process) stop(log *slog.Logger) error {
	select {
	case <-p.exited:
		return nil
	default:
	}
	t0 := time.Now()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(stopGrace):
		log.Warn("promstack: killing after grace period", "process", p.name, "grace", stopGrace)
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
	log.Debug("promstack: process stopped", "process", p.name, "took", time.Since(t0).Round(time.Millisecond))
	return nil
}

// lastLogLine returns the most telling line of the child's log: the last error, else the last line. Both binaries
// log logfmt, so a port clash reads e.g. `... level=error ... err="listen tcp 127.0.0.1:9090: bind: address
// already in use"`.
func (p *process) lastLogLine() string {
	f, err := os.Open(p.logPath)
	if err != nil {
		return "no log: " + err.Error()
	}
	defer f.Close()
	var last, lastErr string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		last = line
		if strings.Contains(line, "level=error") {
			lastErr = line
		}
	}
	if lastErr != "" {
		last = lastErr
	}
	if last == "" {
		return "log " + p.logPath + " is empty"
	}
	const max = 400
	if len(last) > max {
		last = last[:max] + "…"
	}
	return last
}
