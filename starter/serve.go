package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"golang.org/x/crypto/ssh"

	"github.com/failover/failover/alerts"
	"github.com/failover/failover/control"
	"github.com/failover/failover/endpoints"
	"github.com/failover/failover/frontdoor"
	"github.com/failover/failover/observe"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/proof"
	regionwatcher "github.com/failover/failover/watcher"
)

// serveConfig is `starter serve`'s own configuration; Temporal's address comes from the shared endpoints flags.
type serveConfig struct {
	Listen        string
	RoutesFile    string
	TokenFile     string
	BasicAuthFile string
	// FrontDoorKeyFile is the private key that signs Slack decisions; the workers trust its public key.
	FrontDoorKeyFile string
	// frontDoor is read from FrontDoorKeyFile by load; nil without one.
	frontDoor ssh.Signer
	// auth is read from the files or WEBHOOK_TOKEN by load; never logged.
	auth alerts.Auth
	// Watch runs the region watcher on the routed plans that have a watch section; WatcherID names this replica.
	Watch     bool
	WatcherID string
	// WatchSettle is the watcher's settle window in regions with an evacuation (watcher.Options.Settle), parsed by
	// load from watchSettle (flag or env WATCH_SETTLE).
	WatchSettle time.Duration
	watchSettle string
	// AlertSettle is how long a per-service alert may be held for its region's evacuation (alerts.Options.Settle),
	// parsed by load from alertSettle (flag or env ALERT_SETTLE).
	AlertSettle time.Duration
	alertSettle string
}

func (sc *serveConfig) bind(fs *pflag.FlagSet) {
	fs.StringVar(&sc.Listen, "listen", endpoints.EnvOr("LISTEN_ADDR", ":8080"), "address to serve HTTP on (env LISTEN_ADDR)")
	fs.StringVar(&sc.RoutesFile, "routes", os.Getenv("ROUTES_FILE"),
		"alert routes YAML, required (env ROUTES_FILE; see deploy/alerts/routes.yaml)")
	fs.StringVar(&sc.TokenFile, "webhook-token-file", os.Getenv("WEBHOOK_TOKEN_FILE"),
		"file holding the bearer token Alertmanager sends (env WEBHOOK_TOKEN_FILE, or the token itself in WEBHOOK_TOKEN)")
	fs.StringVar(&sc.BasicAuthFile, "webhook-basic-auth-file", os.Getenv("WEBHOOK_BASIC_AUTH_FILE"),
		"file holding user:password for webhook basic auth (env WEBHOOK_BASIC_AUTH_FILE)")
	fs.StringVar(&sc.FrontDoorKeyFile, "front-door-key", os.Getenv("FRONT_DOOR_KEY_FILE"), "unencrypted SSH private key that "+
		"signs Slack decisions on plans with approval.people; give its public key to the workers' --trusted-front-door-keys. "+
		"Without it such clicks are refused (env FRONT_DOOR_KEY_FILE)")
	fs.BoolVar(&sc.Watch, "watch", endpoints.EnvOr("WATCH", "true") == "true", "probe the regions of the routed plans that have a "+
		"watch section and start their failovers (env WATCH; quorum verdicts go to etcd, see --etcd-endpoints)")
	fs.StringVar(&sc.watchSettle, "watch-settle", endpoints.EnvOr("WATCH_SETTLE", "0"), "in a region the routes file evacuates, how long a service the watcher "+
		"confirmed down waits for the rest of the region before its own failover starts; if the whole region is down by "+
		"then, only the evacuation starts (0: half the detection time of the region's plans, failures × interval, at least "+
		"two intervals; negative: never wait; env WATCH_SETTLE)")
	fs.StringVar(&sc.alertSettle, "alert-settle", endpoints.EnvOr("ALERT_SETTLE", "0"), "in a region the routes file evacuates, "+
		"how long after it began a firing per-service alert is held (the webhook answers at the end) for the region's "+
		"evacuation, when neither that nor the service's failover runs yet; if the evacuation starts by then, the alert "+
		"is covered by it (0: "+alerts.DefaultSettle.String()+", for the shipped 5s scrape interval; keep it well under "+
		"Alertmanager's notification timeout, max(group_interval, 10s); negative: never hold; env ALERT_SETTLE)")
	host, _ := os.Hostname()
	fs.StringVar(&sc.WatcherID, "watcher-id", endpoints.EnvOr("WATCHER_ID", host), "this replica's name among the watchers, "+
		"unique per replica (env WATCHER_ID; default the hostname)")
}

// load reads the credentials and validates; each error names the flag and the fix.
func (sc *serveConfig) load() error {
	var errs []error
	if _, _, err := net.SplitHostPort(sc.Listen); err != nil {
		errs = append(errs, fmt.Errorf("--listen %q: give host:port or :port, e.g. :8080", sc.Listen))
	}
	var err error
	if sc.WatchSettle, err = settleWindow("--watch-settle (env WATCH_SETTLE)", sc.watchSettle, "600ms"); err != nil {
		errs = append(errs, err)
	}
	if sc.AlertSettle, err = settleWindow("--alert-settle (env ALERT_SETTLE)", sc.alertSettle, "8s"); err != nil {
		errs = append(errs, err)
	}
	if sc.RoutesFile == "" {
		errs = append(errs, errors.New("--routes (env ROUTES_FILE) is required: the alert routes file, see deploy/alerts/routes.yaml"))
	}
	sc.auth = alerts.Auth{Token: strings.TrimSpace(os.Getenv("WEBHOOK_TOKEN"))}
	if sc.TokenFile != "" {
		b, err := os.ReadFile(sc.TokenFile)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("--webhook-token-file: %w", err))
		case strings.TrimSpace(string(b)) == "":
			errs = append(errs, fmt.Errorf("--webhook-token-file %s is empty: put the token in it", sc.TokenFile))
		default:
			sc.auth.Token = strings.TrimSpace(string(b))
		}
	}
	if sc.BasicAuthFile != "" {
		b, err := os.ReadFile(sc.BasicAuthFile)
		user, pass, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("--webhook-basic-auth-file: %w", err))
		case !ok || user == "" || pass == "":
			errs = append(errs, fmt.Errorf("--webhook-basic-auth-file %s: want one line user:password", sc.BasicAuthFile))
		default:
			sc.auth.User, sc.auth.Password = user, pass
		}
	}
	if sc.FrontDoorKeyFile != "" {
		signer, err := proof.FileSigner(sc.FrontDoorKeyFile, nil)
		if err != nil {
			errs = append(errs, fmt.Errorf("--front-door-key: %w", err))
		}
		sc.frontDoor = signer
	}
	if len(errs) == 0 && !sc.auth.Configured() {
		errs = append(errs, errors.New("no webhook credentials: set --webhook-token-file (env WEBHOOK_TOKEN_FILE), "+
			"env WEBHOOK_TOKEN, or --webhook-basic-auth-file (env WEBHOOK_BASIC_AUTH_FILE); unauthenticated webhooks are refused"))
	}
	return errors.Join(errs...)
}

// settleWindow parses a settle window's value; the error names the flag and the fix.
func settleWindow(flag, value, example string) (time.Duration, error) {
	d, err := time.ParseDuration(value)
	if err != nil {
		return 0, fmt.Errorf("%s %q: give a duration such as %s, 0 for the default or -1s to never wait", flag, value, example)
	}
	return d, nil
}

func (c *cli) serveCmd() *cobra.Command {
	var sc serveConfig
	cmd := &cobra.Command{
		Use:   "serve --routes FILE --webhook-token-file FILE",
		Short: "Run the HTTP front door: POST /webhooks/alertmanager starts failovers from alerts; GET /healthz, /metrics",
		Long: `Run the orchestrator's HTTP front door until SIGTERM:

  POST /webhooks/alertmanager  Alertmanager webhook (payload version 4, bearer token or basic auth). Each alert
                               that matches a route starts its service's failover, or joins the running one;
                               a region-wide route (evacuation:) starts the region's evacuation, or joins it.
                               With --watch, every watched service of a region down starts that evacuation too.
  GET  /healthz                200 when Temporal answers, else 503; shows the region watcher's state
  GET  /metrics                Prometheus metrics (failover_webhook_requests_total, failover_webhook_alerts_total)
  POST /slack/interactions     Slack approval buttons (env SLACK_SIGNING_SECRET or SLACK_SIGNING_SECRET_FILE)

Slack Socket Mode, no public URL needed (env SLACK_APP_TOKEN or SLACK_APP_TOKEN_FILE); either mode also needs
the bot token (env SLACK_BOT_TOKEN or SLACK_BOT_TOKEN_FILE), and may narrow who can click (env SLACK_APPROVER_USERS,
SLACK_APPROVER_GROUPS).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := sc.load(); err != nil {
				return err
			}
			if err := c.endpoints.Load(); err != nil {
				return err
			}
			router, err := alerts.LoadRoutes(sc.RoutesFile)
			if err != nil {
				return fmt.Errorf("--routes: %w", err)
			}
			logger := slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), &slog.HandlerOptions{Level: slog.LevelInfo}))
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// A lazy client: serve comes up while Temporal is down; meanwhile /healthz and the webhook answer 503
			// (Alertmanager retries), and each call tries to connect again.
			tc, err := c.endpoints.TemporalLazy(c.logger)
			if err != nil {
				return err
			}
			defer tc.Close()
			reg := prometheus.NewRegistry()
			reg.MustRegister(observe.NewInFlightCollector(tc, logger)) // failovers running now, read from Temporal
			reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
			hook, err := alerts.NewHandler(alerts.Options{Temporal: tc, Router: router, Auth: sc.auth,
				Metrics: alerts.NewMetrics(reg), Logger: logger, Settle: sc.AlertSettle})
			if err != nil {
				return err
			}
			logger.Info("starter serve: routes loaded", "routes", router.String(), "temporal", c.endpoints.TemporalAddress)
			routes := frontdoor.Routes{Webhook: hook, Health: temporalHealth(tc), Registry: reg}
			if sc.Watch {
				w, err := c.startWatcher(ctx, sc.WatcherID, sc.WatchSettle, router, hook, reg, logger)
				switch {
				case errors.Is(err, errWatcherEtcd):
					// The webhook must serve whatever etcd does; /healthz says why the watcher is off.
					logger.Error("starter serve: the region watcher is off", "err", err)
					routes.Watcher = func() string { return "watcher off: " + err.Error() }
				case err != nil:
					return err
				case w != nil:
					routes.Watcher = func() string { return w.Health().String() }
				}
			}
			mux := frontdoor.NewMux(routes)
			waitSlack, err := serveSlack(ctx, mux, tc, sc.frontDoor, logger)
			if err != nil {
				return err
			}
			defer waitSlack()
			return listenAndServe(ctx, sc.Listen, mux, logger)
		},
	}
	sc.bind(cmd.Flags())
	return cmd
}

// errWatcherEtcd is wrapped by startWatcher when etcd, which the watchers' quorum needs, could not be reached.
var errWatcherEtcd = errors.New("watcher: etcd (the quorum of watchers needs it)")

// startWatcher runs the region watcher on the routed plans with a watch section (nil when there is none), with an
// etcd board for the other replicas' verdicts when a plan's quorum counts observers.
func (c *cli) startWatcher(ctx context.Context, id string, settle time.Duration, router *alerts.Router, hook *alerts.Handler,
	reg prometheus.Registerer, logger *slog.Logger) (*regionwatcher.Watcher, error) {
	plans := router.Plans()
	if !slices.ContainsFunc(plans, func(p plan.Plan) bool { return p.Watch != nil }) {
		return nil, nil
	}
	var board *regionwatcher.Board
	if slices.ContainsFunc(plans, func(p plan.Plan) bool { return p.Watch != nil && p.Watch.Quorum.Observers >= 2 }) {
		ec, err := c.endpoints.Etcd()
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errWatcherEtcd, err)
		}
		context.AfterFunc(ctx, func() { ec.Close() })
		if board, err = regionwatcher.NewBoard(ec, "", id, regionwatcher.DefaultLeaseTTL); err != nil {
			return nil, fmt.Errorf("--watcher-id: %w", err)
		}
	}
	// A region-wide failure starts the evacuation the routes file's region-wide route for that region names (the
	// same one its RegionUnavailable alert starts); a region without one is logged, and each service fails over alone.
	evacuator := regionwatcher.StartEvacuator{Starter: hook, Logger: logger}
	for _, region := range watchedRegions(plans) {
		if t, ok := router.Evacuation(region); ok {
			logger.Info("starter serve: every watched service of the region down starts its evacuation, which then owns them",
				"region", region, "evacuation", t.Evacuation.Path)
		} else {
			logger.Info("starter serve: no evacuation is configured for the region (no route with evacuation: for it): "+
				"if every watched service of it is down, each fails over alone", "region", region)
		}
	}
	w, err := regionwatcher.New(regionwatcher.Options{Observer: id, Plans: plans, Firer: hook, Board: board, Standby: router,
		Evacuator: evacuator, Settle: settle, Metrics: regionwatcher.NewMetrics(reg), Logger: logger})
	if err != nil {
		return nil, err
	}
	go w.Run(ctx)
	return w, nil
}

// watchedRegions are the regions of the plans with a watch section, sorted.
func watchedRegions(plans []plan.Plan) []string {
	var out []string
	for _, p := range plans {
		if p.Watch != nil {
			out = append(out, p.RegionNames()...)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// temporalHealth is the front door's Health: nil when Temporal answers.
func temporalHealth(tc control.HealthChecker) func(context.Context) error {
	return func(ctx context.Context) error { return control.Health(ctx, tc) }
}

// shutdownGrace bounds how long requests in flight may finish after SIGTERM; the webhook's Temporal calls are
// bounded well below it.
const shutdownGrace = 20 * time.Second

// listenAndServe serves h on addr until ctx ends, then shuts down gracefully.
func listenAndServe(ctx context.Context, addr string, h http.Handler, logger *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("--listen %s: %w", addr, err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute, ErrorLog: slog.NewLogLogger(logger.Handler(), slog.LevelWarn)}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("starter serve: listening", "addr", ln.Addr().String())
	select {
	case err := <-served:
		return fmt.Errorf("serve %s: %w", addr, err)
	case <-ctx.Done():
	}
	logger.Info("starter serve: shutting down; finishing requests in flight", "grace", shutdownGrace.String())
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
