package activities

import "fmt"

// Verdict is a check's answer. Inconclusive (no data, NaN, Prometheus unreachable) never counts as a pass: the
// workflow pauses for a human instead.
type Verdict string

// Verdicts.
const (
	Pass         Verdict = "pass"
	Fail         Verdict = "fail"
	Inconclusive Verdict = "inconclusive"
)

// CheckResult is one run of one check.
type CheckResult struct {
	Name    string  `json:"name"`
	Verdict Verdict `json:"verdict"`
	Value   float64 `json:"value"`
	Detail  string  `json:"detail"`
}

func (r CheckResult) String() string { return fmt.Sprintf("%s: %s (%s)", r.Name, r.Verdict, r.Detail) }
