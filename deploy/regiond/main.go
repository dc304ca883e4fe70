// Command regiond runs one instance of the demo region service (deploy/regiond/region) as a process, so docker compose
// can run the demo's regions as containers. It serves cached items, /healthz, /metrics and /fault, follows the
// service's active-region key in etcd and acknowledges each epoch, until SIGTERM.
//
//	regiond --region us-east --service payments --listen :9101 --etcd-endpoints http://etcd-0:2379
//
// Every flag also reads an environment variable (see --help).
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/failover/failover/deploy/regiond/region"
	"github.com/failover/failover/endpoints"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(os.Args[1:], logger); err != nil {
		fmt.Fprintln(os.Stderr, "regiond:", err)
		os.Exit(1)
	}
}

// config is regiond's whole configuration: one struct, from flags with environment defaults.
type config struct {
	Region, Service, Listen string
	EtcdEndpoints           []string
	ActiveKey, AckPrefix    string
	Instance                string
	GRPCListen              string
}

func (c *config) bind(fs *pflag.FlagSet) {
	fs.StringVar(&c.Region, "region", os.Getenv("REGION"), "region this instance serves, e.g. us-east (env REGION)")
	fs.StringVar(&c.Service, "service", endpoints.EnvOr("SERVICE", "payments"), "service name (env SERVICE)")
	fs.StringVar(&c.Listen, "listen", endpoints.EnvOr("LISTEN_ADDR", ":9101"), "listen address host:port (env LISTEN_ADDR)")
	fs.StringSliceVar(&c.EtcdEndpoints, "etcd-endpoints", splitList(os.Getenv("ETCD_ENDPOINTS")),
		"etcd endpoints to follow the active-region key on; none = do not follow (env ETCD_ENDPOINTS, comma-separated)")
	fs.StringVar(&c.ActiveKey, "active-key", os.Getenv("ACTIVE_KEY"), "active-region key, default /failover/<service>/active (env ACTIVE_KEY)")
	fs.StringVar(&c.AckPrefix, "ack-prefix", os.Getenv("ACK_PREFIX"), "prefix acks are written under, default /failover/<service>/acks/ (env ACK_PREFIX)")
	fs.StringVar(&c.Instance, "instance", os.Getenv("INSTANCE"), "instance name in acks, default <service>-<region>-1 (env INSTANCE)")
	fs.StringVar(&c.GRPCListen, "grpc-listen", os.Getenv("GRPC_LISTEN_ADDR"), "serve grpc.health.v1 on this host:port; empty = not served (env GRPC_LISTEN_ADDR)")
}

// validate fills defaults that depend on other fields and names the bad flag and the fix.
func (c *config) validate() error {
	var errs []error
	if c.Region == "" {
		errs = append(errs, errors.New("--region is empty: name the region this instance serves, e.g. us-east"))
	}
	if c.Service == "" {
		errs = append(errs, errors.New("--service is empty: name the service, e.g. payments"))
	}
	if !strings.Contains(c.Listen, ":") {
		errs = append(errs, fmt.Errorf("--listen %q: give host:port or :port, e.g. :9101", c.Listen))
	}
	for _, e := range c.EtcdEndpoints {
		if u, err := url.Parse(e); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
			errs = append(errs, fmt.Errorf("--etcd-endpoints: %q is not http(s)://host:port", e))
		}
	}
	if c.ActiveKey == "" {
		c.ActiveKey = "/failover/" + c.Service + "/active"
	}
	if c.AckPrefix == "" {
		c.AckPrefix = "/failover/" + c.Service + "/acks/"
	}
	return errors.Join(errs...)
}

func run(args []string, logger *slog.Logger) error {
	var cfg config
	fs := pflag.NewFlagSet("regiond", pflag.ContinueOnError)
	cfg.bind(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	opts := region.Options{Region: cfg.Region, Service: cfg.Service, Addr: cfg.Listen, Instance: cfg.Instance, GRPCAddr: cfg.GRPCListen, Logger: logger}
	if len(cfg.EtcdEndpoints) > 0 {
		// The client retries on its own: regiond may start before etcd has a quorum, and follows once it has one.
		etcd, err := clientv3.New(clientv3.Config{Endpoints: cfg.EtcdEndpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
		if err != nil {
			return fmt.Errorf("etcd client for %v: %w", cfg.EtcdEndpoints, err)
		}
		defer etcd.Close()
		opts.Etcd, opts.ActiveKey, opts.AckPrefix = etcd, cfg.ActiveKey, cfg.AckPrefix
	}
	srv, err := region.Start(ctx, opts)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return srv.Close()
}

// splitList splits a comma-separated list, dropping empty items, so an unset variable means "none".
func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}
