package report

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// browser finds Debian's chromium (installed by `make deps`) or another Chromium build.
func browser(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("no chromium on PATH: run `make deps` (apt-get install chromium) for the HTML report screenshot test")
	return ""
}

// TestHTMLRendersInChromium opens the HTML report in headless Chromium, takes a screenshot and checks that the
// timeline is visible: the phases' colors are on screen, in the upper part of the page. The screenshot is kept
// in testdata/report.png for people to look at.
func TestHTMLRendersInChromium(t *testing.T) {
	dir := t.TempDir()
	htmlPath := filepath.Join(dir, "report.html")
	var b bytes.Buffer
	if err := FromStatus("failover-payments", "0f3c2d1e-run", succeeded()).WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(htmlPath, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, "report.png")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, browser(t), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--hide-scrollbars",
		"--user-data-dir="+filepath.Join(dir, "profile"), "--screenshot="+shot, "--window-size=1200,800", "file://"+htmlPath)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("chromium: %v\n%s", err, out)
	}
	raw, err := os.ReadFile(shot)
	if err != nil {
		t.Fatalf("no screenshot: %v", err)
	}
	img, err := png.Decode(bytes.NewReader(raw))
	if err != nil {
		t.Fatalf("screenshot is not a PNG: %v", err)
	}
	if got := img.Bounds().Size(); got.X != 1200 || got.Y != 800 {
		t.Fatalf("screenshot is %v, want 1200x800", got)
	}
	if err := os.WriteFile(filepath.Join("testdata", "report.png"), raw, 0o644); err != nil {
		t.Fatal(err)
	}

	// The timeline sits in the top half: every phase's bar color must show there, in more than a few pixels.
	timeline := image.Rect(0, 0, 1200, 480)
	counts := map[color.RGBA]int{}
	for y := timeline.Min.Y; y < timeline.Max.Y; y++ {
		for x := timeline.Min.X; x < timeline.Max.X; x++ {
			r, g, b, _ := img.At(x, y).RGBA()
			counts[color.RGBA{uint8(r >> 8), uint8(g >> 8), uint8(b >> 8), 255}]++
		}
	}
	if len(counts) < 20 {
		t.Fatalf("the timeline area has %d distinct colors: blank or unstyled", len(counts))
	}
	for _, phase := range []string{"alerting", "detection", "approval wait", "cutover", "reroute", "warmup", "verification"} {
		want := hexColor(t, phaseColor(phase))
		if n := counts[want]; n < 30 {
			t.Errorf("phase %s (%s): %d pixels of its color in the timeline area, want a visible bar", phase, phaseColor(phase), n)
		}
	}
}

func hexColor(t *testing.T, hex string) color.RGBA {
	t.Helper()
	var c color.RGBA
	if _, err := fmt.Sscanf(hex, "#%02x%02x%02x", &c.R, &c.G, &c.B); err != nil {
		t.Fatal(err)
	}
	c.A = 255
	return c
}
