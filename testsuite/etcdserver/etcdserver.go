// Package etcdserver runs a real single-node etcd in-process on loopback, for tests and the dev stack.
package etcdserver

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strconv"
	"sync"
	"time"

	"go.etcd.io/etcd/client/pkg/v3/transport"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"go.uber.org/zap"

	"github.com/failover/failover/testsuite/freeport"
)

// Options configure one etcd member. The zero value runs on free ports in a fresh temp dir.
type Options struct {
	// Dir is the data dir; empty means a new temp dir removed on Stop.
	Dir string
	// ClientPort is the loopback client port; 0 picks a free one. Reuse it to restart a member in place.
	ClientPort int
	// PeerPort is the loopback peer port; 0 picks a free one.
	PeerPort int
	// TLS, when set, serves clients over https with it.
	TLS *TLS
}

// TLS is how etcd serves its clients over TLS.
type TLS struct {
	// CertFile and KeyFile are the server certificate (for 127.0.0.1) and its key.
	CertFile, KeyFile string
	// ClientCAFile verifies client certificates.
	ClientCAFile string
	// ClientCertAuth requires a client certificate signed by ClientCAFile; with auth enabled its common name is the user.
	ClientCertAuth bool
}

// Server is a running etcd member.
type Server struct {
	etcd       *embed.Etcd
	dir        string
	removeDir  bool
	clientPort int
	tls        *TLS
	stopOnce   sync.Once
}

// Start runs etcd and waits until it serves clients.
func Start(opts Options) (*Server, error) {
	dir, removeDir := opts.Dir, false
	if dir == "" {
		d, err := os.MkdirTemp("", "failover-etcd-*")
		if err != nil {
			return nil, fmt.Errorf("etcd: create temp data dir: %w", err)
		}
		dir, removeDir = d, true
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("etcd: data dir %s is not writable (%w): pass a writable --etcd-dir", dir, err)
	}
	clientPort, err := freeport.Get(opts.ClientPort)
	if err != nil {
		return nil, err
	}
	peerPort, err := freeport.Get(opts.PeerPort)
	if err != nil {
		return nil, err
	}

	cfg := embed.NewConfig()
	cfg.Name = "failover-dev"
	cfg.Dir = dir
	cfg.LogLevel = "error"
	// Quiet: a clean stop logs "use of closed network connection" errors that mean nothing here.
	cfg.ZapLoggerBuilder = embed.NewZapLoggerBuilder(zap.NewNop())
	cfg.UnsafeNoFsync = true // test and dev data only; makes commits ~10x faster on slow disks
	cfg.BcryptCost = 4       // bcrypt's minimum: password logins take milliseconds, not a second (test passwords only)
	clientURL := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(clientPort))}
	if opts.TLS != nil {
		clientURL.Scheme = "https"
		cfg.ClientTLSInfo = transport.TLSInfo{CertFile: opts.TLS.CertFile, KeyFile: opts.TLS.KeyFile,
			TrustedCAFile: opts.TLS.ClientCAFile, ClientCertAuth: opts.TLS.ClientCertAuth}
	}
	peerURL := url.URL{Scheme: "http", Host: net.JoinHostPort("127.0.0.1", strconv.Itoa(peerPort))}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{clientURL}, []url.URL{clientURL}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{peerURL}, []url.URL{peerURL}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)

	e, err := embed.StartEtcd(cfg)
	if err != nil {
		if removeDir {
			os.RemoveAll(dir)
		}
		return nil, fmt.Errorf("etcd: start on 127.0.0.1:%d: %w (is the port in use? pick another or use 0)", clientPort, err)
	}
	select {
	case <-e.Server.ReadyNotify():
	case err := <-e.Err():
		e.Close()
		return nil, fmt.Errorf("etcd: failed while starting: %w", err)
	case <-time.After(30 * time.Second):
		e.Server.Stop()
		e.Close()
		return nil, errors.New("etcd: not ready after 30s")
	}
	return &Server{etcd: e, dir: dir, removeDir: removeDir, clientPort: clientPort, tls: opts.TLS}, nil
}

// Endpoint is the client URL, e.g. http://127.0.0.1:2379 (https:// with TLS).
func (s *Server) Endpoint() string {
	if s.tls != nil {
		return fmt.Sprintf("https://127.0.0.1:%d", s.clientPort)
	}
	return fmt.Sprintf("http://127.0.0.1:%d", s.clientPort)
}

// ClientPort is the loopback port clients connect to.
func (s *Server) ClientPort() int { return s.clientPort }

// Dir is the data dir.
func (s *Server) Dir() string { return s.dir }

// NewClient returns a client for this member; the caller closes it (before Stop, or Stop waits for it). With TLS it
// presents the server's own certificate as its client certificate.
func (s *Server) NewClient() (*clientv3.Client, error) {
	cfg := clientv3.Config{Endpoints: []string{s.Endpoint()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()}
	if s.tls != nil {
		info := transport.TLSInfo{CertFile: s.tls.CertFile, KeyFile: s.tls.KeyFile, TrustedCAFile: s.tls.ClientCAFile}
		tlsCfg, err := info.ClientConfig()
		if err != nil {
			return nil, fmt.Errorf("etcd: client TLS: %w", err)
		}
		cfg.TLS = tlsCfg
	}
	return clientv3.New(cfg)
}

// Stop shuts etcd down; safe to call more than once. Close clients and cancel watches first: etcd waits for them.
func (s *Server) Stop() {
	s.stopOnce.Do(func() {
		s.etcd.Close()
		if s.removeDir {
			os.RemoveAll(s.dir)
		}
	})
}
