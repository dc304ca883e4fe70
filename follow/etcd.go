package follow

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"
	"google.golang.org/grpc"
	grpcbackoff "google.golang.org/grpc/backoff"

	"github.com/failover/failover/clienttls"
)

// Etcd says how to reach and log in to etcd: the settings the orchestrator takes as --etcd-* flags, so a service
// builds its client the same way. Client certificates need https:// endpoints; etcd maps a certificate's common name
// to the etcd user of that name. A user and password log in instead (or as well: the password wins).
type Etcd struct {
	// Endpoints are http(s)://host:port URLs.
	Endpoints []string
	// TLS holds the CA bundle and the client certificate and key; the certificate is re-read when its files change.
	TLS clienttls.Files
	// Username and Password log in with etcd's RBAC; PasswordSetting names where the password came from, for errors.
	Username, Password, PasswordSetting string
	// EndpointsSetting and UsernameSetting name the settings that gave them, for errors.
	EndpointsSetting, UsernameSetting string
}

// EtcdFromEnv reads the settings the orchestrator's images use: ETCD_ENDPOINTS (comma-separated), ETCD_CA_CERT,
// ETCD_CERT, ETCD_KEY, ETCD_USERNAME, and the password from the file in ETCD_PASSWORD_FILE or from ETCD_PASSWORD.
func EtcdFromEnv() (Etcd, error) {
	e := Etcd{
		TLS: clienttls.Files{
			CA:   clienttls.File{Path: os.Getenv("ETCD_CA_CERT"), Setting: "ETCD_CA_CERT"},
			Cert: clienttls.File{Path: os.Getenv("ETCD_CERT"), Setting: "ETCD_CERT"},
			Key:  clienttls.File{Path: os.Getenv("ETCD_KEY"), Setting: "ETCD_KEY"},
		},
		Username:         os.Getenv("ETCD_USERNAME"),
		Password:         os.Getenv("ETCD_PASSWORD"),
		PasswordSetting:  "ETCD_PASSWORD",
		EndpointsSetting: "ETCD_ENDPOINTS",
		UsernameSetting:  "ETCD_USERNAME",
	}
	if v := os.Getenv("ETCD_ENDPOINTS"); v != "" {
		e.Endpoints = strings.Split(v, ",")
	}
	if f := os.Getenv("ETCD_PASSWORD_FILE"); f != "" {
		b, err := os.ReadFile(f)
		if err != nil {
			return e, fmt.Errorf("ETCD_PASSWORD_FILE %s: %w: mount the password file there or fix the path", f, err)
		}
		e.Password, e.PasswordSetting = strings.TrimSpace(string(b)), "ETCD_PASSWORD_FILE "+f
	}
	return e, nil
}

// ClientConfig is the clientv3 configuration: TLS from the files (read now), the login, and keepalive and reconnect
// settings that notice a dead peer and a restarted etcd within seconds (see the package example).
func (e Etcd) ClientConfig() (clientv3.Config, error) {
	cfg := clientv3.Config{
		Endpoints:            e.Endpoints,
		DialTimeout:          5 * time.Second,
		DialKeepAliveTime:    5 * time.Second,
		DialKeepAliveTimeout: 2 * time.Second,
		DialOptions: []grpc.DialOption{grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           grpcbackoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: 5 * time.Second,
		})},
		Username: e.Username,
		Password: e.Password,
		Logger:   zap.NewNop(),
	}
	if len(e.Endpoints) == 0 {
		return cfg, fmt.Errorf("%s: give at least one http(s)://host:port", e.EndpointsSetting)
	}
	https := 0
	for _, ep := range e.Endpoints {
		u, err := url.Parse(ep)
		if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			return cfg, fmt.Errorf("%s: %q is not http(s)://host:port", e.EndpointsSetting, ep)
		}
		if u.Scheme == "https" {
			https++
		}
	}
	switch {
	case https == 0 && (e.TLS.HasClientCert() || e.TLS.CA.Path != ""):
		return cfg, fmt.Errorf("%s are http:// but TLS files are set (%s, %s): use https:// endpoints", e.EndpointsSetting, e.TLS.CA.Setting, e.TLS.Cert.Setting)
	case https > 0 && https < len(e.Endpoints):
		return cfg, fmt.Errorf("%s mixes http:// and https://: etcd's client uses one scheme for all, give the same to every endpoint", e.EndpointsSetting)
	case e.Username != "" && e.Password == "":
		return cfg, fmt.Errorf("%s %s has no password: set %s", e.UsernameSetting, e.Username, e.PasswordSetting)
	case https > 0:
		tlsCfg, err := e.TLS.Config()
		if err != nil {
			return cfg, err
		}
		cfg.TLS = tlsCfg
	}
	return cfg, nil
}

// Client opens a client. With a user and password it logs in now, so bad credentials and an unreachable etcd show
// here (clientv3 needs the token before anything else); with certificates or no auth it connects in the background.
func (e Etcd) Client(ctx context.Context) (*clientv3.Client, error) {
	cfg, err := e.ClientConfig()
	if err != nil {
		return nil, err
	}
	cfg.Context = ctx
	if e.Username != "" { // New logs in, and would wait its DialTimeout on a TLS problem: name it at once
		if problem := e.tlsProblem(ctx, cfg); problem != nil {
			return nil, problem
		}
	}
	cl, err := clientv3.New(cfg)
	if err != nil {
		return nil, e.explain(ctx, cfg, err)
	}
	return cl, nil
}

// Check proves cl reaches etcd and is let in: a Status call to each endpoint, which etcd answers to any logged-in
// user, succeeding when one answers. A failure is one line naming the endpoints, the setting to fix and how.
func (e Etcd) Check(ctx context.Context, cl *clientv3.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cfg, err := e.ClientConfig()
	if err != nil {
		return err
	}
	if problem := e.tlsProblem(ctx, cfg); problem != nil { // at once, rather than after the calls time out
		return problem
	}
	var first error
	for _, ep := range e.Endpoints {
		_, err := cl.Status(ctx, ep)
		if err == nil {
			return nil
		}
		if first == nil {
			first = err
		}
	}
	return e.explain(ctx, cfg, first)
}

// explain turns an etcd client error into one actionable line.
func (e Etcd) explain(ctx context.Context, cfg clientv3.Config, err error) error {
	where := fmt.Sprintf("etcd at %s", strings.Join(e.Endpoints, ","))
	switch {
	case errors.Is(err, rpctypes.ErrAuthFailed):
		return fmt.Errorf("%s rejected user %q: check %s and the password in %s", where, e.Username, e.UsernameSetting, e.PasswordSetting)
	case errors.Is(err, rpctypes.ErrUserEmpty):
		return fmt.Errorf("%s has auth enabled and did not learn who we are: set %s and a password, or a client certificate (%s) "+
			"whose common name is an etcd user", where, e.UsernameSetting, e.TLS.Cert.Setting)
	case errors.Is(err, rpctypes.ErrUserNotFound), errors.Is(err, rpctypes.ErrInvalidAuthToken), errors.Is(err, rpctypes.ErrAuthOldRevision):
		return fmt.Errorf("%s does not know this client's user (%v): create the user (the client certificate's common name with %s, "+
			"else %s) or fix the name", where, err, e.TLS.Cert.Setting, e.UsernameSetting)
	case errors.Is(err, rpctypes.ErrPermissionDenied):
		return fmt.Errorf("%s: permission denied: grant the user's role the keys it needs (README: etcd RBAC)", where)
	}
	if problem := e.tlsProblem(ctx, cfg); problem != nil {
		return problem
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s does not answer (%v): is it running and reachable? check %s", where, err, e.EndpointsSetting)
	}
	return fmt.Errorf("%s: %w", where, err)
}

// tlsProblem is what clienttls.Diagnose finds wrong with the TLS settings at the first endpoint it can reach, or nil.
func (e Etcd) tlsProblem(ctx context.Context, cfg clientv3.Config) error {
	if cfg.TLS == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	for _, ep := range e.Endpoints {
		u, err := url.Parse(ep)
		if err != nil {
			continue
		}
		if problem := clienttls.Diagnose(ctx, u.Host, cfg.TLS, e.TLS); problem != nil {
			return fmt.Errorf("etcd at %s: %w", ep, problem)
		}
	}
	return nil
}
