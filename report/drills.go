package report

import (
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/failover/failover/workflows"
)

// DrillTrend is a service's drills over time: RTO and RPO of each phase against the SLA.
type DrillTrend struct {
	Service string     `json:"service"`
	Drills  []DrillRow `json:"drills"`
}

// DrillRow is one drill of the trend.
type DrillRow struct {
	WorkflowID string    `json:"workflow_id"`
	At         time.Time `json:"at"`
	Verdict    string    `json:"verdict"`
	Reason     string    `json:"reason,omitempty"`
	// FailoverRTO, FailoverRPO, FailbackRTO, FailbackRPO are the phases' numbers; nil when the phase did not run
	// or (RPO) was not measured.
	FailoverRTO *float64 `json:"failover_rto_seconds,omitempty"`
	FailoverRPO *float64 `json:"failover_rpo_seconds,omitempty"`
	FailbackRTO *float64 `json:"failback_rto_seconds,omitempty"`
	FailbackRPO *float64 `json:"failback_rpo_seconds,omitempty"`
	// RTOObjective and RPOObjective are the plan's sla at the time (0: none).
	RTOObjective float64  `json:"rto_objective_seconds,omitempty"`
	RPOObjective float64  `json:"rpo_objective_seconds,omitempty"`
	Breaches     []string `json:"breaches,omitempty"` // phase:kind, e.g. failover:rpo
	NeededHuman  []string `json:"needed_human,omitempty"`
}

// NewDrillTrend builds the trend from drill reports, oldest first.
func NewDrillTrend(service string, ids []string, results []workflows.DrillResult) DrillTrend {
	t := DrillTrend{Service: service, Drills: []DrillRow{}}
	for i, r := range results {
		row := DrillRow{WorkflowID: ids[i], At: r.FaultAt.UTC(), Verdict: r.Verdict, Reason: r.Reason, NeededHuman: r.NeededHuman()}
		for _, p := range r.Phases {
			rto := p.RTOSeconds
			var rtoP *float64
			if p.Outcome == workflows.Succeeded {
				rtoP = &rto
			}
			switch p.Name {
			case workflows.KindFailover:
				row.FailoverRTO, row.FailoverRPO = rtoP, p.RPOSeconds
			case workflows.KindFailback:
				row.FailbackRTO, row.FailbackRPO = rtoP, p.RPOSeconds
			}
			if p.SLA != nil {
				row.RTOObjective, row.RPOObjective = p.SLA.RTOObjectiveSeconds, p.SLA.RPOObjectiveSeconds
				for _, k := range p.SLA.BreachKinds() {
					row.Breaches = append(row.Breaches, p.Name+":"+k)
				}
			}
		}
		t.Drills = append(t.Drills, row)
	}
	return t
}

func secs(v *float64) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf("%.1fs", *v)
}

// WriteText renders the trend as a table.
func (t DrillTrend) WriteText(w io.Writer) error {
	fmt.Fprintf(w, "drills of %s (%d)\n", t.Service, len(t.Drills))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "when\tverdict\tfailover RTO\tRPO\tfailback RTO\tRPO\tSLA (rto/rpo)\tbreaches\tneeded a human")
	for _, d := range t.Drills {
		sla := "-"
		if d.RTOObjective > 0 || d.RPOObjective > 0 {
			sla = fmt.Sprintf("%gs/%gs", d.RTOObjective, d.RPOObjective)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", d.At.Format("2006-01-02 15:04"), d.Verdict, secs(d.FailoverRTO),
			secs(d.FailoverRPO), secs(d.FailbackRTO), secs(d.FailbackRPO), sla, orDash(strings.Join(d.Breaches, " ")), len(d.NeededHuman))
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// WriteJSON renders the trend for tools.
func (t DrillTrend) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(t)
}

// Trend chart geometry, in SVG user units.
const (
	trendWidth, trendHeight = 900, 320
	trendLeft, trendRight   = 60, 880
	trendTop, trendBottom   = 20, 280
)

type trendPoint struct {
	X, Y  float64
	Title string
}

type trendView struct {
	DrillTrend
	Width, Height, Left, Right, Top, Bottom int
	RTO, RPO                                []trendPoint
	RTOLine, RPOLine                        string
	Objective                               *trendPoint // the latest RTO objective, as a horizontal line
	Ticks                                   []trendPoint
	Labels                                  []trendPoint
}

var trendPage = template.Must(template.New("trend").Parse(`<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Drills of {{.Service}}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #1f2933; }
table { border-collapse: collapse; margin-top: 16px; } td, th { padding: 4px 10px; border-bottom: 1px solid #e4e7eb; text-align: left; }
.breached, .failed { color: #c62828; font-weight: 600; } .passed { color: #2e7d32; }
svg text { font-size: 11px; fill: #52606d; }
</style></head><body>
<h1>Drills of {{.Service}}</h1>
<svg id="trend" viewBox="0 0 {{.Width}} {{.Height}}" xmlns="http://www.w3.org/2000/svg" role="img" aria-label="RTO and RPO per drill">
  <line x1="{{.Left}}" y1="{{.Bottom}}" x2="{{.Right}}" y2="{{.Bottom}}" stroke="#9aa5b1"/>
  {{- range .Ticks}}
  <line x1="{{$.Left}}" y1="{{.Y}}" x2="{{$.Right}}" y2="{{.Y}}" stroke="#e4e7eb"/><text x="{{$.Left}}" dx="-6" y="{{.Y}}" dy="4" text-anchor="end">{{.Title}}</text>
  {{- end}}
  {{- with .Objective}}
  <line x1="{{$.Left}}" y1="{{.Y}}" x2="{{$.Right}}" y2="{{.Y}}" stroke="#c62828" stroke-dasharray="6 4"/><text x="{{$.Right}}" y="{{.Y}}" dy="-4" text-anchor="end">{{.Title}}</text>
  {{- end}}
  <polyline points="{{.RTOLine}}" fill="none" stroke="#1e88e5" stroke-width="2"/>
  <polyline points="{{.RPOLine}}" fill="none" stroke="#fb8c00" stroke-width="2"/>
  {{- range .RTO}}<circle cx="{{.X}}" cy="{{.Y}}" r="4" fill="#1e88e5"><title>{{.Title}}</title></circle>{{end}}
  {{- range .RPO}}<circle cx="{{.X}}" cy="{{.Y}}" r="4" fill="#fb8c00"><title>{{.Title}}</title></circle>{{end}}
  {{- range .Labels}}<text x="{{.X}}" y="{{.Y}}" text-anchor="middle">{{.Title}}</text>{{end}}
  <text x="{{.Left}}" y="{{.Height}}" dy="-4">● failover RTO (blue) · ● failover RPO (orange) · - - SLA rto</text>
</svg>
<table><tr><th>when</th><th>verdict</th><th>failover RTO</th><th>RPO</th><th>failback RTO</th><th>breaches</th><th>needed a human</th><th>workflow</th></tr>
{{- range .Drills}}
<tr><td>{{.At.Format "2006-01-02 15:04"}}</td><td class="{{.Verdict}}">{{.Verdict}}</td><td>{{with .FailoverRTO}}{{printf "%.1fs" .}}{{else}}-{{end}}</td><td>{{with .FailoverRPO}}{{printf "%.3gs" .}}{{else}}unknown{{end}}</td><td>{{with .FailbackRTO}}{{printf "%.1fs" .}}{{else}}-{{end}}</td><td>{{range .Breaches}}{{.}} {{end}}</td><td>{{range .NeededHuman}}{{.}}<br>{{end}}</td><td><code>{{.WorkflowID}}</code></td></tr>
{{- end}}
</table></body></html>
`))

// WriteHTML renders the trend as a self-contained page: a chart of failover RTO and RPO per drill with the SLA's
// RTO as a line, and the table.
func (t DrillTrend) WriteHTML(w io.Writer) error {
	v := trendView{DrillTrend: t, Width: trendWidth, Height: trendHeight, Left: trendLeft, Right: trendRight, Top: trendTop, Bottom: trendBottom}
	top := 1.0
	for _, d := range t.Drills {
		for _, x := range []*float64{d.FailoverRTO, d.FailoverRPO} {
			if x != nil {
				top = max(top, *x)
			}
		}
		top = max(top, d.RTOObjective)
	}
	top *= 1.1
	y := func(s float64) float64 { return trendBottom - s/top*(trendBottom-trendTop) }
	step := float64(trendRight-trendLeft) / float64(max(1, len(t.Drills)))
	var rtoLine, rpoLine []string
	for i, d := range t.Drills {
		x := trendLeft + step*(float64(i)+0.5)
		v.Labels = append(v.Labels, trendPoint{X: x, Y: trendBottom + 16, Title: d.At.Format("01-02 15:04")})
		if d.FailoverRTO != nil {
			p := trendPoint{X: x, Y: y(*d.FailoverRTO), Title: fmt.Sprintf("%s: RTO %.1fs (%s)", d.WorkflowID, *d.FailoverRTO, d.Verdict)}
			v.RTO, rtoLine = append(v.RTO, p), append(rtoLine, fmt.Sprintf("%.1f,%.1f", p.X, p.Y))
		}
		if d.FailoverRPO != nil {
			p := trendPoint{X: x, Y: y(*d.FailoverRPO), Title: fmt.Sprintf("%s: RPO %.3gs", d.WorkflowID, *d.FailoverRPO)}
			v.RPO, rpoLine = append(v.RPO, p), append(rpoLine, fmt.Sprintf("%.1f,%.1f", p.X, p.Y))
		}
	}
	v.RTOLine, v.RPOLine = strings.Join(rtoLine, " "), strings.Join(rpoLine, " ")
	if n := len(t.Drills); n > 0 && t.Drills[n-1].RTOObjective > 0 {
		o := t.Drills[n-1].RTOObjective
		v.Objective = &trendPoint{Y: y(o), Title: fmt.Sprintf("sla.rto %gs", o)}
	}
	for i := 0; i <= 4; i++ {
		s := top / 1.1 * float64(i) / 4
		v.Ticks = append(v.Ticks, trendPoint{Y: y(s), Title: fmt.Sprintf("%.3gs", s)})
	}
	return trendPage.Execute(w, v)
}
