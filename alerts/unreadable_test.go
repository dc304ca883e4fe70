package alerts

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// A body that stops half-way (a broken connection, a sender stalled past the server's ReadTimeout) is not a bad
// notification: answered 4xx, Alertmanager would drop it with every alert in it. The handler answers 503, so it
// is sent again, and the full retry starts the failover. Served by a real http.Server with the read timeout
// `starter serve` has (shortened), written to over a raw TCP connection.
func TestUnreadableBodyIs503SoAlertmanagerRetries(t *testing.T) {
	fx := newFixture(t, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: fx.h, ReadTimeout: 300 * time.Millisecond, WriteTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { srv.Close() })

	body := capturedBody(t, "firing.json")
	conn, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// The headers announce the whole body; only half of it comes.
	fmt.Fprintf(conn, "POST /webhooks/alertmanager HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"+
		"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n", testToken, len(body))
	if _, err := conn.Write(body[:len(body)/2]); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer to a stalled body: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("stalled body answered %d; want 503 so Alertmanager retries (a 4xx drops the notification)", resp.StatusCode)
	}
	if fx.fake.calls != 0 || fx.requests(OutcomeUnreadable) != 1 || fx.requests(OutcomeBadRequest) != 0 {
		t.Fatalf("temporal calls %d, body_unreadable %v, bad_request %v", fx.fake.calls, fx.requests(OutcomeUnreadable), fx.requests(OutcomeBadRequest))
	}

	// Alertmanager's retry, whole this time: the failover starts.
	req, err := http.NewRequest(http.MethodPost, "http://"+l.Addr().String()+"/webhooks/alertmanager", strings.NewReader(string(body)))
	if err != nil {
		t.Fatal(err)
	}
	bearer(testToken)(req)
	retry, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	retry.Body.Close()
	if retry.StatusCode != http.StatusOK || fx.alerts(ActionStarted) != 1 {
		t.Fatalf("retry: %d, started %v", retry.StatusCode, fx.alerts(ActionStarted))
	}
}
