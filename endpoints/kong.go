package endpoints

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kong/go-kong/kong"

	"github.com/failover/failover/clienttls"
)

// kongFiles are the Admin API TLS files, each named by its flag.
func (c *Config) kongFiles() clienttls.Files {
	return clienttls.Files{
		CA:   clienttls.File{Path: c.KongAdminCA, Setting: "--kong-admin-ca"},
		Cert: clienttls.File{Path: c.KongAdminCert, Setting: "--kong-admin-cert"},
		Key:  clienttls.File{Path: c.KongAdminKey, Setting: "--kong-admin-key"},
	}
}

// loadKongTLS reads the Admin API's TLS files; they need an https:// --kong-admin-url.
func (c *Config) loadKongTLS() error {
	c.kongTLS = nil
	f := c.kongFiles()
	if f.CA.Path == "" && f.Cert.Path == "" && f.Key.Path == "" {
		return nil
	}
	if u, err := url.Parse(c.KongAdminURL); err == nil && u.Scheme != "https" {
		return fmt.Errorf("--kong-admin-cert/--kong-admin-key/--kong-admin-ca are set but --kong-admin-url %s is not https://: use the Admin API's TLS listener (Kong: admin_listen ... ssl)", c.KongAdminURL)
	}
	cfg, err := f.Config()
	c.kongTLS = cfg
	return err
}

// checkKong proves the Admin API answers GET / with our certificate and tokens.
func (c *Config) checkKong(ctx context.Context, kc *kong.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	probe := "GET /"
	var err error
	if isKonnect(c.KongAdminURL) {
		// Konnect's control-plane API has no GET /: list one upstream instead.
		probe = "GET /upstreams"
		_, _, err = kc.Upstreams.List(ctx, &kong.ListOpt{Size: 1})
	} else {
		_, err = kc.Root(ctx)
	}
	if err == nil {
		return nil
	}
	where := "Kong Admin API at " + c.KongAdminURL
	var apiErr *kong.APIError
	if errors.As(err, &apiErr) && (apiErr.Code() == http.StatusUnauthorized || apiErr.Code() == http.StatusForbidden) {
		return fmt.Errorf("%s rejected our credentials (HTTP %d): %s", where, apiErr.Code(), c.kongCredentialFix())
	}
	if u, perr := url.Parse(c.KongAdminURL); perr == nil && u.Scheme == "https" {
		cfg := c.kongTLS
		if cfg == nil {
			cfg = &tls.Config{MinVersion: tls.VersionTLS12} // what the transport uses: system roots
		}
		if problem := clienttls.Diagnose(ctx, hostPort(u), cfg, c.kongFiles()); problem != nil {
			return fmt.Errorf("%s: %w", where, problem)
		}
	}
	return fmt.Errorf("%s: %s failed (%v): is it running and reachable? check --kong-admin-url", where, probe, err)
}

// kongCredentialFix names the token settings in use.
func (c *Config) kongCredentialFix() string {
	switch {
	case c.KongBearerFile != "":
		return fmt.Sprintf("check the Konnect token in --kong-admin-bearer-file %s is current", c.KongBearerFile)
	case c.kongBearer != "":
		return "check the Konnect token in KONG_ADMIN_BEARER is current"
	case c.KongTokenFile != "":
		return fmt.Sprintf("check the token in --kong-admin-token-file %s is a current Kong-Admin-Token (RBAC user token)", c.KongTokenFile)
	case c.KongToken != "":
		return "check the token in KONG_ADMIN_TOKEN is a current Kong-Admin-Token (RBAC user token)"
	}
	return "the Admin API wants a token: set --kong-admin-token-file (Kong RBAC) or --kong-admin-bearer-file (Konnect)"
}

// hostPort is u's host:port, with the scheme's default port when it has none.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	return net.JoinHostPort(u.Hostname(), map[string]string{"https": "443", "http": "80"}[u.Scheme])
}

// isKonnect reports an Admin API URL that addresses a Konnect control plane by its path
// (https://<region>.api.konghq.com/v2/control-planes/<id>/core-entities); activities.IsKonnect is the same test.
func isKonnect(adminURL string) bool { return strings.Contains(adminURL, "/control-planes/") }
