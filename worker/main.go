// Command worker runs the Temporal worker that executes failover workflows and their activities.
//
//	worker --temporal-address localhost:7233 --etcd-endpoints http://localhost:2379 --kong-admin-url http://localhost:8001
//
// Every flag also reads an environment variable (see --help). Credentials come from files or the environment and
// stay in this process: workflow inputs and histories never hold them.
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	"go.temporal.io/sdk/worker"

	"github.com/failover/failover/activities"
	"github.com/failover/failover/endpoints"
	"github.com/failover/failover/observe"
	"github.com/failover/failover/proof"
	"github.com/failover/failover/slackbot"
	"github.com/failover/failover/workflows"
)

func main() {
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(os.Args[1:], logger); err != nil {
		fmt.Fprintln(os.Stderr, "worker:", err)
		os.Exit(1)
	}
}

func run(args []string, logger *slog.Logger) error {
	var cfg endpoints.Config
	var auditPath string
	fs := pflag.NewFlagSet("worker", pflag.ContinueOnError)
	cfg.Bind(fs)
	fs.StringVar(&auditPath, "audit-log", endpoints.EnvOr("AUDIT_LOG", "stdout"), "where audit records go as JSON lines: stdout, or a file path (env AUDIT_LOG)")
	buildID := fs.String("build-id", endpoints.EnvOr("FAILOVER_BUILD_ID", ""), "this build's ID in the Worker Deployment "+
		workflows.DeploymentName+" (the image tag; images set it); empty turns Worker Versioning off (env FAILOVER_BUILD_ID)")
	metricsAddr := metricsFlag(fs)
	stickyCache := fs.Int("sticky-cache", 0, "workflows kept in memory between their "+
		"workflow tasks (sticky execution); 0 (the default) replays each task's history instead, so a killed worker costs "+
		"its running failovers no extra second; a large evacuation wants e.g. 10000 (env FAILOVER_STICKY_CACHE)")
	frontDoorKeys := fs.String("trusted-front-door-keys", endpoints.EnvOr("TRUSTED_FRONT_DOOR_KEYS", ""), "file of the Slack front "+
		"doors' public keys (authorized_keys form, one per line; list old and new while rotating): Slack decisions on plans "+
		"with approval.people must be signed by one of them; empty refuses them (env TRUSTED_FRONT_DOOR_KEYS)")
	drillHooks := fs.String("drill-hooks", endpoints.EnvOr("DRILL_HOOKS", ""), "YAML file of the command hooks drills may run on "+
		"this worker, by name (starter drill --fault-hook NAME): argv (no shell), env (names of this process's variables to "+
		"pass), dir, timeout, okExitCodes; empty declares none (env DRILL_HOOKS)")
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, "Usage of worker:\n%s\nSlack: set SLACK_BOT_TOKEN (or SLACK_BOT_TOKEN_FILE) to post approvals and progress to each plan's approval.slackChannel.\n", fs.FlagUsages())
	}
	if err := fs.Parse(args); errors.Is(err, pflag.ErrHelp) {
		return nil
	} else if err != nil {
		return err
	}
	if err := cfg.Load(); err != nil {
		return err
	}
	if err := loadStickyCache(fs, stickyCache); err != nil {
		return err
	}
	trust, err := loadTrust(*frontDoorKeys)
	if err != nil {
		return err
	}
	var hooks *activities.CommandHooks
	if *drillHooks != "" {
		if hooks, err = activities.LoadCommandHooks(*drillHooks); err != nil {
			return err
		}
		logger.Info("drill command hooks declared", "file", *drillHooks, "hooks", hooks.Names())
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	metrics := observe.NewMetrics(logger)
	tc, err := cfg.Temporal(logger, endpoints.WithMetricsHandler(metrics.SDKHandler()))
	if err != nil {
		return err
	}
	defer tc.Close()
	stopMetrics, err := serveMetrics(*metricsAddr, metrics, tc, logger)
	if err != nil {
		return err
	}
	defer stopMetrics()
	etcd, err := cfg.Etcd()
	if err != nil {
		return err
	}
	defer etcd.Close()
	kc, err := cfg.Kong()
	if err != nil {
		return err
	}
	// Fail now, in one line per system, rather than at the first failover: wrong CA, refused certificate, rejected
	// API key, token or password.
	if err := cfg.Check(ctx, tc, etcd, kc); err != nil {
		return err
	}
	audit, closeAudit, err := openAudit(auditPath)
	if err != nil {
		return err
	}
	defer closeAudit()
	acts := &activities.Activities{Etcd: etcd, Kong: kc, HTTP: &http.Client{Timeout: 30 * time.Second}, Logger: logger, Audit: audit,
		Temporal: tc, DrillHooks: hooks} // AwaitFailover: an evacuation waits for a failover it joined
	slackCfg, err := slackbot.LoadConfig() // SLACK_BOT_TOKEN(_FILE): post approvals and progress to the plan's channel
	if err != nil {
		return err
	}
	if slackCfg.BotToken != "" {
		// First publisher: its message reference threads every later event of the failover.
		acts.Publishers = append(acts.Publishers, slackbot.NewPublisher(slackCfg.BotClient(), logger))
	}
	if *stickyCache > 0 { // before the worker starts: see their comments
		workflows.KeepWorkflowsCached(*stickyCache)
	} else {
		workflows.DisableStickyExecution()
	}
	w := worker.New(tc, workflows.TaskQueue, workflows.WorkerOptions(*buildID))
	workflows.Register(w, acts, trust)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker on task queue %s: %w", workflows.TaskQueue, err)
	}
	defer w.Stop()
	logger.Info("worker running", "temporal", cfg.TemporalAddress, "namespace", cfg.TemporalNamespace, "task_queue", workflows.TaskQueue,
		"build", *buildID)
	if err := joinDeployment(ctx, tc, *buildID, logger); err != nil {
		return err
	}
	<-ctx.Done()
	return nil
}

// loadStickyCache takes FAILOVER_STICKY_CACHE when --sticky-cache is not given, and refuses a negative size.
func loadStickyCache(fs *pflag.FlagSet, n *int) error {
	if v := os.Getenv("FAILOVER_STICKY_CACHE"); v != "" && !fs.Changed("sticky-cache") {
		parsed, err := strconv.Atoi(v)
		if err != nil {
			return fmt.Errorf("FAILOVER_STICKY_CACHE=%q: want a number of workflows (0 turns sticky execution off)", v)
		}
		*n = parsed
	}
	if *n < 0 {
		return fmt.Errorf("--sticky-cache %d: want a number of workflows, 0 turns sticky execution off", *n)
	}
	return nil
}

// loadTrust reads the front-door public keys the workers trust for Slack decisions; no file trusts none.
func loadTrust(path string) (workflows.Trust, error) {
	if path == "" {
		return workflows.Trust{}, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return workflows.Trust{}, fmt.Errorf("--trusted-front-door-keys: %w: name the file of the front door's public keys "+
			"(the .pub of starter serve's --front-door-key)", err)
	}
	keys, err := proof.ParseAuthorizedKeys(b)
	if err != nil {
		return workflows.Trust{}, fmt.Errorf("--trusted-front-door-keys %s: %w", path, err)
	}
	return workflows.Trust{FrontDoorKeys: keys}, nil
}

// openAudit opens the audit sink: stdout or a file appended to.
func openAudit(path string) (*activities.AuditLog, func(), error) {
	if path == "" || path == "stdout" {
		return activities.NewAuditLog(os.Stdout), func() {}, nil
	}
	l, f, err := activities.OpenAuditFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("--audit-log %s: %w", path, err)
	}
	return l, func() { f.Close() }, nil
}
