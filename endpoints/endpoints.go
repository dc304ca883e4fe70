// Package endpoints says where Temporal, etcd and Kong are and how to reach them, and opens the clients. The
// worker and the starter share it, so both binaries take the same flags and environment variables.
package endpoints

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/kong/go-kong/kong"
	"github.com/spf13/pflag"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.uber.org/zap"

	"github.com/failover/failover/codec"
)

// Config holds the connection settings. Secrets are read from files or the environment, never from flags' values
// shown in process lists, and never passed into workflows.
type Config struct {
	TemporalAddress   string
	TemporalNamespace string
	TemporalTLS       bool
	EtcdEndpoints     []string
	EtcdCACert        string
	KongAdminURL      string
	KongTokenFile     string
	// KongToken comes from KONG_ADMIN_TOKEN or KongTokenFile; never logged.
	KongToken string
	// CodecKeyFile holds the payload encryption keyring (see package codec); without it CODEC_KEYS is read.
	CodecKeyFile string
	// codec is loaded by Load; nil means payloads are not encrypted.
	codec *codec.Codec
}

// Bind registers the flags, with defaults taken from the environment.
func (c *Config) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&c.TemporalAddress, "temporal-address", EnvOr("TEMPORAL_ADDRESS", "localhost:7233"), "Temporal frontend host:port (env TEMPORAL_ADDRESS)")
	fs.StringVar(&c.TemporalNamespace, "namespace", EnvOr("TEMPORAL_NAMESPACE", "default"), "Temporal namespace (env TEMPORAL_NAMESPACE)")
	fs.BoolVar(&c.TemporalTLS, "temporal-tls", os.Getenv("TEMPORAL_TLS") == "true", "connect to Temporal with TLS (env TEMPORAL_TLS=true)")
	fs.StringSliceVar(&c.EtcdEndpoints, "etcd-endpoints", strings.Split(EnvOr("ETCD_ENDPOINTS", "http://localhost:2379"), ","), "etcd endpoints (env ETCD_ENDPOINTS, comma-separated)")
	fs.StringVar(&c.EtcdCACert, "etcd-ca-cert", os.Getenv("ETCD_CA_CERT"), "CA bundle for https etcd endpoints (env ETCD_CA_CERT)")
	fs.StringVar(&c.KongAdminURL, "kong-admin-url", EnvOr("KONG_ADMIN_URL", "http://localhost:8001"), "Kong Admin API URL (env KONG_ADMIN_URL)")
	fs.StringVar(&c.KongTokenFile, "kong-admin-token-file", os.Getenv("KONG_ADMIN_TOKEN_FILE"), "file holding the Kong-Admin-Token (env KONG_ADMIN_TOKEN_FILE, or the token itself in KONG_ADMIN_TOKEN)")
	fs.StringVar(&c.CodecKeyFile, "codec-key-file", os.Getenv("CODEC_KEY_FILE"),
		"encrypt payloads with AES-256-GCM: file of id:base64key lines, first = active (env CODEC_KEY_FILE, or the keys in CODEC_KEYS)")
}

// Load reads secrets and validates; each error names the flag and the fix.
func (c *Config) Load() error {
	var errs []error
	if c.TemporalAddress == "" || !strings.Contains(c.TemporalAddress, ":") {
		errs = append(errs, fmt.Errorf("--temporal-address %q: give host:port, e.g. localhost:7233", c.TemporalAddress))
	}
	for _, e := range c.EtcdEndpoints {
		if u, err := url.Parse(e); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			errs = append(errs, fmt.Errorf("--etcd-endpoints: %q is not http(s)://host:port", e))
		}
	}
	if u, err := url.Parse(c.KongAdminURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		errs = append(errs, fmt.Errorf("--kong-admin-url %q: give the Admin API URL, e.g. http://localhost:8001", c.KongAdminURL))
	}
	c.KongToken = os.Getenv("KONG_ADMIN_TOKEN")
	if c.KongTokenFile != "" {
		b, err := os.ReadFile(c.KongTokenFile)
		if err != nil {
			errs = append(errs, fmt.Errorf("--kong-admin-token-file: %w", err))
		}
		c.KongToken = strings.TrimSpace(string(b))
	}
	cd, err := codec.Load(c.CodecKeyFile)
	if err != nil {
		errs = append(errs, fmt.Errorf("--codec-key-file: %w", err))
	}
	c.codec = cd
	return errors.Join(errs...)
}

// Codec is the payload codec Load read, or nil when payloads are not encrypted.
func (c *Config) Codec() *codec.Codec { return c.codec }

// DataConverter turns values into payloads and back: encrypting when a codec key is configured.
func (c *Config) DataConverter() converter.DataConverter {
	if c.codec == nil {
		return converter.GetDefaultDataConverter()
	}
	return c.codec.DataConverter()
}

// TemporalOption adjusts the client options before dialing, e.g. WithMetricsHandler.
type TemporalOption func(*client.Options)

// WithMetricsHandler sends the SDK's metrics, and the workflows' own, to h.
func WithMetricsHandler(h client.MetricsHandler) TemporalOption {
	return func(o *client.Options) { o.MetricsHandler = h }
}

// Temporal dials the Temporal frontend and fails when it does not answer; with a codec key, everything it stores
// for us is encrypted (codec.ApplyTo).
func (c *Config) Temporal(logger *slog.Logger, options ...TemporalOption) (client.Client, error) {
	cl, err := client.Dial(c.temporalOptions(logger, options))
	if err != nil {
		return nil, fmt.Errorf("connect to Temporal at %s: %w (is it running? see --temporal-address)", c.TemporalAddress, err)
	}
	return cl, nil
}

// TemporalLazy is Temporal for long-running servers: it returns at once, and the client connects on its first
// call (client.NewLazyClient). While Temporal is down every call fails, and later calls connect again.
func (c *Config) TemporalLazy(logger *slog.Logger, options ...TemporalOption) (client.Client, error) {
	cl, err := client.NewLazyClient(c.temporalOptions(logger, options))
	if err != nil {
		return nil, fmt.Errorf("Temporal client for %s: %w", c.TemporalAddress, err)
	}
	return cl, nil
}

// temporalOptions are the client options both Temporal and TemporalLazy use: address, namespace, TLS, codec.
func (c *Config) temporalOptions(logger *slog.Logger, options []TemporalOption) client.Options {
	opts := client.Options{HostPort: c.TemporalAddress, Namespace: c.TemporalNamespace, Logger: sdklog.NewStructuredLogger(logger)}
	if c.TemporalTLS {
		opts.ConnectionOptions.TLS = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if c.codec != nil {
		c.codec.ApplyTo(&opts)
	}
	for _, o := range options {
		o(&opts)
	}
	return opts
}

// Etcd opens an etcd client.
func (c *Config) Etcd() (*clientv3.Client, error) {
	cfg := clientv3.Config{Endpoints: c.EtcdEndpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()}
	if c.EtcdCACert != "" {
		pem, err := os.ReadFile(c.EtcdCACert)
		if err != nil {
			return nil, fmt.Errorf("--etcd-ca-cert: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--etcd-ca-cert %s: no PEM certificates in it", c.EtcdCACert)
		}
		cfg.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	cl, err := clientv3.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to etcd at %v: %w", c.EtcdEndpoints, err)
	}
	return cl, nil
}

// Kong opens a Kong Admin API client, authenticated with the token when one is set.
func (c *Config) Kong() (*kong.Client, error) {
	hc := &http.Client{Timeout: 10 * time.Second}
	if c.KongToken != "" {
		hc = kong.HTTPClientWithHeaders(hc, http.Header{"Kong-Admin-Token": []string{c.KongToken}})
	}
	kc, err := kong.NewClient(&c.KongAdminURL, hc)
	if err != nil {
		return nil, fmt.Errorf("kong admin client for %s: %w", c.KongAdminURL, err)
	}
	return kc, nil
}

// EnvOr returns the value of the environment variable name, or def when it is unset or empty. Flag defaults that
// come from the environment use it.
func EnvOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
