package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	neturl "net/url"
	"os"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/failover/failover/alerts"
	deployalerts "github.com/failover/failover/deploy/alerts"
	"github.com/failover/failover/deploy/regiond/region"
	"github.com/failover/failover/frontdoor"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// demoReport is the demo's last stdout line.
type demoReport struct {
	Outcome string `json:"outcome"`
	Reason  string `json:"reason,omitempty"`
	// RTOSeconds is fault injected → traffic verified on the target; it includes the detection.
	RTOSeconds float64            `json:"rto_seconds"`
	WorkflowID string             `json:"workflow_id"`
	RunID      string             `json:"run_id"`
	Steps      map[string]float64 `json:"steps"`
	// TrafficRestoredSeconds is fault → first answer from the target through the gateway, as a client saw it.
	TrafficRestoredSeconds float64        `json:"traffic_restored_seconds"`
	Requests               map[string]int `json:"requests"`
	// DetectionSeconds is fault injected → the first alert received by the webhook (Prometheus scrape, rule,
	// Alertmanager grouping and delivery).
	DetectionSeconds float64 `json:"detection_seconds"`
	// Alert is the alert that started the failover; TriggerSource is what the workflow recorded as its trigger.
	Alert         string `json:"alert"`
	TriggerSource string `json:"trigger_source"`
	// AlertDeliveries counts the webhook deliveries the failover received (first ones and repeats).
	AlertDeliveries int `json:"alert_deliveries"`
	// RPOSeconds is the RPO estimate: eu-west's replication lag sampled at the cutover; null is unknown.
	RPOSeconds *float64 `json:"rpo_seconds"`
	// SLA is the run judged against the demo plan's sla (rto 30s, rpo 1s).
	SLA *workflows.SLAVerdict `json:"sla"`
	// AlertSources counts the alerts (fingerprints) the failover recorded per alertname: with --watch, one
	// WatcherRegionDown per watcher replica and Alertmanager's alerts, all in the one run.
	AlertSources map[string]int `json:"alert_sources"`
	// StartedSeconds is fault injected → the failover workflow started.
	StartedSeconds float64 `json:"started_seconds"`
	// Watch says the region watcher ran (--watch); TriggerSource then says whether it or an alert was first.
	Watch bool `json:"watch,omitempty"`
}

// demoOptions are the demo's flags.
type demoOptions struct {
	approve string // auto, manual or slack
	keep    bool   // leave the stack up until Ctrl-C
	// targetLag, when > 0, is injected as eu-west's replication lag (seconds) before the outage, so the RPO shows it.
	targetLag float64
	watch     bool // run the region watcher too
	// adjust, when set, changes the demo plan before the front door routes it (watchdrill's --plan).
	adjust func(*plan.Plan)
}

func demoCmd() *cobra.Command {
	var opts demoOptions
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Fail the demo service over on the local stack: inject an outage, let the alert start the failover, report detection and RTO",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if opts.approve != "auto" && opts.approve != "manual" && opts.approve != "slack" {
				return fmt.Errorf("--approve %q: use auto, manual or slack", opts.approve)
			}
			if opts.targetLag < 0 || opts.targetLag > 4 {
				return fmt.Errorf("--target-lag %g: give seconds from 0 to 4 (the demo plan's readiness refuses more than 5)", opts.targetLag)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			rep, err := runDemo(ctx, opts)
			if rep != nil {
				b, _ := json.Marshal(rep)
				fmt.Println(string(b))
			}
			if err != nil {
				return err
			}
			if rep.Outcome != workflows.Succeeded {
				return fmt.Errorf("failover ended %s: %s", rep.Outcome, rep.Reason)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&opts.approve, "approve", "auto", "auto (the plan approves), manual (run `starter approve` from another terminal) or slack (buttons in a real workspace: env SLACK_BOT_TOKEN, SLACK_APP_TOKEN, SLACK_CHANNEL, SLACK_APPROVER_USERS)")
	cmd.Flags().BoolVar(&opts.keep, "keep", false, "leave the stack and Web UI up after the demo, until Ctrl-C")
	cmd.Flags().Float64Var(&opts.targetLag, "target-lag", 0, "inject this replication lag (seconds) into eu-west before the outage: the RPO shows it, and over 1 s the SLA is breached")
	cmd.Flags().BoolVar(&opts.watch, "watch", false, "run the region watcher too (three front-door replicas probing the regions, quorum in etcd): "+
		"it starts the failover in about a second, the alert then joins it")
	return cmd
}

// alertWait bounds fault → alert → workflow started: a scrape, the rule's window and for:, Alertmanager's
// group_wait, with room for a slow machine.
const alertWait = 60 * time.Second

// runDemo runs the real alert path: the demo region us-east is faulted, Prometheus's rule fires, Alertmanager
// posts to the front door's webhook (served here on a loopback port, as `starter serve` serves it), and the
// webhook starts the failover.
func runDemo(ctx context.Context, o demoOptions) (*demoReport, error) {
	approveMode, keep, watch := o.approve, o.keep, o.watch
	fmt.Println("starting the local stack ...")
	// The stack's own chatter (followers waiting for the first cutover, etcd shutting down) is not the demo.
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	door, err := startLoopbackDoor("127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer door.close()
	token, err := randomToken()
	if err != nil {
		return nil, err
	}
	opts := stack.Options{Prometheus: true, Logger: quiet, WebhookURL: door.url + "/webhooks/alertmanager", WebhookToken: token}
	var sd *slackDemo
	if approveMode == "slack" {
		if sd, err = newSlackDemo(); err != nil {
			return nil, err
		}
		opts.Publishers, opts.Trust = sd.publishers(quiet), sd.trust()
	}
	var s *stack.Stack
	if err := within(ctx, stackStartWait, "the local stack to start (Temporal, etcd, the Kong stand-in, the regions, Prometheus, Alertmanager)",
		func(ctx context.Context) (err error) {
			s, err = stack.Start(ctx, opts)
			return err
		}); err != nil {
		return nil, err
	}
	defer stopWithin("local stack", s.Stop)
	// The watchers (--watch) end with this run's stack, not with the command.
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	p := s.Plan
	if o.adjust != nil {
		o.adjust(&p)
	}
	if approveMode != "auto" {
		p.Approval.Mode = plan.ApprovalManual
	}
	if sd != nil {
		sd.adapt(&p)
		go sd.listen(ctx, s, quiet)
		fmt.Printf("Slack: the approval request goes to channel %s; approvers %v\n", p.Approval.SlackChannel, p.Approval.Approvers)
	}
	router, err := demoRoutes(p)
	if err != nil {
		return nil, err
	}
	if watch {
		_, err = openWatchedDoor(ctx, door, s, p, token, quiet)
	} else {
		_, err = openDoor(door, s, p, token, quiet)
	}
	if err != nil {
		return nil, err
	}
	printStack(s)
	fmt.Printf("  %-16s %s (routes deploy/alerts/demo.yaml: %s)\n", "webhook", door.url+"/webhooks/alertmanager", router)
	if err := waitForScrapes(ctx, s); err != nil {
		return nil, err
	}

	if o.targetLag > 0 {
		fmt.Printf("injecting %gs of replication lag into eu-west (the failover's target)\n", o.targetLag)
		if err := region.InjectFault(s.Regions["eu-west"].URL(), fmt.Sprintf(`{"replication_lag_seconds":%g}`, o.targetLag)); err != nil {
			return nil, err
		}
		if err := waitForQuery(ctx, s, fmt.Sprintf(`max(region_replication_lag_seconds{region="eu-west"}) == %g`, o.targetLag)); err != nil {
			return nil, err
		}
	}
	traffic := startTraffic(ctx, s.Kong.ProxyURL()+"/payments/items/", 10*time.Millisecond)
	waitingFor := "Prometheus → Alertmanager → webhook"
	if watch {
		waitingFor = "the region watchers (and Prometheus → Alertmanager → webhook)"
	}
	fmt.Printf("\ninjecting an outage into us-east (every request answers 503); waiting for %s\n", waitingFor)
	faultAt := time.Now()
	if err := injectFault(ctx, s.Regions["us-east"].URL(), `{"status":503}`); err != nil {
		return nil, err
	}
	run, err := awaitFailover(ctx, s, workflows.WorkflowID(p.Service), alertWait, func() string { return alertPathState(s, door) })
	if err != nil {
		return nil, err
	}
	fmt.Printf("failover %s started %.2fs after the fault; watch it in the Web UI: %s/namespaces/default/workflows/%s\n",
		run.GetID(), time.Since(faultAt).Seconds(), s.Temporal.UIURL(), run.GetID())
	if approveMode != "auto" {
		fmt.Printf("approve it in Slack (--approve=slack) or: go run ./starter approve %s --as alice --temporal-address %s\n", run.GetID(), s.Temporal.Address())
	}
	var res workflows.Result
	end := time.Duration(0) // a person approves (manual, slack): as long as they take
	if approveMode == "auto" {
		end = failoverEndWait
	}
	if err := awaitEnd(ctx, s, run, end, &res); err != nil {
		return nil, err
	}
	restored, counts := traffic.stop(faultAt, "eu-west")
	st, err := demoStatus(ctx, s, run)
	if err != nil {
		return nil, err
	}
	printTimeline(res)
	rep := &demoReport{Outcome: res.Outcome, Reason: res.Reason, WorkflowID: run.GetID(), RunID: run.GetRunID(), Steps: map[string]float64{},
		TrafficRestoredSeconds: restored.Seconds(), Requests: counts, Alert: st.Trigger.Alert, TriggerSource: st.Trigger.Source,
		RPOSeconds: res.RPOSeconds, StartedSeconds: st.StartedAt.Sub(faultAt).Seconds(), Watch: watch}
	for _, step := range res.Steps {
		rep.Steps[step.Name] = step.Seconds()
	}
	if n := len(res.Steps); res.Outcome == workflows.Succeeded && n > 0 {
		// The workflow counts its RTO from the alert's startsAt; the demo knows when the fault really began.
		rep.RTOSeconds = res.Steps[n-1].Ended.Sub(faultAt).Seconds()
	}
	var first time.Time
	rep.AlertSources = map[string]int{}
	for _, a := range st.Alerts {
		rep.AlertSources[a.Alertname]++
		rep.AlertDeliveries += a.Notifications
		if first.IsZero() || a.FirstSeen.Before(first) {
			first = a.FirstSeen
		}
	}
	if !first.IsZero() {
		rep.DetectionSeconds = first.Sub(faultAt).Seconds()
	}
	// Judged on the demo's own RTO (from the fault, which it knows) rather than the workflow's (from the alert).
	rep.SLA = workflows.JudgeSLA(p.SLA, res.Outcome, rep.RTOSeconds, res.RPOSeconds)
	fmt.Printf("\noutcome %s, RTO %.2fs (fault injected → traffic verified on eu-west), of which detection %.2fs (fault → %s %s received);"+
		" failover started after %.2fs; clients saw eu-west answer after %.2fs\n", res.Outcome, rep.RTOSeconds, rep.DetectionSeconds,
		rep.TriggerSource, rep.Alert, rep.StartedSeconds, restored.Seconds())
	fmt.Printf("RPO %s (eu-west's replication lag at the cutover); %s\n", workflows.RPOString(rep.RPOSeconds), rep.SLA)
	if keep {
		fmt.Printf("stack kept up for inspection (Web UI %s); Ctrl-C stops it\n", s.Temporal.UIURL())
		<-ctx.Done()
	}
	return rep, nil
}

// openDoor serves the front door (the webhook with deploy/alerts/demo.yaml's routes for plan p, /healthz,
// /metrics) behind door, as `starter serve` would.
func openDoor(door *loopbackDoor, s *stack.Stack, p plan.Plan, token string, logger *slog.Logger) (*alerts.Router, error) {
	d, err := newDoor(s, p, token, logger)
	if err != nil {
		return nil, err
	}
	door.set(d.mux(nil))
	return d.router, nil
}

// doorParts are one front door's webhook, routes and metrics.
type doorParts struct {
	s      *stack.Stack
	router *alerts.Router
	hook   *alerts.Handler
	reg    *prometheus.Registry
}

func newDoor(s *stack.Stack, p plan.Plan, token string, logger *slog.Logger) (*doorParts, error) {
	router, err := demoRoutes(p)
	if err != nil {
		return nil, err
	}
	reg := prometheus.NewRegistry()
	hook, err := alerts.NewHandler(alerts.Options{Temporal: s.TemporalClient, Router: router, Auth: alerts.Auth{Token: token},
		Metrics: alerts.NewMetrics(reg), Logger: logger})
	if err != nil {
		return nil, err
	}
	return &doorParts{s: s, router: router, hook: hook, reg: reg}, nil
}

// mux routes the door's endpoints; watcher, when set, is the region watcher's state for /healthz.
func (d *doorParts) mux(watcher func() string) http.Handler {
	return frontdoor.NewMux(frontdoor.Routes{Webhook: d.hook, Health: stackHealth(d.s), Registry: d.reg, Watcher: watcher})
}

// stackHealth is the front door's /healthz check: the stack's Temporal answers.
func stackHealth(s *stack.Stack) func(context.Context) error {
	return func(ctx context.Context) error {
		_, err := s.TemporalClient.CheckHealth(ctx, &client.CheckHealthRequest{})
		return err
	}
}

// demoRoutes are deploy/alerts/demo.yaml with the stack's copy of the demo plan (its addresses are free ports).
func demoRoutes(p plan.Plan) (*alerts.Router, error) {
	raw, err := deployalerts.Files.ReadFile("demo.yaml")
	if err != nil {
		return nil, fmt.Errorf("demo routes: %w", err)
	}
	r, err := alerts.ParseRoutes(raw, func(path string) (plan.Plan, error) {
		if filepath.Base(path) != "demo.yaml" {
			return plan.Plan{}, fmt.Errorf("the demo runs only the demo plan, not %s", path)
		}
		return p, nil
	})
	if err != nil {
		return nil, fmt.Errorf("deploy/alerts/demo.yaml: %w", err)
	}
	return r, nil
}

// awaitFailover waits until the alert has started the service's failover and returns its run. Past limit it fails
// with state(): where the alert stands (alertPathState) or the watchers' verdicts.
func awaitFailover(ctx context.Context, s *stack.Stack, id string, limit time.Duration, state func() string) (client.WorkflowRun, error) {
	deadline := time.Now().Add(limit)
	for {
		desc, err := s.TemporalClient.DescribeWorkflow(ctx, id, "")
		if err == nil {
			return s.TemporalClient.GetWorkflow(ctx, id, desc.WorkflowExecution.RunID), nil
		}
		var nf *serviceerror.NotFound
		if !errors.As(err, &nf) {
			return nil, fmt.Errorf("describe %s: %w", id, err)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("%w: no failover %s started within %s of the fault (%s)", errTimedOut, id, limit, state())
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// awaitEnd waits for the failover's result, at most limit (0: no limit). Past it, it fails with where the run
// stands: its current step and the reason it waits, from the status query.
func awaitEnd(ctx context.Context, s *stack.Stack, run client.WorkflowRun, limit time.Duration, res *workflows.Result) error {
	get := func(ctx context.Context) error {
		if err := run.Get(ctx, res); err != nil {
			return fmt.Errorf("failover %s: %w", run.GetID(), err)
		}
		return nil
	}
	if limit == 0 {
		return get(ctx)
	}
	err := within(ctx, limit, "failover "+run.GetID()+" to end", get)
	if errors.Is(err, errTimedOut) {
		qctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		st, qerr := demoStatus(qctx, s, run)
		if qerr != nil {
			return fmt.Errorf("%w (its status: %v)", err, qerr)
		}
		b, _ := json.Marshal(st)
		return fmt.Errorf("%w (its status: %.600s)", err, b)
	}
	return err
}

func demoStatus(ctx context.Context, s *stack.Stack, run client.WorkflowRun) (workflows.Status, error) {
	var st workflows.Status
	v, err := s.TemporalClient.QueryWorkflow(ctx, run.GetID(), run.GetRunID(), workflows.StatusQuery)
	if err != nil {
		return st, fmt.Errorf("query %s: %w", run.GetID(), err)
	}
	if err := v.Get(&st); err != nil {
		return st, fmt.Errorf("decode status of %s: %w", run.GetID(), err)
	}
	return st, nil
}

func randomToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("webhook token: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// waitForScrapes waits until Prometheus has scraped both regions: readiness queries need the data.
func waitForScrapes(ctx context.Context, s *stack.Stack) error {
	return waitForQuery(ctx, s, `count(up{job="regions"}==1) == 2`)
}

// waitForQuery waits until a PromQL expression (a filter such as `x == 2`) returns a series.
func waitForQuery(ctx context.Context, s *stack.Stack, expr string) error {
	deadline := time.Now().Add(30 * time.Second)
	url := s.Prom.PrometheusURL() + "/api/v1/query?query=" + neturl.QueryEscape(expr)
	for time.Now().Before(deadline) {
		resp, err := diagClient.Get(url)
		if err == nil {
			var body struct {
				Data struct {
					Result []struct {
						Value []any `json:"value"`
					} `json:"result"`
				} `json:"data"`
			}
			err = json.NewDecoder(resp.Body).Decode(&body)
			resp.Body.Close()
			if err == nil && len(body.Data.Result) == 1 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("prometheus answered no series for %s after 30s", expr)
}

// traffic sends a steady stream of requests through the gateway and notes who answered.
type traffic struct {
	mu       sync.Mutex
	counts   map[string]int
	firstOK  map[string]time.Time
	cancel   context.CancelFunc
	finished chan struct{}
}

func startTraffic(ctx context.Context, url string, every time.Duration) *traffic {
	ctx, cancel := context.WithCancel(ctx)
	tr := &traffic{counts: map[string]int{}, firstOK: map[string]time.Time{}, cancel: cancel, finished: make(chan struct{})}
	hc := &http.Client{Timeout: 2 * time.Second}
	go func() {
		defer close(tr.finished)
		for i := 0; ctx.Err() == nil; i++ {
			resp, err := hc.Get(fmt.Sprintf("%sk%d", url, i%50))
			key := "error"
			if err == nil {
				resp.Body.Close()
				key = fmt.Sprintf("%s %d", resp.Header.Get("X-Region"), resp.StatusCode)
			}
			tr.mu.Lock()
			tr.counts[key]++
			if err == nil && resp.StatusCode == http.StatusOK {
				if _, seen := tr.firstOK[resp.Header.Get("X-Region")]; !seen {
					tr.firstOK[resp.Header.Get("X-Region")] = time.Now()
				}
			}
			tr.mu.Unlock()
			select {
			case <-ctx.Done():
			case <-time.After(every):
			}
		}
	}()
	return tr
}

// stop ends the traffic and returns how long after the fault the target first answered, and the counts.
func (tr *traffic) stop(faultAt time.Time, target string) (time.Duration, map[string]int) {
	tr.cancel()
	<-tr.finished
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var restored time.Duration
	if t, ok := tr.firstOK[target]; ok {
		restored = t.Sub(faultAt)
	}
	return restored, tr.counts
}

func printTimeline(res workflows.Result) {
	fmt.Println("\nstep        result     seconds  detail")
	for _, st := range res.Steps {
		fmt.Printf("%-11s %-8s %9.3f  %s\n", st.Name, st.Result, st.Seconds(), st.Detail)
	}
}
