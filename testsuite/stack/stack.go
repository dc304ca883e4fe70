// Package stack brings up the whole local stack in one process: Temporal (with the Web UI), etcd, the Kong
// stand-in, one demo region service per region, optionally Prometheus and Alertmanager, and a failover worker.
// `devstack dev`, `devstack demo` and the end-to-end tests all use it, so they run the same real parts.
package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/kong/go-kong/kong"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/worker"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/codec"
	"github.com/failover/failover/deploy/plans"
	"github.com/failover/failover/deploy/regiond/region"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/etcdserver"
	"github.com/failover/failover/testsuite/kongstandin"
	"github.com/failover/failover/testsuite/promstack"
	"github.com/failover/failover/testsuite/temporaldev"
	"github.com/failover/failover/workflows"
)

// Ports are the stack's loopback ports; 0 picks a free one. DefaultPorts are the ones deploy/plans/demo.yaml names.
type Ports struct {
	TemporalGRPC, TemporalUI, Etcd, KongAdmin, KongProxy, Prometheus, Alertmanager int
	Regions                                                                        map[string]int
	// RegionsGRPC are the regions' grpc.health.v1 ports.
	RegionsGRPC map[string]int
}

// DefaultPorts are the dev stack's well-known ports.
var DefaultPorts = Ports{TemporalGRPC: 7233, TemporalUI: 8233, Etcd: 2379, KongAdmin: 8001, KongProxy: 8000,
	Prometheus: 9090, Alertmanager: 9093, Regions: map[string]int{"us-east": 9101, "eu-west": 9102},
	RegionsGRPC: map[string]int{"us-east": 9111, "eu-west": 9112}}

// Options configure the stack.
type Options struct {
	// Dir keeps Temporal's SQLite file and etcd's data; "" = a temp dir removed on Stop.
	Dir   string
	Ports Ports
	// NoUI skips the Temporal Web UI (tests).
	NoUI bool
	// Prometheus starts Prometheus and Alertmanager (Debian packages prometheus, prometheus-alertmanager).
	Prometheus bool
	// WebhookURL and WebhookToken wire Alertmanager to the orchestrator's webhook.
	WebhookURL, WebhookToken string
	// KongPropagationDelay mimics Kong's db_update_frequency.
	KongPropagationDelay time.Duration
	// KongMode is the Kong deployment the stand-in plays (default: traditional, with a database). Without a
	// database the demo configuration is loaded through POST /config, as a GitOps pipeline would.
	KongMode kongstandin.Mode
	// KongDataPlanes are the data planes of a ModeControlPlane Kong.
	KongDataPlanes []kongstandin.DataPlane
	// KongTags, when set, tag the demo upstream (e.g. the Kong Ingress Controller's managed-by-ingress-controller).
	KongTags []string
	// NoWorker skips the in-process failover worker (tests that run their own).
	NoWorker bool
	// Codec, when set, encrypts payloads (the stack's client and worker use it); UICodecEndpoint points the Web UI
	// at a codec server that decrypts them for display.
	Codec           *codec.Codec
	UICodecEndpoint string
	// Publishers receive the in-process worker's failover events (e.g. Slack).
	Publishers []activities.Publisher
	// Trust is what the in-process worker trusts beyond the plan: the Slack front door's public keys.
	Trust workflows.Trust
	// DrillHooks are the command hooks the in-process worker's drills may run (worker --drill-hooks).
	DrillHooks *activities.CommandHooks
	Logger     *slog.Logger
	// TemporalOps, when set, counts the Temporal server's persistence calls (benchmarks).
	TemporalOps *temporaldev.OpCounter
}

// Stack is the running local stack. Stop it when done.
type Stack struct {
	Temporal *temporaldev.Server
	Etcd     *etcdserver.Server
	Kong     *kongstandin.Server
	Regions  map[string]*region.Server
	Prom     *promstack.Stack // nil unless Options.Prometheus

	TemporalClient client.Client
	EtcdClient     *clientv3.Client
	KongClient     *kong.Client
	// Plan is the demo plan pointed at this stack's addresses.
	Plan plan.Plan
	// StartTimes records how long each component took to start.
	StartTimes map[string]time.Duration

	worker  worker.Worker
	logger  *slog.Logger
	dir     string
	tempDir bool
	ctx     context.Context
	cancel  context.CancelFunc
	stops   []func()
}

// RegionNames are the demo's regions; the first is active at start.
var RegionNames = []string{"us-east", "eu-west"}

// The demo service's keys, as deploy/plans/demo.yaml names them.
const (
	ActiveKey = "/failover/payments/active"
	AckPrefix = "/failover/payments/acks/"
)

// Start brings the stack up and seeds the demo: Kong service, route and upstream with both regions as targets
// (100/0), and the active-region key pointing at the first region. On error nothing is left running.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Stack{Regions: map[string]*region.Server{}, StartTimes: map[string]time.Duration{}, dir: opts.Dir, logger: opts.Logger}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	if s.dir == "" {
		if s.dir, err = os.MkdirTemp("", "failover-stack-*"); err != nil {
			return nil, fmt.Errorf("stack: temp dir: %w", err)
		}
		s.tempDir = true
	} else if err := os.MkdirAll(s.dir, 0o755); err != nil {
		return nil, fmt.Errorf("stack: data dir %s is not writable (%w): pass another --dir", s.dir, err)
	}
	begin := time.Now()
	if err := s.startTemporal(ctx, opts); err != nil {
		return nil, err
	}
	if err := s.startEtcd(opts); err != nil {
		return nil, err
	}
	if err := s.seedActiveKey(ctx); err != nil {
		return nil, err
	}
	if err := s.startKong(opts); err != nil {
		return nil, err
	}
	if err := s.startRegions(ctx, opts); err != nil {
		return nil, err
	}
	if opts.Prometheus {
		if err := s.startPrometheus(ctx, opts); err != nil {
			return nil, err
		}
	}
	if err := s.loadPlan(opts); err != nil {
		return nil, err
	}
	if err := s.seed(ctx, opts); err != nil {
		return nil, err
	}
	if !opts.NoWorker {
		if err := s.startWorker(opts); err != nil {
			return nil, err
		}
	}
	s.StartTimes["total"] = time.Since(begin)
	return s, nil
}

func (s *Stack) timed(name string, start time.Time) { s.StartTimes[name] = time.Since(start) }

func (s *Stack) startTemporal(ctx context.Context, opts Options) error {
	defer s.timed("temporal", time.Now())
	srv, err := temporaldev.Start(ctx, temporaldev.Options{DBFile: filepath.Join(s.dir, "temporal.db"),
		GRPCPort: opts.Ports.TemporalGRPC, UIPort: opts.Ports.TemporalUI, NoUI: opts.NoUI, UICodecEndpoint: opts.UICodecEndpoint,
		SearchAttributes: workflows.SearchAttributes(), Logger: opts.Logger, Ops: opts.TemporalOps})
	if err != nil {
		return err
	}
	s.Temporal = srv
	s.stops = append(s.stops, func() { srv.Stop() })
	copts := client.Options{HostPort: srv.Address(), Namespace: srv.Namespace(), Logger: sdklog.NewStructuredLogger(opts.Logger)}
	if opts.Codec != nil {
		opts.Codec.ApplyTo(&copts)
	}
	tc, err := client.Dial(copts)
	if err != nil {
		return fmt.Errorf("stack: connect to Temporal: %w", err)
	}
	s.TemporalClient = tc
	s.stops = append(s.stops, tc.Close)
	return nil
}

func (s *Stack) startEtcd(opts Options) error {
	defer s.timed("etcd", time.Now())
	srv, err := etcdserver.Start(etcdserver.Options{Dir: filepath.Join(s.dir, "etcd"), ClientPort: opts.Ports.Etcd})
	if err != nil {
		return err
	}
	s.Etcd = srv
	s.stops = append(s.stops, srv.Stop)
	cli, err := srv.NewClient()
	if err != nil {
		return fmt.Errorf("stack: etcd client: %w", err)
	}
	s.EtcdClient = cli
	s.stops = append(s.stops, func() { cli.Close() })
	return nil
}

func (s *Stack) startKong(opts Options) error {
	defer s.timed("kong", time.Now())
	srv, err := kongstandin.Start(kongstandin.Options{AdminAddr: loopback(opts.Ports.KongAdmin), ProxyAddr: loopback(opts.Ports.KongProxy),
		PropagationDelay: opts.KongPropagationDelay, Mode: opts.KongMode, DataPlanes: opts.KongDataPlanes, Logger: opts.Logger})
	if err != nil {
		return err
	}
	s.Kong = srv
	s.stops = append(s.stops, func() { srv.Close() })
	admin := srv.AdminURL()
	kc, err := kong.NewClient(&admin, &http.Client{Timeout: 10 * time.Second})
	if err != nil {
		return fmt.Errorf("stack: kong client: %w", err)
	}
	s.KongClient = kc
	return nil
}

func (s *Stack) startRegions(ctx context.Context, opts Options) error {
	defer s.timed("regions", time.Now())
	for _, name := range RegionNames {
		srv, err := region.Start(s.ctx, region.Options{Region: name, Service: "payments", Addr: loopback(opts.Ports.Regions[name]),
			GRPCAddr: loopback(opts.Ports.RegionsGRPC[name]), Etcd: s.EtcdClient, ActiveKey: ActiveKey, AckPrefix: AckPrefix, Logger: opts.Logger})
		if err != nil {
			return err
		}
		s.Regions[name] = srv
		s.stops = append(s.stops, func() { srv.Close() })
	}
	return nil
}

func (s *Stack) startPrometheus(ctx context.Context, opts Options) error {
	defer s.timed("prometheus+alertmanager", time.Now())
	var targets []promstack.Target
	for _, name := range RegionNames {
		targets = append(targets, promstack.Target{Job: "regions", Addr: s.Regions[name].Addr(),
			Labels: map[string]string{"service": "payments", "region": name}})
	}
	st, err := promstack.Start(s.ctx, promstack.Options{Dir: filepath.Join(s.dir, "prometheus"), Targets: targets,
		WebhookURL: opts.WebhookURL, WebhookToken: opts.WebhookToken,
		PrometheusPort: opts.Ports.Prometheus, AlertmanagerPort: opts.Ports.Alertmanager, Logger: opts.Logger})
	if err != nil {
		return err
	}
	s.Prom = st
	s.stops = append(s.stops, func() { st.Stop() })
	return nil
}

// loadPlan reads deploy/plans/demo.yaml and points it at this stack's actual addresses.
func (s *Stack) loadPlan(opts Options) error {
	raw, err := plans.Files.ReadFile("demo.yaml")
	if err != nil {
		return fmt.Errorf("stack: demo plan: %w", err)
	}
	d := DefaultPorts
	pairs := []string{
		loopback(d.KongProxy), strings.TrimPrefix(s.Kong.ProxyURL(), "http://"),
		loopback(d.Regions["us-east"]), s.Regions["us-east"].Addr(),
		loopback(d.Regions["eu-west"]), s.Regions["eu-west"].Addr(),
		loopback(d.RegionsGRPC["us-east"]), s.Regions["us-east"].GRPCAddr(),
		loopback(d.RegionsGRPC["eu-west"]), s.Regions["eu-west"].GRPCAddr(),
	}
	if s.Prom != nil {
		pairs = append(pairs, loopback(d.Prometheus), strings.TrimPrefix(s.Prom.PrometheusURL(), "http://"))
	}
	p, err := plan.Decode(strings.NewReader(strings.NewReplacer(pairs...).Replace(string(raw))))
	if err != nil {
		return fmt.Errorf("stack: demo plan: %w", err)
	}
	s.Plan = p
	return nil
}

// seed creates the demo's Kong entities, converging if they exist.
func (s *Stack) seed(ctx context.Context, opts Options) error {
	if opts.KongMode == kongstandin.ModeDBLess || opts.KongMode == kongstandin.ModeDataPlane {
		return s.seedDeclarative(ctx, opts)
	}
	kc := s.KongClient
	up := &kong.Upstream{Name: kong.String("payments"), Tags: kong.StringSlice(opts.KongTags...)}
	if _, err := kc.Upstreams.Create(ctx, up); err != nil && !isConflict(err) {
		return fmt.Errorf("stack: create Kong upstream: %w", err)
	}
	for i, name := range RegionNames {
		weight := 0
		if i == 0 {
			weight = 100
		}
		t := &kong.Target{Target: kong.String(s.Regions[name].Addr()), Weight: kong.Int(weight)}
		if _, err := kc.Targets.Create(ctx, kong.String("payments"), t); err != nil && !isConflict(err) {
			return fmt.Errorf("stack: create Kong target %s: %w", name, err)
		}
	}
	svc := &kong.Service{Name: kong.String("payments"), Host: kong.String("payments"), Port: kong.Int(80), Protocol: kong.String("http")}
	if _, err := kc.Services.Create(ctx, svc); err != nil && !isConflict(err) {
		return fmt.Errorf("stack: create Kong service: %w", err)
	}
	route := &kong.Route{Name: kong.String("payments"), Paths: kong.StringSlice("/payments"), StripPath: kong.Bool(true),
		Service: &kong.Service{Name: kong.String("payments")}}
	if _, err := kc.Routes.Create(ctx, route); err != nil && !isConflict(err) {
		return fmt.Errorf("stack: create Kong route: %w", err)
	}
	return nil
}

// seedDeclarative loads the demo's Kong entities into a Kong without a database (POST /config).
func (s *Stack) seedDeclarative(ctx context.Context, opts Options) error {
	targets := []map[string]any{}
	for i, name := range RegionNames {
		targets = append(targets, map[string]any{"target": s.Regions[name].Addr(), "weight": map[bool]int{true: 100}[i == 0]})
	}
	upstream := map[string]any{"name": "payments", "targets": targets}
	if len(opts.KongTags) > 0 {
		upstream["tags"] = opts.KongTags
	}
	decl, err := json.Marshal(map[string]any{"_format_version": "3.0",
		"services": []any{map[string]any{"name": "payments", "host": "payments", "port": 80, "protocol": "http",
			"routes": []any{map[string]any{"name": "payments", "paths": []string{"/payments"}, "strip_path": true}}}},
		"upstreams": []any{upstream}})
	if err != nil {
		return err
	}
	if err := s.KongClient.ReloadDeclarativeRawConfig(ctx, bytes.NewReader(decl), true, false); err != nil {
		return fmt.Errorf("stack: load Kong's declarative configuration: %w", err)
	}
	return nil
}

// seedActiveKey points the demo's active-region key at the first region, unless a kept dir already has it.
func (s *Stack) seedActiveKey(ctx context.Context) error {
	acts := &activities.Activities{Etcd: s.EtcdClient, Logger: s.logger}
	cur, err := acts.ReadActive(ctx, ActiveKey)
	if err != nil {
		return fmt.Errorf("stack: read active key: %w", err)
	}
	if !cur.Exists {
		if _, err := acts.Cutover(ctx, activities.CutoverInput{Key: ActiveKey, Region: RegionNames[0], WorkflowID: "stack-seed"}); err != nil {
			return fmt.Errorf("stack: seed active key: %w", err)
		}
	}
	return nil
}

func (s *Stack) startWorker(opts Options) error {
	acts := &activities.Activities{Etcd: s.EtcdClient, Kong: s.KongClient, HTTP: &http.Client{Timeout: 10 * time.Second}, Logger: opts.Logger,
		Publishers: opts.Publishers, Temporal: s.TemporalClient, DrillHooks: opts.DrillHooks}
	s.worker = worker.New(s.TemporalClient, workflows.TaskQueue, workflows.WorkerOptions(""))
	workflows.Register(s.worker, acts, opts.Trust)
	if err := s.worker.Start(); err != nil {
		return fmt.Errorf("stack: start worker: %w", err)
	}
	s.stops = append(s.stops, s.worker.Stop)
	return nil
}

// Stop stops everything in reverse order of start; safe to call twice.
func (s *Stack) Stop() {
	for i := len(s.stops) - 1; i >= 0; i-- {
		s.stops[i]()
	}
	s.stops = nil
	s.cancel()
	if s.tempDir {
		os.RemoveAll(s.dir)
		s.tempDir = false
	}
}

// URLs lists what a person can open or point a tool at, in a stable order.
func (s *Stack) URLs() [][2]string {
	out := [][2]string{
		{"Temporal Web UI", s.Temporal.UIURL()},
		{"Temporal gRPC", s.Temporal.Address()},
		{"etcd", s.Etcd.Endpoint()},
		{"Kong Admin API", s.Kong.AdminURL()},
		{"Kong proxy", s.Kong.ProxyURL() + "/payments/items/hello"},
	}
	for _, name := range RegionNames {
		out = append(out, [2]string{"region " + name, s.Regions[name].URL()})
	}
	if s.Prom != nil {
		out = append(out, [2]string{"Prometheus", s.Prom.PrometheusURL()}, [2]string{"Alertmanager", s.Prom.AlertmanagerURL()})
	}
	return out
}

func isConflict(err error) bool {
	var apiErr *kong.APIError
	return errors.As(err, &apiErr) && apiErr.Code() == http.StatusConflict
}

func loopback(port int) string { return "127.0.0.1:" + strconv.Itoa(port) }
