package promstack

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/failover/failover/deploy/regiond/region"
)

// webhook is the part of Alertmanager's webhook payload the test reads; decoding stays tolerant of new fields.
type webhook struct {
	Status   string `json:"status"`
	GroupKey string `json:"groupKey"`
	Alerts   []struct {
		Status      string            `json:"status"`
		Labels      map[string]string `json:"labels"`
		Annotations map[string]string `json:"annotations"`
		Fingerprint string            `json:"fingerprint"`
	} `json:"alerts"`
}

// receiver is a stand-in for the orchestrator's POST /webhooks/alertmanager.
type receiver struct {
	token   string
	badAuth atomic.Int64
	got     chan webhook
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || r.URL.Path != "/webhooks/alertmanager" {
		http.NotFound(w, r)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+rc.token {
		rc.badAuth.Add(1)
		http.Error(w, "bad token", http.StatusUnauthorized)
		return
	}
	var p webhook
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	select {
	case rc.got <- p:
	default: // the test only waits for the notifications it needs; resends may be dropped
	}
	w.WriteHeader(http.StatusOK)
}

// await returns the first notification with the given status for alertname in service/region.
func (rc *receiver) await(t *testing.T, status, alertname, service, regionName string, timeout time.Duration) webhook {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case p := <-rc.got:
			for _, a := range p.Alerts {
				if p.Status == status && a.Status == status && a.Labels["alertname"] == alertname &&
					a.Labels["service"] == service && a.Labels["region"] == regionName {
					return p
				}
			}
			t.Logf("webhook (ignored while waiting for %s): status=%s groupKey=%s", status, p.Status, p.GroupKey)
		case <-deadline:
			t.Fatalf("no %s %s webhook for %s/%s within %v (bad-auth posts: %d)", status, alertname, service, regionName,
				timeout, rc.badAuth.Load())
		}
	}
}

// TestAlertFiresAndResolvesThroughRealStack drives the whole alert path: a region serving 503s is scraped by the real
// Prometheus, RegionHighErrorRatio fires, the real Alertmanager posts it to the webhook with the bearer token, and
// clearing the fault posts the resolution.
func TestAlertFiresAndResolvesThroughRealStack(t *testing.T) {
	needTool(t, "prometheus")
	t0 := time.Now()
	since := func() time.Duration { return time.Since(t0).Round(100 * time.Millisecond) }

	reg, err := region.Start(t.Context(), region.Options{Region: "us-east", Service: "payments", Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() })

	rc := &receiver{token: "s3cret-token", got: make(chan webhook, 64)}
	hook := httptest.NewServer(rc)
	t.Cleanup(hook.Close)

	s := startStack(t, Options{
		Targets:      []Target{{Addr: reg.Addr(), Labels: map[string]string{"service": "payments", "region": "us-east"}}},
		WebhookURL:   hook.URL + "/webhooks/alertmanager",
		WebhookToken: rc.token,
	})

	// Steady client traffic, as a load balancer would send; stops before the stack does (cleanups run LIFO).
	ctx, stopTraffic := context.WithCancel(t.Context())
	var traffic sync.WaitGroup
	traffic.Go(func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				req, _ := http.NewRequestWithContext(ctx, http.MethodGet, reg.URL()+"/items/hot", nil)
				if resp, err := http.DefaultClient.Do(req); err == nil {
					resp.Body.Close()
				}
			}
		}
	})
	t.Cleanup(func() { stopTraffic(); traffic.Wait() })

	waitQuery(t, s, `up{job="regions",service="payments",region="us-east"} == 1`, 20*time.Second)
	t.Logf("%v: first scrape of the region landed", since())

	faultAt := time.Now()
	setFault(t, reg.URL(), http.MethodPost, `{"status":503}`)
	p := rc.await(t, "firing", "RegionHighErrorRatio", "payments", "us-east", 30*time.Second)
	t.Logf("%v: firing webhook %v after the fault: groupKey=%s labels=%v", since(),
		time.Since(faultAt).Round(100*time.Millisecond), p.GroupKey, p.Alerts[0].Labels)
	if p.Alerts[0].Labels["severity"] != "critical" {
		t.Errorf("severity = %q, want critical", p.Alerts[0].Labels["severity"])
	}
	for _, l := range []string{`alertname=\"RegionHighErrorRatio\"`, `service=\"payments\"`, `region=\"us-east\"`} {
		if !strings.Contains(p.GroupKey, strings.ReplaceAll(l, `\"`, `"`)) {
			t.Errorf("groupKey %s lacks %s: grouping must be by alertname, service, region", p.GroupKey, l)
		}
	}

	clearAt := time.Now()
	setFault(t, reg.URL(), http.MethodDelete, "")
	rc.await(t, "resolved", "RegionHighErrorRatio", "payments", "us-east", 30*time.Second)
	t.Logf("%v: resolved webhook %v after clearing the fault", since(), time.Since(clearAt).Round(100*time.Millisecond))
	if n := rc.badAuth.Load(); n != 0 {
		t.Errorf("%d webhook posts without the bearer token", n)
	}
}

func setFault(t *testing.T, base, method, body string) {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), method, base+"/fault", strings.NewReader(body))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s /fault = %d", method, resp.StatusCode)
	}
}

// waitQuery polls an instant query until it returns at least one series.
func waitQuery(t *testing.T, s *Stack, query string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	u := s.PrometheusURL() + "/api/v1/query?query=" + url.QueryEscape(query)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		resp, err := http.Get(u)
		if err == nil {
			var r struct {
				Data struct {
					Result []json.RawMessage `json:"result"`
				} `json:"data"`
			}
			err = json.NewDecoder(resp.Body).Decode(&r)
			resp.Body.Close()
			if err == nil && len(r.Data.Result) > 0 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("query %s returned nothing within %v (last err %v)", query, timeout, err)
		}
		<-tick.C
	}
}
