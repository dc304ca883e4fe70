// Package kongstandin is an in-process stand-in for the part of Kong 3.9 the orchestrator uses, because Kong itself
// cannot run on these machines: the Admin API for services, routes, upstreams, targets, upstream health, / and
// /status (Kong's JSON shapes, status codes and error bodies, checked against Kong's OpenAPI spec and Lua source),
// and a proxy listener that routes by path and host and balances over upstream targets by weight.
//
// The proxy sees the configuration as it was PropagationDelay ago, like a Kong node that polls the database every
// db_update_frequency, so tests can prove that a write is not live until the delay has passed. The Admin API can be
// made slow or failing with InjectAdminFault. Drive it with github.com/kong/go-kong like a real Kong.
//
// Deliberate differences from Kong are listed in DEVIATIONS.md beside this file.
package kongstandin

import (
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

const (
	kongVersion  = "3.9.0"
	serverTokens = "kong/" + kongVersion
)

// Options configure a stand-in. The zero value serves both listeners on free loopback ports without auth or delay.
type Options struct {
	// AdminAddr and ProxyAddr are the listen addresses; "" means 127.0.0.1:0 (a free loopback port).
	AdminAddr, ProxyAddr string
	// AdminToken, when set, is required in the Kong-Admin-Token header of every Admin API request (401 otherwise),
	// like Kong Enterprise with RBAC enforced.
	AdminToken string
	// KonnectPrefix, when set, serves the Admin API Konnect-style under this path only (e.g.
	// /v2/control-planes/<id>/core-entities), without / and /status; KonnectToken, when set, is then required as
	// Authorization: Bearer (401 otherwise), like a Konnect personal or system access token.
	KonnectPrefix, KonnectToken string
	// AdminTLS, when set, serves the Admin API over TLS with it (set ClientAuth to require client certificates, like
	// an Admin API behind mutual TLS); AdminURL is then https://.
	AdminTLS *tls.Config
	// Mode is the deployment the node plays: traditional with a database (default), DB-less, or a hybrid data plane.
	Mode Mode
	// DataPlanes are the data planes connected to a ModeControlPlane node.
	DataPlanes []DataPlane
	// PropagationDelay is like Kong's db_update_frequency: the proxy uses the configuration as of now minus this.
	PropagationDelay time.Duration
	// Logger receives request and fault events; default discards them.
	Logger *slog.Logger
}

// Server is a running stand-in with an Admin API listener and a proxy listener.
type Server struct {
	opts     Options
	log      *slog.Logger
	nodeID   string
	hostname string
	routes   []adminRoute
	// dataPlanes are the connected data planes (ModeControlPlane), each with an id.
	dataPlanes []DataPlane
	dpMu       sync.Mutex
	store      *store
	faults     faultState
	health     targetHealthState
	balancers  balancers
	transport  *http.Transport

	adminLn, proxyLn   net.Listener
	adminSrv, proxySrv *http.Server
	proxyPort          string
	done               sync.WaitGroup

	totalRequests atomic.Int64
	connsAccepted atomic.Int64
	connsActive   atomic.Int64
	idleMu        sync.Mutex
	idleConns     map[net.Conn]bool

	closeOnce sync.Once
	closeErr  error
}

// Start listens on both addresses and serves until Close.
func Start(opts Options) (*Server, error) {
	if opts.PropagationDelay < 0 {
		return nil, fmt.Errorf("kongstandin: PropagationDelay %v is negative: use 0 for no delay", opts.PropagationDelay)
	}
	if !validMode(opts.Mode) {
		return nil, fmt.Errorf("kongstandin: Mode %q is unknown: use ModeTraditional, ModeDBLess, ModeDataPlane or ModeControlPlane", opts.Mode)
	}
	if len(opts.DataPlanes) > 0 && opts.Mode != ModeControlPlane {
		return nil, fmt.Errorf("kongstandin: DataPlanes need Mode ModeControlPlane, not %q", opts.Mode)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hostname, _ := os.Hostname()
	s := &Server{
		opts:       opts,
		log:        log,
		nodeID:     newUUID(),
		hostname:   hostname,
		routes:     adminRoutes(),
		store:      newStore(opts.PropagationDelay, time.Now()),
		dataPlanes: slices.Clone(opts.DataPlanes),
		transport:  newProxyTransport(),
		idleConns:  map[net.Conn]bool{},
	}
	for i := range s.dataPlanes {
		s.dataPlanes[i].id = newUUID()
		s.store.retain = max(s.store.retain, s.dataPlanes[i].Lag)
	}
	var err error
	if s.adminLn, err = listen(opts.AdminAddr, "admin"); err != nil {
		return nil, err
	}
	if opts.AdminTLS != nil {
		s.adminLn = tls.NewListener(s.adminLn, opts.AdminTLS)
	}
	if s.proxyLn, err = listen(opts.ProxyAddr, "proxy"); err != nil {
		_ = s.adminLn.Close()
		return nil, err
	}
	_, s.proxyPort, _ = net.SplitHostPort(s.proxyLn.Addr().String())
	s.adminSrv = s.httpServer(http.HandlerFunc(s.serveAdmin))
	s.proxySrv = s.httpServer(http.HandlerFunc(s.serveProxy))
	for _, pair := range []struct {
		srv *http.Server
		ln  net.Listener
	}{{s.adminSrv, s.adminLn}, {s.proxySrv, s.proxyLn}} {
		s.done.Add(1)
		go func() {
			defer s.done.Done()
			if err := pair.srv.Serve(pair.ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.log.Error("kong stand-in listener stopped", "addr", pair.ln.Addr().String(), "err", err)
			}
		}()
	}
	s.log.Info("kong stand-in started", "admin", s.AdminURL(), "proxy", s.ProxyURL(), "propagation_delay", opts.PropagationDelay)
	return s, nil
}

func listen(addr, what string) (net.Listener, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("kongstandin: %s listener on %s: %w (pick a free address, or \"\" for any loopback port)", what, addr, err)
	}
	return ln, nil
}

func (s *Server) httpServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ConnState: func(c net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				s.connsAccepted.Add(1)
				s.connsActive.Add(1)
			case http.StateClosed, http.StateHijacked:
				s.connsActive.Add(-1)
			}
			s.idleMu.Lock()
			defer s.idleMu.Unlock()
			if st == http.StateIdle {
				s.idleConns[c] = true
			} else {
				delete(s.idleConns, c)
			}
		},
	}
}

// AdminURL is the Admin API base URL, e.g. http://127.0.0.1:8001 (https:// with AdminTLS).
func (s *Server) AdminURL() string {
	if s.opts.AdminTLS != nil {
		return "https://" + s.adminLn.Addr().String()
	}
	return "http://" + s.adminLn.Addr().String()
}

// ProxyURL is the proxy base URL, e.g. http://127.0.0.1:8000.
func (s *Server) ProxyURL() string { return "http://" + s.proxyLn.Addr().String() }

// InjectAdminFault makes matching Admin API requests slow and/or fail until Count is used up or ClearAdminFault.
// A new fault replaces the previous one.
func (s *Server) InjectAdminFault(f Fault) { s.faults.set(f) }

// ClearAdminFault removes the injected fault.
func (s *Server) ClearAdminFault() { s.faults.clear() }

// idleCount is the number of keep-alive connections waiting for a request (nginx's "waiting").
func (s *Server) idleCount() int64 {
	s.idleMu.Lock()
	defer s.idleMu.Unlock()
	return int64(len(s.idleConns))
}

// Close stops both listeners at once, dropping open connections (requests held by an injected latency are cut
// short), and releases the ports. It is safe to call more than once.
func (s *Server) Close() error {
	s.closeOnce.Do(func() {
		errs := []error{s.adminSrv.Close(), s.proxySrv.Close()}
		s.done.Wait()
		s.transport.CloseIdleConnections()
		s.closeErr = errors.Join(errs...)
		s.log.Info("kong stand-in stopped", "admin", s.AdminURL())
	})
	return s.closeErr
}
