// Command demoseed prepares a fresh Kong and etcd for a failover plan, once: the Kong upstream with one target per
// region (the active region at weight 100, the others at 0), a Kong service and route /<service> in front of it,
// and the service's active-region key in etcd. It is the docker compose stack's one-shot seeding job; against a
// real system it is a convenience for a first test service, never needed by the orchestrator itself.
//
//	demoseed --plan /plans/compose.yaml --active us-east --kong-admin-url http://kong-admin:8001 --etcd-endpoints http://etcd-0:2379
//
// Everything is create-if-absent: a second run (docker compose up again, after a failover) changes nothing, so it
// never moves traffic back or rewinds the epoch.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/kong/go-kong/kong"
	"github.com/spf13/pflag"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/endpoints"
	"github.com/failover/failover/plan"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(os.Args[1:], logger); err != nil {
		fmt.Fprintln(os.Stderr, "demoseed:", err)
		os.Exit(1)
	}
}

// seedWorkflowID marks the active-region value demoseed wrote, so an operator reading the key knows where epoch 1
// came from.
const seedWorkflowID = "demoseed"

func run(args []string, logger *slog.Logger) error {
	var cfg endpoints.Config
	var planPath, activeRegion string
	var wait time.Duration
	fs := pflag.NewFlagSet("demoseed", pflag.ContinueOnError)
	cfg.Bind(fs)
	// demoseed talks to Kong and etcd only; the shared Temporal flags stay accepted but out of --help.
	for _, name := range []string{"temporal-address", "namespace", "temporal-tls"} {
		_ = fs.MarkHidden(name)
	}
	fs.StringVar(&planPath, "plan", os.Getenv("SEED_PLAN"), "failover plan (YAML) naming the Kong upstream, the targets and the etcd key (env SEED_PLAN)")
	fs.StringVar(&activeRegion, "active", os.Getenv("SEED_ACTIVE"), "region that starts active: weight 100 and the etcd key (env SEED_ACTIVE)")
	fs.DurationVar(&wait, "wait", 2*time.Minute, "how long to retry while Kong or etcd are not answering yet")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := cfg.Load(); err != nil {
		return err
	}
	if planPath == "" {
		return errors.New("--plan is empty: give the plan to seed for, e.g. deploy/plans/compose.yaml")
	}
	p, err := plan.Load(planPath)
	if err != nil {
		return err
	}
	if _, ok := p.Regions[activeRegion]; !ok {
		return fmt.Errorf("--active %q: name one of the plan's regions %v", activeRegion, p.RegionNames())
	}
	etcd, err := cfg.Etcd()
	if err != nil {
		return err
	}
	defer etcd.Close()
	kc, err := cfg.Kong()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	s := seeder{kong: kc, acts: &activities.Activities{Etcd: etcd, Logger: logger}, log: logger}
	if err := retry(ctx, logger, "seed Kong", func() error { return s.seedKong(ctx, p, activeRegion) }); err != nil {
		return err
	}
	return retry(ctx, logger, "seed etcd", func() error { return s.seedEtcd(ctx, p, activeRegion) })
}

// seeder creates the plan's entities where they are missing.
type seeder struct {
	kong *kong.Client
	acts *activities.Activities
	log  *slog.Logger
}

// seedKong creates the upstream, its targets, the service and the route, leaving existing ones as they are: after a
// failover the weights say where traffic goes, and a re-run must not undo that.
func (s seeder) seedKong(ctx context.Context, p plan.Plan, active string) error {
	upstream := p.Kong.Upstream
	if _, err := s.kong.Upstreams.Create(ctx, &kong.Upstream{Name: kong.String(upstream)}); err != nil && !isConflict(err) {
		return fmt.Errorf("create Kong upstream %s: %w", upstream, err)
	}
	for _, name := range p.RegionNames() {
		weight := 0
		if name == active {
			weight = 100
		}
		target := p.Regions[name].KongTarget
		_, err := s.kong.Targets.Create(ctx, kong.String(upstream), &kong.Target{Target: kong.String(target), Weight: kong.Int(weight)})
		switch {
		case err == nil:
			s.log.Info("created Kong target", "upstream", upstream, "target", target, "region", name, "weight", weight)
		case !isConflict(err):
			return fmt.Errorf("create Kong target %s on upstream %s: %w", target, upstream, err)
		}
	}
	// A service whose host is the upstream's name sends its traffic through the upstream's weighted targets.
	svc := &kong.Service{Name: kong.String(p.Service), Host: kong.String(upstream), Port: kong.Int(80), Protocol: kong.String("http")}
	if _, err := s.kong.Services.Create(ctx, svc); err != nil && !isConflict(err) {
		return fmt.Errorf("create Kong service %s: %w", p.Service, err)
	}
	route := &kong.Route{Name: kong.String(p.Service), Paths: kong.StringSlice("/" + p.Service), StripPath: kong.Bool(true),
		Service: &kong.Service{Name: kong.String(p.Service)}}
	if _, err := s.kong.Routes.Create(ctx, route); err != nil && !isConflict(err) {
		return fmt.Errorf("create Kong route /%s: %w", p.Service, err)
	}
	return nil
}

// seedEtcd writes epoch 1 of the active-region key when the key does not exist, with the same fenced create the
// workflow's cutover uses.
func (s seeder) seedEtcd(ctx context.Context, p plan.Plan, active string) error {
	cur, err := s.acts.ReadActive(ctx, p.Etcd.ActiveKey)
	if err != nil {
		return err
	}
	if cur.Exists {
		s.log.Info("active-region key exists; left as is", "key", p.Etcd.ActiveKey, "region", cur.Value.Region, "epoch", cur.Value.Epoch)
		return nil
	}
	res, err := s.acts.Cutover(ctx, activities.CutoverInput{Key: p.Etcd.ActiveKey, Region: active, WorkflowID: seedWorkflowID})
	if err != nil {
		return err
	}
	s.log.Info("seeded active-region key", "key", p.Etcd.ActiveKey, "region", res.Value.Region, "epoch", res.Value.Epoch)
	return nil
}

// retry runs step until it succeeds or ctx ends; the systems may still be starting when the job runs.
func retry(ctx context.Context, log *slog.Logger, what string, step func() error) error {
	backoff := 200 * time.Millisecond
	for {
		err := step()
		if err == nil {
			return nil
		}
		var apiErr *kong.APIError
		if errors.As(err, &apiErr) && apiErr.Code() == http.StatusBadRequest {
			return fmt.Errorf("%s: Kong refused it (fix the plan): %w", what, err)
		}
		log.Warn(what+": retrying", "err", err, "in", backoff)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: gave up (%w): last error: %w", what, context.Cause(ctx), err)
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func isConflict(err error) bool {
	var apiErr *kong.APIError
	return errors.As(err, &apiErr) && apiErr.Code() == http.StatusConflict
}
