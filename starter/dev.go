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
			s, err := stack.Start(ctx, stack.Options{Dir: dir, Ports: stack.DefaultPorts, Prometheus: !noProm, Logger: c.logger})
			if err != nil {
				return err
			}
			defer s.Stop()
			printStack(s)
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
