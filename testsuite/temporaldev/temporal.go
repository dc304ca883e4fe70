package temporaldev

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"go.temporal.io/server/common/config"
	"go.temporal.io/server/common/dynamicconfig"
	"go.temporal.io/server/temporal"
)

// startTemporal builds and starts the four Temporal services in this process, with extra options such
// as an authorizer (none by default: loopback only). Their logs go to logger from level on. A server that fails
// half-way is stopped before the error returns.
func startTemporal(cfg *config.Config, p ports, dc *dynamicconfig.MemoryClient, logger *slog.Logger, level slog.Leveler, extra ...temporal.ServerOption) (srv temporal.Server, err error) {
	sl := serverLogger{l: slog.New(atLeast{Handler: logger.Handler(), min: level})}
	err = recoverFatal(func() error {
		srv, err = temporal.NewServer(append([]temporal.ServerOption{
			temporal.WithConfig(cfg),
			temporal.ForServices(temporal.DefaultServices),
			temporal.WithStaticHosts(staticHosts(p)),
			temporal.WithDynamicConfigClient(dc),
			temporal.WithLogger(sl),
		}, extra...)...)
		return err
	})
	if err != nil {
		return nil, startError(err, p)
	}
	if err := recoverFatal(srv.Start); err != nil {
		return nil, errors.Join(startError(err, p), stopTemporal(srv))
	}
	return srv, nil
}

// stopTemporal stops every service and closes their listeners.
func stopTemporal(srv temporal.Server) error {
	if err := recoverFatal(srv.Stop); err != nil {
		return fmt.Errorf("stop Temporal server: %w", err)
	}
	return nil
}

// recoverFatal runs f and turns the server's Fatal/Panic log calls, which panic with a fatalError
// (see serverLogger), into an error. Other panics go on.
func recoverFatal(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			fe, ok := r.(fatalError)
			if !ok {
				panic(r)
			}
			err = fe
		}
	}()
	return f()
}

// startError explains a port taken between pickPorts and the server's bind (the cause names the
// address): another process won the race, so a retry picks new internal ports.
func startError(err error, p ports) error {
	if strings.Contains(err.Error(), "address already in use") {
		return fmt.Errorf("start Temporal server: a port is in use (gRPC %d; internal %d, %d, %d, %d were free "+
			"a moment before): retry, or stop what holds it: %w", p.frontend, p.frontendHTTP, p.history, p.matching, p.worker, err)
	}
	return fmt.Errorf("start Temporal server: %w", err)
}
