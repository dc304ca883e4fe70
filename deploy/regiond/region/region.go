// Package region is the demo service the orchestrator fails over: one instance per region, serving cached items
// over HTTP, exporting the metrics the alert rules watch, taking injected faults, and following the active-region
// key in etcd so a cutover can be seen (and acknowledged) by every instance. It is demo-only: regiond (the compose
// demo's region containers) and the local stack (testsuite/stack) run it; the production binaries never link it.
package region

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/failover/failover/follow"
)

// Options configure one region instance.
type Options struct {
	// Region is the region this instance serves, e.g. us-east. Required.
	Region string
	// Service is the service name, e.g. payments. Required.
	Service string
	// Addr is the listen address; "" means 127.0.0.1:0 (a free loopback port).
	Addr string
	// Etcd, when set, makes the instance follow ActiveKey and acknowledge each epoch under AckPrefix.
	Etcd *clientv3.Client
	// ActiveKey is the service's active-region key; required with Etcd.
	ActiveKey string
	// AckPrefix is where acks are written, at follow.AckKey(AckPrefix, Instance); required with Etcd.
	AckPrefix string
	// Instance names this instance in acks; default "<service>-<region>-1".
	Instance string
	// ActiveCacheFile, with Etcd, keeps the last confirmed active-region value on disk so a restart while etcd is
	// down still knows it (follow.Config.CacheFile). Optional.
	ActiveCacheFile string
	// AckLeaseTTL, with Etcd, is the lease on this instance's ack: a dead instance's ack disappears after it
	// (follow.Config.LeaseTTL; 0 = follow's default).
	AckLeaseTTL time.Duration
	// GRPCAddr, when set, serves grpc.health.v1 there ("127.0.0.1:0": a free loopback port); see GRPCAddr.
	GRPCAddr string
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// defaultReadyInstances is what region_ready_instances reports without a fault: a healthy three-instance region.
const defaultReadyInstances = 3

// missCost is the simulated round trip to the backing store, so a cold cache is measurably slower than a warm one.
const missCost = 2 * time.Millisecond

// Server is one running region instance.
type Server struct {
	region, service, instance string
	log                       *slog.Logger
	ln                        net.Listener
	http                      *http.Server
	reg                       *prometheus.Registry
	metrics                   *metrics
	grpc                      *grpcHealth // nil without Options.GRPCAddr

	mu     sync.Mutex
	cache  map[string]string
	hits   uint64
	misses uint64
	fault  Fault

	follower     *follow.Follower // nil without etcd
	seenEpoch    atomic.Int64
	activeRegion atomic.Pointer[string]

	cancel       context.CancelFunc
	followerDone chan struct{} // closed when the follower returned; nil without etcd
	serveDone    chan struct{}
	closeOnce    sync.Once
	closeErr     error
}

// Start listens, starts following the active-region key when Etcd is set, and serves until Close is called or ctx
// is done.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if opts.Region == "" {
		return nil, errors.New("region: Options.Region is empty: name the region, e.g. us-east")
	}
	if opts.Service == "" {
		return nil, fmt.Errorf("region %s: Options.Service is empty: name the service, e.g. payments", opts.Region)
	}
	if opts.Etcd != nil && opts.ActiveKey == "" {
		return nil, fmt.Errorf("region %s: Options.ActiveKey is empty: with Etcd set, give the key to follow", opts.Region)
	}
	if opts.Etcd != nil && opts.AckPrefix == "" {
		return nil, fmt.Errorf("region %s: Options.AckPrefix is empty: with Etcd set, give the prefix acks go under", opts.Region)
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	instance := opts.Instance
	if instance == "" {
		instance = fmt.Sprintf("%s-%s-1", opts.Service, opts.Region)
	}
	addr := opts.Addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}

	s := &Server{
		region:    opts.Region,
		service:   opts.Service,
		instance:  instance,
		log:       log.With("service", opts.Service, "region", opts.Region, "instance", instance),
		reg:       prometheus.NewRegistry(),
		cache:     map[string]string{},
		fault:     Fault{ReadyInstances: defaultReadyInstances},
		serveDone: make(chan struct{}),
	}
	s.metrics = newMetrics(s.reg, s)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("region %s: listen on %s: %v (is the port in use? pick another Addr or port 0)", opts.Region, addr, err)
	}
	s.ln = ln
	if opts.Etcd != nil {
		s.follower, err = follow.New(follow.Config{
			Client:     opts.Etcd,
			Key:        opts.ActiveKey,
			AckPrefix:  opts.AckPrefix,
			Instance:   instance,
			CacheFile:  opts.ActiveCacheFile,
			LeaseTTL:   opts.AckLeaseTTL,
			Logger:     s.log,
			Registerer: s.reg,
		}, s.applyActive)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("region %s: follow %s: %w", opts.Region, opts.ActiveKey, err)
		}
	}

	if opts.GRPCAddr != "" {
		if err := s.startGRPC(opts.GRPCAddr); err != nil {
			ln.Close()
			return nil, err
		}
	}
	ctx, s.cancel = context.WithCancel(ctx)
	s.http = &http.Server{Handler: s.routes(), ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(s.serveDone)
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("region: serve", "err", err)
		}
	}()
	if s.follower != nil {
		s.followerDone = make(chan struct{})
		go func() {
			defer close(s.followerDone)
			if err := s.follower.Run(ctx); err != nil && ctx.Err() == nil {
				s.log.Error("region: follower stopped", "key", opts.ActiveKey, "err", err)
			}
		}()
	}
	go func() {
		<-ctx.Done()
		s.Close()
	}()
	if s.follower != nil {
		s.log.Info("region serving", "url", s.URL(), "follows", opts.ActiveKey, "acks", follow.AckKey(opts.AckPrefix, instance))
	} else {
		s.log.Info("region serving", "url", s.URL())
	}
	return s, nil
}

// URL is the base URL, e.g. http://127.0.0.1:41234.
func (s *Server) URL() string { return "http://" + s.Addr() }

// Addr is the listen address as host:port; use it as a Prometheus scrape target.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Region is the region this instance serves.
func (s *Server) Region() string { return s.region }

// Instance is the instance name acks are written under.
func (s *Server) Instance() string { return s.instance }

// SeenEpoch is the last epoch this instance applied from the active-region key; 0 before the first one.
func (s *Server) SeenEpoch() int64 { return s.seenEpoch.Load() }

// Registry is the instance's own metrics registry, served at /metrics.
func (s *Server) Registry() *prometheus.Registry { return s.reg }

// Close stops serving and following; it is safe to call more than once and returns the first call's result.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		s.cancel()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.http.Shutdown(ctx); err != nil {
			s.http.Close()
			s.closeErr = fmt.Errorf("region %s: shutdown: %w", s.region, err)
		}
		<-s.serveDone
		if s.grpc != nil {
			s.grpc.stop()
		}
		if s.followerDone != nil {
			<-s.followerDone
		}
		s.log.Info("region stopped")
	})
	return s.closeErr
}

// applyActive is the follower's handler: the demo has nothing to reconfigure, so applying an epoch means
// recording it where /healthz and /metrics show it. The follower acks after this returns nil.
func (s *Server) applyActive(_ context.Context, a follow.Active) error {
	region := a.Region
	s.activeRegion.Store(&region)
	s.seenEpoch.Store(a.Epoch)
	s.log.Info("region: applied active region", "active", a.Region, "epoch", a.Epoch, "workflow", a.WorkflowID)
	return nil
}

func (s *Server) active() string {
	if p := s.activeRegion.Load(); p != nil {
		return *p
	}
	return ""
}
