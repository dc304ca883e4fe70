package endpoints

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/failover/failover/clienttls"
)

// temporalFiles are the Temporal TLS files, each named by its flag.
func (c *Config) temporalFiles() clienttls.Files {
	return clienttls.Files{
		CA:                clienttls.File{Path: c.TemporalTLSCA, Setting: "--temporal-tls-ca"},
		Cert:              clienttls.File{Path: c.TemporalTLSCert, Setting: "--temporal-tls-cert"},
		Key:               clienttls.File{Path: c.TemporalTLSKey, Setting: "--temporal-tls-key"},
		ServerName:        c.TemporalTLSServerName,
		ServerNameSetting: "--temporal-tls-server-name",
	}
}

// loadTemporalAuth reads the TLS files and finds the API key. TLS is on with --temporal-tls, any TLS file, a server
// name or an API key (Temporal Cloud only takes API keys over TLS).
func (c *Config) loadTemporalAuth() error {
	c.temporalTLS, c.temporalAPIKey = nil, nil
	var errs []error
	switch {
	case c.TemporalAPIKeyFile != "":
		if _, err := readSecret("--temporal-api-key-file", c.TemporalAPIKeyFile, ""); err != nil {
			errs = append(errs, err)
		}
		file := c.TemporalAPIKeyFile
		c.temporalAPIKey = func(context.Context) (string, error) { // read at every call: a rotated key is used at once
			return readSecret("--temporal-api-key-file", file, "")
		}
	case os.Getenv("TEMPORAL_API_KEY") != "":
		key := os.Getenv("TEMPORAL_API_KEY")
		c.temporalAPIKey = func(context.Context) (string, error) { return key, nil }
	}
	f := c.temporalFiles()
	if c.TemporalTLS || f.CA.Path != "" || f.HasClientCert() || f.Key.Path != "" || f.ServerName != "" || c.temporalAPIKey != nil {
		cfg, err := f.Config()
		errs = append(errs, err)
		c.temporalTLS = cfg
	}
	return errors.Join(errs...)
}

// applyTemporalAuth puts the loaded TLS settings and API key on opts.
func (c *Config) applyTemporalAuth(opts *client.Options) {
	opts.ConnectionOptions.TLS = c.temporalTLS
	if c.temporalAPIKey != nil {
		opts.Credentials = client.NewAPIKeyDynamicCredentials(c.temporalAPIKey)
	}
}

// explainTemporal turns a failed call to Temporal into one line naming the address, the setting to fix and how.
func (c *Config) explainTemporal(err error) error {
	where := "Temporal at " + c.TemporalAddress
	var denied *serviceerror.PermissionDenied
	var notFound *serviceerror.NamespaceNotFound
	switch code := status.Code(err); {
	case errors.As(err, &notFound):
		return fmt.Errorf("%s: namespace %q not found: check --namespace (Temporal Cloud: namespace.account-id)", where, c.TemporalNamespace)
	case errors.As(err, &denied) || code == codes.Unauthenticated || code == codes.PermissionDenied:
		return fmt.Errorf("%s rejected our credentials on namespace %q (%v): %s", where, c.TemporalNamespace, err, c.credentialFix())
	}
	if c.temporalTLS != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if problem := clienttls.Diagnose(ctx, c.TemporalAddress, c.temporalTLS, c.temporalFiles()); problem != nil {
			return fmt.Errorf("%s: %w", where, problem)
		}
	}
	return fmt.Errorf("connect to %s: %w (is it running? see --temporal-address; TLS: --temporal-tls)", where, err)
}

// credentialFix says which credential Temporal judged.
func (c *Config) credentialFix() string {
	var fixes []string
	switch {
	case c.TemporalAPIKeyFile != "":
		fixes = append(fixes, fmt.Sprintf("check the API key in --temporal-api-key-file %s is current and has access to the namespace", c.TemporalAPIKeyFile))
	case c.temporalAPIKey != nil:
		fixes = append(fixes, "check the API key in TEMPORAL_API_KEY is current and has access to the namespace")
	}
	if c.TemporalTLSCert != "" {
		fixes = append(fixes, fmt.Sprintf("check the namespace accepts the client certificate --temporal-tls-cert %s (its CA is registered for it)", c.TemporalTLSCert))
	}
	if len(fixes) == 0 {
		return "the server requires credentials: set --temporal-api-key-file, or --temporal-tls-cert and --temporal-tls-key"
	}
	return strings.Join(fixes, "; ")
}

// checkTemporal proves the namespace is reachable with our credentials: DescribeNamespace, which a worker needs too.
func (c *Config) checkTemporal(ctx context.Context, tc client.Client) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := tc.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: c.TemporalNamespace})
	if err != nil {
		return c.explainTemporal(err)
	}
	return nil
}
