// Command devstack runs the whole failover system on this machine, for development and demos: the embedded Temporal
// server and Web UI, etcd, the Kong stand-in, the demo regions, Prometheus, Alertmanager and a worker. It embeds
// servers the production binaries (worker, starter) must not link, so it is not shipped.
//
//	go run ./testsuite/devstack dev                      # the whole local stack until Ctrl-C
//	go run ./testsuite/devstack demo                     # an outage and its failover, measured
//	go run ./testsuite/devstack demo --approve=manual    # approve with `go run ./starter approve` meanwhile
//	go run ./testsuite/devstack demo --watch             # the region watchers start the failover
//	go run ./testsuite/devstack watchdrill               # the watcher drills: fault p50s, partition, flap
package main

import (
	"fmt"
	"log/slog"
	"os"

	"github.com/spf13/cobra"

	"github.com/failover/failover/endpoints"
)

func main() {
	if err := newRoot().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "devstack:", err)
		os.Exit(1)
	}
}

// newRoot binds the endpoint flags the starter and worker share: with `dev --codec-key-file F` the stack's payloads
// are encrypted and the Web UI reads them through a codec server.
func newRoot() *cobra.Command {
	var ep endpoints.Config
	root := &cobra.Command{Use: "devstack", Short: "Run the local stack (dev) or a measured failover demo on it (demo)",
		SilenceUsage: true, SilenceErrors: true}
	ep.Bind(root.PersistentFlags())
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	root.AddCommand(devCmd(&ep, logger), demoCmd(), watchDrillCmd())
	return root
}
