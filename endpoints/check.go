package endpoints

import (
	"context"
	"errors"

	"github.com/kong/go-kong/kong"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.temporal.io/sdk/client"
)

// Check proves, before any work, that each system answers and accepts our credentials: Temporal describes the
// namespace, etcd reports its status, Kong answers GET /. A nil client is skipped. Each failure is one line that
// names the endpoint, the flag or file to fix and how (an unknown CA, a refused or missing client certificate, a
// rejected API key, token or password); all failures are returned together.
func (c *Config) Check(ctx context.Context, tc client.Client, etcd *clientv3.Client, kc *kong.Client) error {
	var errs []error
	if tc != nil {
		errs = append(errs, c.checkTemporal(ctx, tc))
	}
	if etcd != nil {
		errs = append(errs, c.etcd.Check(ctx, etcd))
	}
	if kc != nil {
		errs = append(errs, c.checkKong(ctx, kc))
	}
	return errors.Join(errs...)
}
