package main

import (
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// loopbackDoor serves the front door on a loopback port. Its address must exist before the stack starts (it is
// in Alertmanager's config) but its handler needs the stack's Temporal client: until set, it answers 503, which
// Alertmanager retries. It remembers what it answered to every webhook delivery, so a run that waits in vain for
// an alert can say whether Alertmanager posted at all and what it was told.
type loopbackDoor struct {
	url string
	h   atomic.Pointer[http.Handler]
	srv *http.Server

	mu        sync.Mutex
	received  int        // webhook requests so far
	delivered []delivery // the last deliveriesKept of them (a dev stack runs for hours)
}

// deliveriesKept is how many of the latest webhook answers the door remembers.
const deliveriesKept = 3

// delivery is one request to the webhook and the door's answer.
type delivery struct {
	at     time.Time
	status int
	body   string // the start of the answer: the alerts' actions, or the error
}

func startLoopbackDoor(addr string) (*loopbackDoor, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("webhook listener: %w", err)
	}
	d := &loopbackDoor{url: "http://" + ln.Addr().String()}
	d.srv = &http.Server{Handler: d, ReadHeaderTimeout: 10 * time.Second}
	go d.srv.Serve(ln)
	return d, nil
}

func (d *loopbackDoor) set(h http.Handler) { d.h.Store(&h) }

func (d *loopbackDoor) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/webhooks/") {
		rec := &answerRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() { d.note(delivery{at: time.Now(), status: rec.status, body: rec.body.String()}) }()
		w = rec
	}
	if h := d.h.Load(); h != nil {
		(*h).ServeHTTP(w, r)
		return
	}
	http.Error(w, "starting", http.StatusServiceUnavailable)
}

func (d *loopbackDoor) note(dl delivery) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.received++
	d.delivered = append(d.delivered, dl)
	if len(d.delivered) > deliveriesKept {
		d.delivered = slices.Delete(d.delivered, 0, len(d.delivered)-deliveriesKept)
	}
}

// deliveries says what the webhook received: how many requests, and the last answers.
func (d *loopbackDoor) deliveries() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.received == 0 {
		return "the webhook received no request"
	}
	var last []string
	for _, dl := range d.delivered {
		last = append(last, fmt.Sprintf("%s HTTP %d %s", dl.at.Format("15:04:05.000"), dl.status, strings.TrimSpace(dl.body)))
	}
	return fmt.Sprintf("the webhook received %d requests; the last answers: %s", d.received, strings.Join(last, " | "))
}

func (d *loopbackDoor) close() { d.srv.Close() }

// answerRecorder keeps the status and the first bytes of an answer.
type answerRecorder struct {
	http.ResponseWriter
	status int
	body   strings.Builder
}

const answerKept = 400

func (a *answerRecorder) WriteHeader(code int) {
	a.status = code
	a.ResponseWriter.WriteHeader(code)
}

func (a *answerRecorder) Write(b []byte) (int, error) {
	if left := answerKept - a.body.Len(); left > 0 {
		a.body.Write(b[:min(left, len(b))])
	}
	return a.ResponseWriter.Write(b)
}
