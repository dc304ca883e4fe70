// Package endpoints says where Temporal, etcd and Kong are and how to reach them, and opens the clients. The
// worker and the starter share it, so both binaries take the same flags and environment variables.
package endpoints

import (
	"context"
	"crypto/tls"
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

	"github.com/failover/failover/codec"
	"github.com/failover/failover/follow"
)

// Config holds the connection settings. Secrets are read from files or the environment, never from flags' values
// shown in process lists, and never passed into workflows.
type Config struct {
	TemporalAddress   string
	TemporalNamespace string
	TemporalTLS       bool
	// TemporalTLSCert and TemporalTLSKey are the client certificate for mutual TLS, re-read when they change;
	// TemporalTLSCA verifies the server; TemporalTLSServerName is the name its certificate must hold.
	TemporalTLSCert, TemporalTLSKey, TemporalTLSCA, TemporalTLSServerName string
	// TemporalAPIKeyFile holds a Temporal Cloud API key, re-read at every call; without it TEMPORAL_API_KEY is used.
	TemporalAPIKeyFile string
	EtcdEndpoints      []string
	EtcdCACert         string
	// EtcdCert and EtcdKey are the client certificate for etcd (its common name is the etcd user).
	EtcdCert, EtcdKey string
	// EtcdUser logs in with the password in EtcdPasswordFile (or ETCD_PASSWORD).
	EtcdUser, EtcdPasswordFile string
	KongAdminURL               string
	KongTokenFile              string
	// KongToken comes from KONG_ADMIN_TOKEN or KongTokenFile; never logged.
	KongToken string
	// KongAdminCert and KongAdminKey are the client certificate for an Admin API behind mutual TLS; KongAdminCA
	// verifies its server certificate.
	KongAdminCert, KongAdminKey, KongAdminCA string
	// KongBearerFile holds a Konnect personal access token sent as Authorization: Bearer (or KONG_ADMIN_BEARER).
	KongBearerFile string
	// CodecKeyFile holds the payload encryption keyring (see package codec); without it CODEC_KEYS is read.
	CodecKeyFile string

	// Loaded by Load: never logged, never passed to workflows.
	codec          *codec.Codec // nil means payloads are not encrypted
	temporalTLS    *tls.Config  // nil means plain text
	temporalAPIKey func(context.Context) (string, error)
	etcd           follow.Etcd
	kongTLS        *tls.Config
	kongBearer     string
}

// Bind registers the flags, with defaults taken from the environment. The Temporal TLS variables are the ones the
// temporal CLI and SDKs read (TEMPORAL_TLS_CLIENT_CERT_PATH ...), so one environment serves both.
func (c *Config) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&c.TemporalAddress, "temporal-address", EnvOr("TEMPORAL_ADDRESS", "localhost:7233"), "Temporal frontend host:port (env TEMPORAL_ADDRESS)")
	fs.StringVar(&c.TemporalNamespace, "namespace", EnvOr("TEMPORAL_NAMESPACE", "default"), "Temporal namespace (env TEMPORAL_NAMESPACE)")
	fs.BoolVar(&c.TemporalTLS, "temporal-tls", os.Getenv("TEMPORAL_TLS") == "true", "connect to Temporal with TLS; on by itself with any --temporal-tls-* file or an API key (env TEMPORAL_TLS=true)")
	fs.StringVar(&c.TemporalTLSCert, "temporal-tls-cert", os.Getenv("TEMPORAL_TLS_CLIENT_CERT_PATH"), "client certificate (PEM) for Temporal mTLS, re-read when it changes (env TEMPORAL_TLS_CLIENT_CERT_PATH)")
	fs.StringVar(&c.TemporalTLSKey, "temporal-tls-key", os.Getenv("TEMPORAL_TLS_CLIENT_KEY_PATH"), "private key (PEM) of --temporal-tls-cert (env TEMPORAL_TLS_CLIENT_KEY_PATH)")
	fs.StringVar(&c.TemporalTLSCA, "temporal-tls-ca", os.Getenv("TEMPORAL_TLS_SERVER_CA_CERT_PATH"), "CA bundle (PEM) that signed Temporal's server certificate; default: system roots (env TEMPORAL_TLS_SERVER_CA_CERT_PATH)")
	fs.StringVar(&c.TemporalTLSServerName, "temporal-tls-server-name", os.Getenv("TEMPORAL_TLS_SERVER_NAME"), "name Temporal's server certificate must hold, when not the address's host (env TEMPORAL_TLS_SERVER_NAME)")
	fs.StringVar(&c.TemporalAPIKeyFile, "temporal-api-key-file", os.Getenv("TEMPORAL_API_KEY_FILE"), "file holding a Temporal Cloud API key, re-read at every call; turns TLS on (env TEMPORAL_API_KEY_FILE, or the key itself in TEMPORAL_API_KEY)")
	fs.StringSliceVar(&c.EtcdEndpoints, "etcd-endpoints", strings.Split(EnvOr("ETCD_ENDPOINTS", "http://localhost:2379"), ","), "etcd endpoints (env ETCD_ENDPOINTS, comma-separated)")
	fs.StringVar(&c.EtcdCACert, "etcd-ca-cert", os.Getenv("ETCD_CA_CERT"), "CA bundle for https etcd endpoints (env ETCD_CA_CERT)")
	fs.StringVar(&c.EtcdCert, "etcd-cert", os.Getenv("ETCD_CERT"), "client certificate (PEM) for etcd; its common name is the etcd user; re-read when it changes (env ETCD_CERT)")
	fs.StringVar(&c.EtcdKey, "etcd-key", os.Getenv("ETCD_KEY"), "private key (PEM) of --etcd-cert (env ETCD_KEY)")
	fs.StringVar(&c.EtcdUser, "etcd-user", os.Getenv("ETCD_USERNAME"), "etcd user to log in as, with --etcd-password-file (env ETCD_USERNAME)")
	fs.StringVar(&c.EtcdPasswordFile, "etcd-password-file", os.Getenv("ETCD_PASSWORD_FILE"), "file holding the etcd user's password (env ETCD_PASSWORD_FILE, or the password itself in ETCD_PASSWORD)")
	fs.StringVar(&c.KongAdminURL, "kong-admin-url", EnvOr("KONG_ADMIN_URL", "http://localhost:8001"), "Kong Admin API URL (env KONG_ADMIN_URL)")
	fs.StringVar(&c.KongTokenFile, "kong-admin-token-file", os.Getenv("KONG_ADMIN_TOKEN_FILE"), "file holding the Kong-Admin-Token (env KONG_ADMIN_TOKEN_FILE, or the token itself in KONG_ADMIN_TOKEN)")
	fs.StringVar(&c.KongAdminCert, "kong-admin-cert", os.Getenv("KONG_ADMIN_CERT"), "client certificate (PEM) for an Admin API behind mTLS, re-read when it changes (env KONG_ADMIN_CERT)")
	fs.StringVar(&c.KongAdminKey, "kong-admin-key", os.Getenv("KONG_ADMIN_KEY"), "private key (PEM) of --kong-admin-cert (env KONG_ADMIN_KEY)")
	fs.StringVar(&c.KongAdminCA, "kong-admin-ca", os.Getenv("KONG_ADMIN_CA"), "CA bundle (PEM) that signed the Admin API's server certificate; default: system roots (env KONG_ADMIN_CA)")
	fs.StringVar(&c.KongBearerFile, "kong-admin-bearer-file", os.Getenv("KONG_ADMIN_BEARER_FILE"), "file holding a Konnect personal access token, sent as Authorization: Bearer (env KONG_ADMIN_BEARER_FILE, or the token itself in KONG_ADMIN_BEARER)")
	fs.StringVar(&c.CodecKeyFile, "codec-key-file", os.Getenv("CODEC_KEY_FILE"),
		"encrypt payloads with AES-256-GCM: file of id:base64key lines, first = active (env CODEC_KEY_FILE, or the keys in CODEC_KEYS)")
}

// Load reads the secret and certificate files and validates; each error names the flag and the fix. Bad files
// (missing, unreadable, expired, a key that does not match its certificate) fail here, before anything connects.
func (c *Config) Load() error {
	var errs []error
	if c.TemporalAddress == "" || !strings.Contains(c.TemporalAddress, ":") {
		errs = append(errs, fmt.Errorf("--temporal-address %q: give host:port, e.g. localhost:7233", c.TemporalAddress))
	}
	errs = append(errs, c.loadTemporalAuth())
	if u, err := url.Parse(c.KongAdminURL); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		errs = append(errs, fmt.Errorf("--kong-admin-url %q: give the Admin API URL, e.g. http://localhost:8001", c.KongAdminURL))
	}
	var err error
	c.KongToken, err = readSecret("--kong-admin-token-file", c.KongTokenFile, "KONG_ADMIN_TOKEN")
	errs = append(errs, err)
	c.kongBearer, err = readSecret("--kong-admin-bearer-file", c.KongBearerFile, "KONG_ADMIN_BEARER")
	errs = append(errs, err, c.loadKongTLS(), c.loadEtcd())
	cd, err := codec.Load(c.CodecKeyFile)
	if err != nil {
		errs = append(errs, fmt.Errorf("--codec-key-file: %w", err))
	}
	c.codec = cd
	return errors.Join(errs...)
}

// readSecret is the trimmed content of file (named by flag), or the environment variable env when file is "".
func readSecret(flag, file, env string) (string, error) {
	if file == "" {
		return os.Getenv(env), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("%s %s: %w: mount the file there or fix the path", flag, file, errors.Unwrap(err)) // the cause, without the path again
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("%s %s is empty: put the secret in it", flag, file)
	}
	return v, nil
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

// Temporal dials the Temporal frontend and fails when it does not answer (with TLS, a client certificate or an API
// key as configured; errors say which setting to fix); with a codec key, everything it stores for us is encrypted
// (codec.ApplyTo).
func (c *Config) Temporal(logger *slog.Logger, options ...TemporalOption) (client.Client, error) {
	cl, err := client.Dial(c.temporalOptions(logger, options))
	if err != nil {
		return nil, c.explainTemporal(err)
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
	c.applyTemporalAuth(&opts) // TLS, client certificate, API key
	if c.codec != nil {
		c.codec.ApplyTo(&opts)
	}
	for _, o := range options {
		o(&opts)
	}
	return opts
}

// Etcd opens an etcd client with the TLS files and login of the --etcd-* flags (see follow.Etcd). With a user and
// password it logs in now, so bad credentials fail here.
func (c *Config) Etcd() (*clientv3.Client, error) {
	return c.etcd.Client(context.Background())
}

// Kong opens a Kong Admin API client: with the client certificate and CA of --kong-admin-cert/-ca over https, and
// the Kong-Admin-Token and Konnect bearer token when set.
func (c *Config) Kong() (*kong.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = c.kongTLS
	hc := &http.Client{Timeout: 10 * time.Second, Transport: tr}
	h := http.Header{}
	if c.KongToken != "" {
		h.Set("Kong-Admin-Token", c.KongToken)
	}
	if c.kongBearer != "" {
		h.Set("Authorization", "Bearer "+c.kongBearer)
	}
	if len(h) > 0 {
		hc = kong.HTTPClientWithHeaders(hc, h)
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
