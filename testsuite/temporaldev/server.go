// Package temporaldev runs a real Temporal server (frontend, history, matching and worker services)
// inside the current process, on SQLite, with the Web UI beside it. Tests use it in memory; the dev
// stack (`devstack dev`) uses it on a file so that a restart resumes running workflows.
package temporaldev

import (
	"context"
	"errors"
	"log/slog"
	"sync"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/temporal"
)

// Options configures Start. The zero value is an in-memory server on free loopback ports with the Web UI.
type Options struct {
	// DBFile is the SQLite file; "" keeps everything in memory. A restart on the same file resumes
	// running workflows.
	DBFile string
	// Namespace is created at start; default "default".
	Namespace string
	// GRPCPort is the frontend gRPC port on 127.0.0.1; 0 picks a free port.
	GRPCPort int
	// UIPort is the Web UI port on 127.0.0.1; 0 picks a free port.
	UIPort int
	// NoUI skips the Web UI.
	NoUI bool
	// UICodecEndpoint is an optional codec server URL the Web UI uses to decode payloads.
	UICodecEndpoint string
	// SearchAttributes are registered on Namespace at start; already registered ones are kept.
	SearchAttributes map[string]enumspb.IndexedValueType
	// TLS, when set, serves the frontend over TLS (mutual TLS with RequireClientCert). Needs NoUI.
	TLS *ServerTLS
	// Auth, when set, authenticates and authorizes every request. Needs NoUI.
	Auth *Auth
	// Logger receives the server's own logs at warn level and above; nil discards them.
	Logger *slog.Logger
	// Ops, when set, counts the server's persistence calls by operation (benchmarks); nil reports no metrics.
	Ops *OpCounter
}

// Server is a running dev server. Stop it when done.
type Server struct {
	temporal  temporal.Server
	ui        *webUI // nil with NoUI
	address   string
	namespace string
	logLevel  *slog.LevelVar // threshold of the server's logs; silent once Stop begins
	dc        *dynamicconfig.MemoryClient

	stopOnce sync.Once
	stopErr  error
}

// Start runs a Temporal server and, unless NoUI, its Web UI. It returns once every service has
// started, the Web UI accepts connections and the search attributes are registered; ctx bounds
// the last two. On error nothing is left listening.
func Start(ctx context.Context, opts Options) (*Server, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if opts.Namespace == "" {
		opts.Namespace = "default"
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := checkSecurity(opts); err != nil {
		return nil, err
	}
	p, err := pickPorts(opts)
	if err != nil {
		return nil, err
	}
	sqlConfig, err := prepareSQLite(opts.DBFile, opts.Namespace, opts.SearchAttributes)
	if err != nil {
		return nil, err
	}

	s := &Server{
		address:   hostPort(p.frontend),
		namespace: opts.Namespace,
		logLevel:  new(slog.LevelVar),
		dc:        devDynamicConfig(),
	}
	s.logLevel.Set(minLevel)
	cfg := serverConfig(sqlConfig, p)
	applyTLS(cfg, opts.TLS)
	extra := authOptions(opts.Auth)
	if opts.Ops != nil {
		extra = append(extra, temporal.WithCustomMetricsHandler(opts.Ops.handler()))
	}
	s.temporal, err = startTemporal(cfg, p, s.dc, opts.Logger, s.logLevel, extra...)
	if err != nil {
		return nil, err
	}
	if err := s.finishStart(ctx, opts, p); err != nil {
		return nil, errors.Join(err, s.Stop())
	}
	return s, nil
}

// finishStart brings up what needs a running frontend: the Web UI and the search attributes.
func (s *Server) finishStart(ctx context.Context, opts Options, p ports) error {
	if !opts.NoUI {
		ui, err := startWebUI(ctx, webUIConfig{
			port:          p.ui,
			grpcAddress:   s.address,
			namespace:     opts.Namespace,
			codecEndpoint: opts.UICodecEndpoint,
		})
		if err != nil {
			return err
		}
		s.ui = ui
	}
	added, err := registerSearchAttributes(ctx, s.address, s.namespace, opts.SearchAttributes, opts.Logger)
	if added {
		// The namespace predates them (an older DBFile): the caches of the running services learn of them only
		// at their next refresh, so from now on every read of the search attributes goes to SQLite instead.
		s.dc.OverrideValue(dynamicconfig.ForceSearchAttributesCacheRefreshOnRead.Key(), true)
	}
	return err
}

// Address is the host:port of the frontend gRPC service, for client.Options.HostPort.
func (s *Server) Address() string { return s.address }

// Namespace is the namespace created at start.
func (s *Server) Namespace() string { return s.namespace }

// UIURL is the Web UI's base URL, "" with NoUI.
func (s *Server) UIURL() string {
	if s.ui == nil {
		return ""
	}
	return s.ui.url
}

// Stop shuts the Web UI and the server down and releases their ports. Calling it again returns
// the first result.
func (s *Server) Stop() error {
	s.stopOnce.Do(func() {
		s.logLevel.Set(silent)
		var errs []error
		if s.ui != nil {
			errs = append(errs, s.ui.stop())
		}
		errs = append(errs, stopTemporal(s.temporal))
		s.stopErr = errors.Join(errs...)
	})
	return s.stopErr
}
