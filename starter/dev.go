package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/failover/failover/testsuite/stack"
)

func (c *cli) devCmd() *cobra.Command {
	var dir string
	var noProm bool
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole local stack (Temporal + Web UI, etcd, Kong stand-in, regions, Prometheus, Alertmanager, worker) until Ctrl-C",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			// The front door (Alertmanager's webhook target) listens first, so Alertmanager can be pointed at it.
			door, err := startLoopbackDoor(fmt.Sprintf("127.0.0.1:%d", frontDoorPort))
			if err != nil {
				return fmt.Errorf("%w (port %d: stop what holds it)", err, frontDoorPort)
			}
			defer door.close()
			token, err := randomToken()
			if err != nil {
				return err
			}
			s, err := stack.Start(ctx, stack.Options{Dir: dir, Ports: stack.DefaultPorts, Prometheus: !noProm, Logger: c.logger,
				WebhookURL: door.url + "/webhooks/alertmanager", WebhookToken: token})
			if err != nil {
				return err
			}
			defer s.Stop()
			if _, err := c.openDoor(door, s, s.Plan, token, c.logger); err != nil {
				return err
			}
			// Light user traffic through the gateway, so the error-ratio alert has requests to judge.
			startTraffic(ctx, s.Kong.ProxyURL()+"/payments/items/", 50*time.Millisecond)
			printStack(s)
			fmt.Printf("  %-16s %s (bearer token %s; routes deploy/alerts/demo.yaml)\n", "webhook", door.url+"/webhooks/alertmanager", token)
			fmt.Println("\nbreak us-east and watch the alert start the failover: curl -XPOST -d '{\"status\":503}' http://127.0.0.1:9101/fault")
			fmt.Printf("\ndemo plan: deploy/plans/demo.yaml   try: starter plan --plan deploy/plans/demo.yaml --to eu-west\n")
			fmt.Println("running; Ctrl-C stops everything")
			<-ctx.Done()
			fmt.Println("stopping")
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "dir", ".dev", "data dir (Temporal SQLite file, etcd data): kept across restarts")
	cmd.Flags().BoolVar(&noProm, "no-prometheus", false, "skip Prometheus and Alertmanager")
	return cmd
}

// frontDoorPort is where `starter dev` serves the webhook, like `starter serve --listen :8088`.
const frontDoorPort = 8088

func printStack(s *stack.Stack) {
	for _, u := range s.URLs() {
		fmt.Printf("  %-16s %s\n", u[0], u[1])
	}
	fmt.Print("  started in      ")
	for _, name := range []string{"temporal", "etcd", "kong", "regions", "prometheus+alertmanager", "total"} {
		if d, ok := s.StartTimes[name]; ok {
			fmt.Printf(" %s %s", name, d.Round(time.Millisecond))
		}
	}
	fmt.Println()
}
