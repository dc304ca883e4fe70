package codec

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"
)

// HTTPServer is a running codec endpoint (NewServer on a listener): `starter codec-server` runs one, and the
// local stack runs one beside its Web UI.
type HTTPServer struct {
	// URL is http://host:port of the listener.
	URL  string
	srv  *http.Server
	done chan struct{}
}

// StartServer listens on addr (port 0 picks one) and serves c with opts until Stop.
func StartServer(addr string, c *Codec, opts ServerOptions) (*HTTPServer, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("codec server: listen on %s: %w", addr, err)
	}
	s := &HTTPServer{URL: "http://" + ln.Addr().String(), done: make(chan struct{}),
		// Every phase bounded, as `starter serve` does: a trickled request cannot hold a connection.
		srv: &http.Server{Handler: NewServer(c, opts), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 30 * time.Second, IdleTimeout: 2 * time.Minute}}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Stop shuts the server down, giving requests in flight up to 5 seconds.
func (s *HTTPServer) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.srv.Shutdown(ctx)
	<-s.done
}
