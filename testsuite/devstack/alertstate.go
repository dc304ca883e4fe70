package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/failover/failover/testsuite/stack"
)

// alertPathState says where an alert stands on its way to the webhook: Prometheus's rule alerts (pending or
// firing), what Alertmanager holds, and what the webhook received and answered. A run that waited in vain for the
// alert prints it, so the stuck hop is named.
func alertPathState(s *stack.Stack, door *loopbackDoor) string {
	parts := []string{promAlerts(s), amAlerts(s)}
	if door != nil {
		parts = append(parts, door.deliveries())
	}
	return strings.Join(parts, "; ")
}

var diagClient = &http.Client{Timeout: 2 * time.Second}

func getJSON(url string, v any) error {
	resp, err := diagClient.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", url, resp.StatusCode)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

func promAlerts(s *stack.Stack) string {
	if s.Prom == nil {
		return "no Prometheus"
	}
	var body struct {
		Data struct {
			Alerts []struct {
				Labels map[string]string `json:"labels"`
				State  string            `json:"state"`
			} `json:"alerts"`
		} `json:"data"`
	}
	if err := getJSON(s.Prom.PrometheusURL()+"/api/v1/alerts", &body); err != nil {
		return "Prometheus's alerts: " + err.Error()
	}
	var out []string
	for _, a := range body.Data.Alerts {
		out = append(out, fmt.Sprintf("%s{region=%s} %s", a.Labels["alertname"], a.Labels["region"], a.State))
	}
	if len(out) == 0 {
		return "Prometheus: no rule pending or firing"
	}
	return "Prometheus: " + strings.Join(out, ", ")
}

func amAlerts(s *stack.Stack) string {
	if s.Prom == nil {
		return "no Alertmanager"
	}
	var alerts []struct {
		Labels map[string]string `json:"labels"`
		Status struct {
			State string `json:"state"`
		} `json:"status"`
	}
	if err := getJSON(s.Prom.AlertmanagerURL()+"/api/v2/alerts", &alerts); err != nil {
		return "Alertmanager's alerts: " + err.Error()
	}
	var out []string
	for _, a := range alerts {
		out = append(out, fmt.Sprintf("%s{region=%s} %s", a.Labels["alertname"], a.Labels["region"], a.Status.State))
	}
	if len(out) == 0 {
		return "Alertmanager: no alert"
	}
	return "Alertmanager: " + strings.Join(out, ", ")
}
