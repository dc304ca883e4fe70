package main

import (
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/failover/failover/codec"
	"github.com/failover/failover/endpoints"
	"github.com/failover/failover/testsuite/stack"
)

// devCmd runs the local stack on its fixed ports; ep holds the codec keyring (--codec-key-file), if any.
func devCmd(ep *endpoints.Config, logger *slog.Logger) *cobra.Command {
	var dir string
	var noProm bool
	cmd := &cobra.Command{
		Use:   "dev",
		Short: "Run the whole local stack (Temporal + Web UI, etcd, Kong stand-in, regions, Prometheus, Alertmanager, worker) until Ctrl-C",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			if err := ep.Load(); err != nil {
				return err
			}
			opts := stack.Options{Dir: dir, Ports: stack.DefaultPorts, Prometheus: !noProm, Logger: logger}
			if cd := ep.Codec(); cd != nil {
				// Payloads are encrypted; the Web UI decrypts them for display through this codec server.
				cs, err := codec.StartServer(fmt.Sprintf("127.0.0.1:%d", codecPort), cd, codec.ServerOptions{
					AllowedOrigins: []string{fmt.Sprintf("http://127.0.0.1:%d", stack.DefaultPorts.TemporalUI), fmt.Sprintf("http://localhost:%d", stack.DefaultPorts.TemporalUI)}})
				if err != nil {
					return err
				}
				defer cs.Stop()
				opts.Codec, opts.UICodecEndpoint = cd, cs.URL
				fmt.Printf("  %-16s %s (payloads encrypted with key %s)\n", "codec server", cs.URL, cd.ActiveKeyID())
			}
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
			opts.WebhookURL, opts.WebhookToken = door.url+"/webhooks/alertmanager", token
			s, err := stack.Start(ctx, opts)
			if err != nil {
				return err
			}
			defer s.Stop()
			// The front door and two more replicas watch the regions too (the demo plan's watch section).
			if _, err := openWatchedDoor(ctx, door, s, s.Plan, token, logger); err != nil {
				return err
			}
			// Light user traffic through the gateway, so the error-ratio alert has requests to judge.
			startTraffic(ctx, s.Kong.ProxyURL()+"/payments/items/", 50*time.Millisecond)
			printStack(s)
			fmt.Printf("  %-16s %s (bearer token %s; routes deploy/alerts/demo.yaml)\n", "webhook", door.url+"/webhooks/alertmanager", token)
			fmt.Println("\nbreak us-east and watch the watcher (or the alert) start the failover: curl -XPOST -d '{\"status\":503}' http://127.0.0.1:9101/fault")
			fmt.Printf("cut one watcher off (observer disagrees, nothing starts): curl -XPOST -d '{\"drop_observer\":\"%s\"}' http://127.0.0.1:9101/fault\n", WatcherReplicas[0])
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

// frontDoorPort is where `devstack dev` serves the webhook, like `starter serve --listen :8088`.
const frontDoorPort = 8088

// codecPort is where `devstack dev --codec-key-file` serves the codec server for the Web UI.
const codecPort = 8081

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
