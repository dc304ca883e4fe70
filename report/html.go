package report

import (
	_ "embed"
	"fmt"
	"html/template"
	"io"
	"math"

	"github.com/failover/failover/workflows"
)

//go:embed report.html.tmpl
var pageTemplate string

var page = template.Must(template.New("report").Funcs(template.FuncMap{
	"duration": Duration,
	"percent":  func(f float64) string { return fmt.Sprintf("%.1f%%", 100*f) },
	"stamp":    func(r Report) string { return r.FaultAt.Format(stamp) },
}).Parse(pageTemplate))

// Colors of the phases, shared by the timeline and the breakdown table.
var phaseColors = map[string]string{
	"alerting": "#90a4ae", "detection": "#e53935", "readiness": "#8e24aa", "approval wait": "#fb8c00",
	"cutover": "#1e88e5", "reroute": "#00897b", "warmup": "#c0ca33", "verification": "#43a047", "rollback": "#6d4c41",
}

func phaseColor(name string) string {
	if c, ok := phaseColors[name]; ok {
		return c
	}
	return "#607d8b"
}

// Timeline geometry, in SVG user units (the page scales it to its width).
const (
	chartWidth = 1100
	labelWidth = 130
	plotLeft   = labelWidth + 10
	plotWidth  = chartWidth - plotLeft - 90 // room on the right for the last bar's duration
	rowHeight  = 30
	barHeight  = 20
	axisTop    = 30
	// minBar keeps a 50 ms cutover visible next to a 10-minute approval wait; its label gives the real length.
	minBar = 6
)

type htmlView struct {
	Report
	Chart chart
	Rows  []row
}

type row struct {
	Phase
	Color string
}

type chart struct {
	Width, Height int
	Bars          []bar
	Ticks         []tick
	Markers       []marker
	PlotLeft      int
	PlotRight     int
	AxisY         int
	BottomY       int
}

type bar struct {
	Label, Duration, Color, Result string
	X, Y, W                        float64
	TextY, LabelX, DurationX       float64
	Failed, Running                bool
	Title                          string
}

type tick struct {
	X     float64
	Label string
}

type marker struct {
	X            float64
	Label, Color string
}

// WriteHTML renders a self-contained page (inline CSS and SVG, no scripts, no external assets).
func (r Report) WriteHTML(w io.Writer) error {
	v := htmlView{Report: r, Chart: r.chart()}
	for _, p := range r.Phases {
		v.Rows = append(v.Rows, row{Phase: p, Color: phaseColor(p.Name)})
	}
	return page.Execute(w, v)
}

func (r Report) chart() chart {
	total := r.ElapsedSeconds
	if total <= 0 {
		total = 1
	}
	c := chart{Width: chartWidth, PlotLeft: plotLeft, PlotRight: plotLeft + plotWidth, AxisY: axisTop}
	x := func(s float64) float64 { return plotLeft + plotWidth*s/total }
	for i, p := range r.Phases {
		y := float64(axisTop + 12 + i*rowHeight)
		b := bar{Label: p.Name, Duration: Duration(p.Seconds), Color: phaseColor(p.Name), Result: p.Result,
			X: x(p.StartSeconds), Y: y, W: math.Max(minBar, plotWidth*p.Seconds/total), TextY: y + barHeight/2 + 5,
			LabelX: labelWidth, Failed: p.Result == workflows.ResultFailed, Running: p.Result == Running,
			Title: fmt.Sprintf("%s: %s from +%s (%s) %s", p.Name, Duration(p.Seconds), Duration(p.StartSeconds), p.Result, p.Detail)}
		b.DurationX = b.X + b.W + 6
		c.Bars = append(c.Bars, b)
	}
	c.BottomY = axisTop + 12 + len(r.Phases)*rowHeight
	c.Height = c.BottomY + 30
	step := tickStep(total)
	for s := 0.0; s <= total+1e-9; s += step {
		c.Ticks = append(c.Ticks, tick{X: x(s), Label: tickLabel(s, step)})
	}
	c.Markers = append(c.Markers, marker{X: x(0), Label: "fault", Color: "#c62828"})
	end := "ended (" + r.Outcome + ")"
	color := "#37474f"
	switch {
	case r.RTOSeconds > 0:
		end, color = "verified: RTO "+Duration(r.RTOSeconds), "#2e7d32"
	case r.Outcome == Running:
		end = "now"
	}
	c.Markers = append(c.Markers, marker{X: x(r.ElapsedSeconds), Label: end, Color: color})
	return c
}

// tickStep picks a round axis step that gives at most ten ticks.
func tickStep(total float64) float64 {
	for _, s := range []float64{0.1, 0.2, 0.5, 1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200} {
		if total/s <= 10 {
			return s
		}
	}
	return math.Ceil(total/10/3600) * 3600
}

func tickLabel(s, step float64) string {
	switch {
	case step < 1:
		return fmt.Sprintf("%.1fs", s)
	case step < 60:
		return fmt.Sprintf("%.0fs", s)
	default:
		return fmt.Sprintf("%.0fm", s/60)
	}
}
