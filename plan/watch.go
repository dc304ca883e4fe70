package plan

import (
	"net"
	"time"
)

// Watch configures the front door's region watcher for this service (package watcher): it probes every region
// directly, declares a region down once consecutive failed probes were sent over Tolerance, and starts the
// failover away from it only when the Quorum agrees. Without a `watch:` section the watcher leaves the service to
// alerts.
type Watch struct {
	// Interval is the time between probes of one region; sub-second is fine (default 200ms).
	Interval time.Duration `yaml:"interval" json:"interval"`
	// Timeout bounds one probe; a slower answer counts as a failure (default: Interval).
	Timeout time.Duration `yaml:"timeout" json:"timeout"`
	// Failures sets the blip tolerance (default 6): the region is down once consecutive failed probes were sent
	// over (Failures-1) × Interval, at least Failures of them (see Tolerance, FailuresNeeded). An outage no longer
	// than that never starts a failover: with the defaults, a 1 s blip never does, however its probes bunch up.
	Failures int `yaml:"failures" json:"failures"`
	// Window bounds the failures that count (default 3s): only those sent within Window of the latest, so failures
	// spread wider (a watcher that stalled) do not count as one outage.
	Window time.Duration `yaml:"window" json:"window"`
	// Recoveries is how many consecutive successful probes make a down region up again (default 3).
	Recoveries int `yaml:"recoveries" json:"recoveries"`
	// FlapLimit outages (runs of failed probes, however short) within FlapWindow make the region flapping:
	// reported, and no failover starts until it has had fewer for a whole FlapWindow (defaults 3 and 1m).
	FlapLimit  int           `yaml:"flapLimit" json:"flapLimit"`
	FlapWindow time.Duration `yaml:"flapWindow" json:"flapWindow"`
	// Quorum is who else must agree before the watcher starts a failover.
	Quorum Quorum `yaml:"quorum" json:"quorum"`
}

// Quorum is the independent agreement a watcher needs: a watcher cut off from a region sees it down although it
// serves, so its own probes alone never start a failover.
type Quorum struct {
	// Observers is how many watchers (this one included) must have recorded the region down in etcd, each under a
	// lease of its own; 0 or 1 means no other watcher is asked.
	Observers int `yaml:"observers" json:"observers"`
	// Query is a Prometheus check whose condition is true while the region is down, run against the region's
	// prometheusURL (${region} is the watched region).
	Query *Query `yaml:"query" json:"query,omitempty"`
	// Require is any (one configured signal agrees) or all (every configured signal agrees); default any.
	Require string `yaml:"require" json:"require"`
}

// GRPCHealth is a grpc.health.v1 health check (Health/Check): the region is healthy only when it answers SERVING.
type GRPCHealth struct {
	// Address is host:port of the gRPC server.
	Address string `yaml:"address" json:"address"`
	// Service is the service name asked about; "" asks about the server as a whole.
	Service string `yaml:"service" json:"service,omitempty"`
	// TLS dials with TLS instead of plaintext, trusting the system roots, or only CAFile's CAs when it is set.
	TLS bool `yaml:"tls" json:"tls,omitempty"`
	// ServerName overrides the TLS server name (default: Address's host), e.g. the name in the server's
	// certificate when Address is an IP.
	ServerName string `yaml:"serverName" json:"serverName,omitempty"`
	// CAFile is a PEM file of the CA certificates that sign the server's certificate (a private CA), relative to
	// the plan file; with it, only those CAs are trusted. Read when the plan is loaded (grpctls.go).
	CAFile string `yaml:"caFile" json:"caFile,omitempty"`
	// CAPEM is CAFile's content as loaded: the plan carries it into the failover's probes and the watcher, so
	// they trust exactly what plan validation checked, wherever they run.
	CAPEM string `yaml:"-" json:"caPEM,omitempty"`
}

// Tolerance is the blip tolerance, (Failures-1) × Interval: a run of consecutive failed probes whose sends span
// less than this (from the first failed send to the latest) is a blip, however many results it holds.
func (w Watch) Tolerance() time.Duration { return time.Duration(w.Failures-1) * w.Interval }

// FailuresNeeded is how many failed probes that run must hold besides its span: Failures, or fewer when Timeout is
// longer than Interval. The watcher probes a region serially, so a region that stops answering gets one probe per
// Timeout and only 1 + ⌈Tolerance / Timeout⌉ of them fit in the tolerance; requiring Failures of them would stretch
// detection to Failures × Timeout.
func (w Watch) FailuresNeeded() int {
	step := max(w.Interval, w.Timeout)
	if step <= 0 {
		return w.Failures
	}
	return min(w.Failures, 1+int((w.Tolerance()+step-1)/step))
}

// MaxWatchFailures caps watch.failures (a region's state keeps the send times of the run of failures that counts).
const MaxWatchFailures = 100

func (w *Watch) setDefaults() {
	setDuration(&w.Interval, 200*time.Millisecond)
	setDuration(&w.Timeout, w.Interval)
	if w.Failures == 0 {
		w.Failures = 6
	}
	setDuration(&w.Window, 3*time.Second)
	if w.Recoveries == 0 {
		w.Recoveries = 3
	}
	if w.FlapLimit == 0 {
		w.FlapLimit = 3
	}
	setDuration(&w.FlapWindow, time.Minute)
	if w.Quorum.Require == "" {
		w.Quorum.Require = RequireAny
	}
}

func (p Plan) validateWatch(v *problems) {
	w := p.Watch
	if w == nil {
		return
	}
	if w.Failures < 1 || w.Failures > MaxWatchFailures {
		v.add("watch.failures", "is %d: use 1 to %d consecutive failed probes (e.g. 6)", w.Failures, MaxWatchFailures)
	}
	if w.Recoveries < 1 {
		v.add("watch.recoveries", "is %d: use 1 or more consecutive good probes (e.g. 3)", w.Recoveries)
	}
	if w.FlapLimit < 2 {
		v.add("watch.flapLimit", "is %d: use 2 or more outages within watch.flapWindow (e.g. 3)", w.FlapLimit)
	}
	if w.Interval > 0 && w.Failures > 0 && w.Window < time.Duration(w.Failures-1)*w.Interval {
		v.add("watch.window", "%s is shorter than %d failures %s apart: the failures could never fit; use at least %s",
			w.Window, w.Failures, w.Interval, time.Duration(w.Failures)*w.Interval)
	}
	if hung := time.Duration(w.FailuresNeeded()-1) * w.Timeout; w.Timeout > w.Interval && w.Failures > 0 && w.Window < hung {
		v.add("watch.window", "%s is shorter than %d probes one watch.timeout (%s) apart: a region that stops answering "+
			"could never be down; use at least %s, or a shorter timeout", w.Window, w.FailuresNeeded(), w.Timeout, hung)
	}
	if w.FlapWindow > 0 && w.FlapWindow < w.Window {
		v.add("watch.flapWindow", "%s is shorter than watch.window %s: use at least the window, e.g. 1m", w.FlapWindow, w.Window)
	}
	q := w.Quorum
	if q.Observers < 0 {
		v.add("watch.quorum.observers", "is %d: use 0 (no other watcher asked) or 2 and more", q.Observers)
	}
	if q.Query != nil {
		v.query("watch.quorum.query", *q.Query)
		for _, name := range p.RegionNames() {
			if p.Regions[name].PrometheusURL == "" {
				v.add("regions."+name+".prometheusURL", "missing: watch.quorum.query runs against it")
			}
		}
	}
	if q.Observers < 2 && q.Query == nil {
		v.add("watch.quorum", "has no independent signal: a watcher cut off from a region sees it down while it serves; "+
			"set observers to 2 or more (watchers recording verdicts in etcd) and/or a Prometheus query")
	}
	if q.Require != RequireAny && q.Require != RequireAll {
		v.add("watch.quorum.require", "%q: use %s or %s", q.Require, RequireAny, RequireAll)
	}
}

func (v *problems) grpcHealth(field string, g *GRPCHealth) {
	if g == nil {
		return
	}
	if _, _, err := net.SplitHostPort(g.Address); err != nil {
		v.add(field+".address", "%q is not host:port: write the gRPC server's address, e.g. 10.0.0.5:9090", g.Address)
	}
	if g.ServerName != "" && !g.TLS {
		v.add(field+".serverName", "is set but tls is off: set tls: true, or remove serverName")
	}
	v.grpcCA(field, g)
}
