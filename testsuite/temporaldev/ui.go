package temporaldev

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	uiserver "github.com/temporalio/ui-server/v2/server"
	uiconfig "github.com/temporalio/ui-server/v2/server/config"
	uiserveroptions "github.com/temporalio/ui-server/v2/server/server_options"
)

// uiStartTimeout bounds the wait for the Web UI's listener.
const uiStartTimeout = 10 * time.Second

// webUIConfig is what the Web UI needs from Start.
type webUIConfig struct {
	port          int
	grpcAddress   string
	namespace     string
	codecEndpoint string
}

// webUI is the Temporal Web UI (assets embedded in ui-server) serving on loopback.
type webUI struct {
	srv  *uiserver.Server
	url  string
	done chan error // receives Start's result when the listener closes
}

// startWebUI serves the Web UI and returns once it accepts connections.
//
// ui-server's Start blocks and exits the process (echo's Logger.Fatal) if it cannot bind, so the
// port was checked by pickPorts just before; only a process that grabs it in between can still
// hit that path.
func startWebUI(ctx context.Context, c webUIConfig) (*webUI, error) {
	srv := uiserver.NewServer(uiserveroptions.WithConfigProvider(&uiconfig.Config{
		Host:                loopback,
		Port:                c.port,
		TemporalGRPCAddress: c.grpcAddress,
		EnableUI:            true,
		DefaultNamespace:    c.namespace,
		Codec:               uiconfig.Codec{Endpoint: c.codecEndpoint},
		// Plain http on loopback: the CSRF cookie must not require https.
		CORS:     uiconfig.CORS{CookieInsecure: true},
		HideLogs: true,
		// No calls to the internet from a dev box or a test.
		DisableNewsFetch: true,
	}))
	ui := &webUI{srv: srv, url: "http://" + hostPort(c.port), done: make(chan error, 1)}
	go func() { ui.done <- srv.Start() }()

	if err := ui.waitListening(ctx, hostPort(c.port)); err != nil {
		return nil, errors.Join(err, ui.stop())
	}
	return ui, nil
}

// waitListening polls until addr accepts a TCP connection.
func (ui *webUI) waitListening(ctx context.Context, addr string) error {
	ctx, cancel := context.WithTimeout(ctx, uiStartTimeout)
	defer cancel()
	var d net.Dialer
	for {
		conn, err := d.DialContext(ctx, "tcp", addr)
		if err == nil {
			return conn.Close()
		}
		select {
		case err := <-ui.done:
			ui.done <- err // stop reads it again
			return fmt.Errorf("Web UI on %s stopped while starting: %v", addr, err)
		case <-ctx.Done():
			return fmt.Errorf("Web UI on %s did not start listening: %w", addr, ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// stop closes the listener and open connections and waits for Start to return. Closing before
// Start has bound is safe: http.Server.Serve then returns at once and closes its listener.
func (ui *webUI) stop() error {
	ui.srv.Stop()
	select {
	case <-ui.done:
		return nil
	case <-time.After(uiStartTimeout):
		return fmt.Errorf("Web UI on %s did not stop within %s", ui.url, uiStartTimeout)
	}
}
