package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// demoReport is the demo's last stdout line.
type demoReport struct {
	Outcome    string             `json:"outcome"`
	Reason     string             `json:"reason,omitempty"`
	RTOSeconds float64            `json:"rto_seconds"`
	WorkflowID string             `json:"workflow_id"`
	RunID      string             `json:"run_id"`
	Steps      map[string]float64 `json:"steps"`
	// TrafficRestoredSeconds is fault → first answer from the target through the gateway, as a client saw it.
	TrafficRestoredSeconds float64        `json:"traffic_restored_seconds"`
	Requests               map[string]int `json:"requests"`
}

func (c *cli) demoCmd() *cobra.Command {
	var approveMode string
	var keep bool
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Fail the demo service over on the local stack: inject an outage, run the failover, report the RTO",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if approveMode != "auto" && approveMode != "manual" {
				return fmt.Errorf("--approve %q: use auto or manual", approveMode)
			}
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			rep, err := runDemo(ctx, c, approveMode, keep)
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
	cmd.Flags().StringVar(&approveMode, "approve", "auto", "auto (the plan approves) or manual (run `starter approve` from another terminal)")
	cmd.Flags().BoolVar(&keep, "keep", false, "leave the stack and Web UI up after the demo, until Ctrl-C")
	return cmd
}

func runDemo(ctx context.Context, c *cli, approveMode string, keep bool) (*demoReport, error) {
	fmt.Println("starting the local stack ...")
	// The stack's own chatter (followers waiting for the first cutover, etcd shutting down) is not the demo.
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	s, err := stack.Start(ctx, stack.Options{Prometheus: true, Logger: quiet})
	if err != nil {
		return nil, err
	}
	defer s.Stop()
	printStack(s)
	if err := waitForScrapes(ctx, s); err != nil {
		return nil, err
	}

	p := s.Plan
	if approveMode == "manual" {
		p.Approval.Mode = plan.ApprovalManual
	}
	traffic := startTraffic(ctx, s.Kong.ProxyURL()+"/payments/items/")
	fmt.Println("\ninjecting an outage into us-east (every request answers 503)")
	faultAt := time.Now()
	if err := postFault(s.Regions["us-east"].URL(), `{"status":503}`); err != nil {
		return nil, err
	}
	req := workflows.Request{Plan: p, PlanHash: p.Hash(), From: "us-east", To: "eu-west", Kind: workflows.KindFailover,
		Trigger: workflows.Trigger{Source: "demo", By: "demo", FaultAt: faultAt}}
	run, err := startFailover(ctx, s.TemporalClient, req)
	if err != nil {
		return nil, err
	}
	fmt.Printf("started %s; watch it in the Web UI: %s/namespaces/default/workflows/%s\n", run.GetID(), s.Temporal.UIURL(), run.GetID())
	if approveMode == "manual" {
		fmt.Printf("approve it: go run ./starter approve %s --as alice --temporal-address %s\n", run.GetID(), s.Temporal.Address())
	}
	var res workflows.Result
	if err := run.Get(ctx, &res); err != nil {
		return nil, fmt.Errorf("failover %s: %w", run.GetID(), err)
	}
	restored, counts := traffic.stop(faultAt, "eu-west")
	printTimeline(res)
	rep := &demoReport{Outcome: res.Outcome, Reason: res.Reason, RTOSeconds: res.RTOSeconds, WorkflowID: run.GetID(),
		RunID: run.GetRunID(), Steps: map[string]float64{}, TrafficRestoredSeconds: restored.Seconds(), Requests: counts}
	for _, st := range res.Steps {
		rep.Steps[st.Name] = st.Seconds()
	}
	fmt.Printf("\noutcome %s, RTO %.2fs (fault injected → traffic verified on eu-west); clients saw eu-west answer after %.2fs\n",
		res.Outcome, res.RTOSeconds, restored.Seconds())
	if keep {
		fmt.Printf("stack kept up for inspection (Web UI %s); Ctrl-C stops it\n", s.Temporal.UIURL())
		<-ctx.Done()
	}
	return rep, nil
}

// waitForScrapes waits until Prometheus has scraped both regions: readiness queries need the data.
func waitForScrapes(ctx context.Context, s *stack.Stack) error {
	deadline := time.Now().Add(30 * time.Second)
	url := s.Prom.PrometheusURL() + `/api/v1/query?query=count(up{job="regions"}==1)`
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
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
			if err == nil && len(body.Data.Result) == 1 && len(body.Data.Result[0].Value) == 2 && body.Data.Result[0].Value[1] == "2" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
	return errors.New("prometheus has not scraped both regions after 30s")
}

func postFault(regionURL, body string) error {
	resp, err := http.Post(regionURL+"/fault", "application/json", strings.NewReader(body))
	if err != nil {
		return fmt.Errorf("inject fault: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode >= 300 {
		return fmt.Errorf("inject fault: HTTP %d", resp.StatusCode)
	}
	return nil
}

// traffic sends a steady stream of requests through the gateway and notes who answered.
type traffic struct {
	mu       sync.Mutex
	counts   map[string]int
	firstOK  map[string]time.Time
	cancel   context.CancelFunc
	finished chan struct{}
}

func startTraffic(ctx context.Context, url string) *traffic {
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
			case <-time.After(10 * time.Millisecond):
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
