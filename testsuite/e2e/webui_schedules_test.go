package e2e

import (
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/failover/failover/control"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/testsuite/stack"
	"github.com/failover/failover/workflows"
)

// chromium finds Debian's chromium (installed by `make deps`) or another Chromium build.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH: run `make deps` (apt-get install chromium) for the Web UI Schedules page test")
	return ""
}

// renderedPage loads url in headless Chromium, lets the page's scripts run and fetch (virtual time), and returns
// the DOM as it then is: what a person sees, as text.
func renderedPage(t *testing.T, url string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium(t), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir="+filepath.Join(t.TempDir(), "profile"), "--virtual-time-budget=15000", "--window-size=1400,900",
		"--dump-dom", url)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium %s: %v", url, err)
	}
	return string(out)
}

var tags = regexp.MustCompile(`<[^>]*>`)

// scheduleRow is the text of the Schedules page's table row that names id ("" if none does).
func scheduleRow(dom, id string) string {
	for _, row := range strings.Split(dom, "<tr") {
		text := strings.Join(strings.Fields(tags.ReplaceAllString("<tr"+row, " ")), " ")
		if strings.Contains(text, id) {
			return text
		}
	}
	return ""
}

// TestWebUISchedulesPageShowsDrillSchedules opens the Temporal Web UI's Schedules page in headless Chromium: it
// lists the drill schedule by its ID as running, and as paused while a real failover of its service runs.
func TestWebUISchedulesPageShowsDrillSchedules(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	s, err := stack.Start(ctx, stack.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	p := planWithoutPrometheus(s)
	p.Approval.Mode = plan.ApprovalManual
	req := workflows.DrillRequest{Plan: p, PlanHash: p.Hash(), From: "us-east", To: "eu-west", SkipFailback: true, By: "e2e"}
	id, err := control.CreateDrillSchedule(ctx, s.TemporalClient, control.DrillSchedule{Name: "weekly", Cron: "0 10 1 1 *"}, req, false)
	if err != nil {
		t.Fatal(err)
	}
	page := s.Temporal.UIURL() + "/namespaces/default/schedules"
	// The page lists schedules from Temporal's visibility, which catches up a moment after a change.
	var row string
	eventually(t, time.Minute, "the Schedules page lists "+id+" as running", func() bool {
		row = scheduleRow(renderedPage(t, page), id)
		return strings.Contains(row, "Running")
	})
	if !strings.Contains(row, "Drill") {
		t.Fatalf("row %q: want the Drill workflow type", row)
	}

	fault(t, s, "us-east", `{"status":503}`)
	run := start(t, s, request(p, "us-east", "eu-west"))
	eventually(t, time.Minute, "the Schedules page shows "+id+" paused", func() bool {
		row = scheduleRow(renderedPage(t, page), id)
		return strings.Contains(row, "Paused")
	})
	desc, err := s.TemporalClient.ScheduleClient().GetHandle(ctx, id).Describe(ctx)
	if err != nil || !strings.Contains(desc.Schedule.State.Note, "paused automatically: real failover "+run.GetID()) {
		t.Fatalf("note %+v %v", desc.Schedule.State, err)
	}
	// The schedule's own page shows the note.
	if dom := renderedPage(t, s.Temporal.UIURL()+"/namespaces/default/schedules/"+id); !strings.Contains(dom, "paused automatically: real failover") {
		t.Errorf("the schedule's page does not show why it is paused")
	}
}
