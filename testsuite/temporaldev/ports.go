package temporaldev

import (
	"fmt"

	"github.com/failover/failover/testsuite/freeport"
)

// loopback is where every listener binds: a dev server is never reachable from the network.
const loopback = "127.0.0.1"

// ports are the loopback ports of one server: the two a user sees and the internal ones.
type ports struct {
	frontend, ui              int
	frontendHTTP              int // Temporal's HTTP API (and Nexus), on the frontend
	history, matching, worker int
}

// pickPorts fails with a clear message when a port the caller fixed is taken, and picks distinct
// free ports for the rest. The UI port stays 0 with NoUI.
func pickPorts(opts Options) (ports, error) {
	for _, p := range []int{opts.GRPCPort, opts.UIPort} {
		if p < 0 || p > 65535 {
			return ports{}, fmt.Errorf("port %d is out of range: use 1-65535, or 0 for any free port", p)
		}
	}
	if !opts.NoUI && opts.GRPCPort != 0 && opts.GRPCPort == opts.UIPort {
		return ports{}, fmt.Errorf("GRPCPort and UIPort are both %d: give them different ports (0 = any free port)", opts.GRPCPort)
	}
	if err := freeport.Check(opts.GRPCPort, "Temporal gRPC (Options.GRPCPort)"); err != nil {
		return ports{}, err
	}
	if !opts.NoUI {
		if err := freeport.Check(opts.UIPort, "Temporal Web UI (Options.UIPort)"); err != nil {
			return ports{}, err
		}
	}

	used := map[int]bool{opts.GRPCPort: true, opts.UIPort: true}
	pick := func(fixed int) (int, error) {
		if fixed != 0 {
			return fixed, nil
		}
		// A port is free again once its probe listener closes, so two picks can in principle
		// return the same port; retry until it differs from every port already chosen.
		for range 10 {
			p, err := freeport.Get(0)
			if err != nil {
				return 0, err
			}
			if !used[p] {
				used[p] = true
				return p, nil
			}
		}
		return 0, fmt.Errorf("no distinct free loopback port after 10 tries")
	}

	var p ports
	var err error
	if p.frontend, err = pick(opts.GRPCPort); err != nil {
		return ports{}, err
	}
	if !opts.NoUI {
		if p.ui, err = pick(opts.UIPort); err != nil {
			return ports{}, err
		}
	}
	for _, dst := range []*int{&p.frontendHTTP, &p.history, &p.matching, &p.worker} {
		if *dst, err = pick(0); err != nil {
			return ports{}, err
		}
	}
	return p, nil
}
