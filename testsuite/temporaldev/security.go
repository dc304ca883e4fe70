package temporaldev

import (
	"errors"

	"go.temporal.io/server/common/authorization"
	"go.temporal.io/server/common/config"
	"go.temporal.io/server/temporal"
)

// ServerTLS serves the frontend over TLS, like a self-hosted cluster with mutual TLS.
type ServerTLS struct {
	// CertFile and KeyFile are the frontend's certificate (valid for 127.0.0.1) and key. The server's own worker
	// service presents the same certificate when it calls the frontend, so it must allow client authentication too.
	CertFile, KeyFile string
	// CAFile signed CertFile and, with RequireClientCert, the client certificates the frontend accepts.
	CAFile string
	// RequireClientCert refuses clients without a certificate signed by CAFile (mutual TLS).
	RequireClientCert bool
}

// Auth checks every request, like a cluster with JWT or API-key authentication: ClaimMapper turns the request's
// credentials (Authorization header, TLS subject) into claims, Authorizer decides on them.
type Auth struct {
	ClaimMapper authorization.ClaimMapper
	Authorizer  authorization.Authorizer
}

// checkSecurity refuses combinations this package does not wire: the Web UI and the search-attribute registration
// dial the frontend in plain text without credentials.
func checkSecurity(opts Options) error {
	if (opts.TLS != nil || opts.Auth != nil) && (!opts.NoUI || len(opts.SearchAttributes) > 0) {
		return errors.New("temporaldev: TLS and Auth work without the Web UI and search attributes: set NoUI and leave SearchAttributes empty")
	}
	return nil
}

// applyTLS puts the frontend's TLS settings, and the system worker's client side of them, into cfg.
func applyTLS(cfg *config.Config, t *ServerTLS) {
	if t == nil {
		return
	}
	cfg.Global.TLS.Frontend.Server = config.ServerTLS{
		CertFile:          t.CertFile,
		KeyFile:           t.KeyFile,
		ClientCAFiles:     []string{t.CAFile},
		RequireClientAuth: t.RequireClientCert,
	}
	cfg.Global.TLS.SystemWorker = config.WorkerTLS{
		CertFile: t.CertFile,
		KeyFile:  t.KeyFile,
		Client:   config.ClientTLS{RootCAFiles: []string{t.CAFile}},
	}
}

// authOptions are the server options that install a.
func authOptions(a *Auth) []temporal.ServerOption {
	if a == nil {
		return nil
	}
	return []temporal.ServerOption{
		temporal.WithClaimMapper(func(*config.Config) authorization.ClaimMapper { return a.ClaimMapper }),
		temporal.WithAuthorizer(a.Authorizer),
	}
}
