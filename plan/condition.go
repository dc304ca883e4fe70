package plan

import (
	"fmt"
	"strconv"
	"strings"
)

// Condition is a comparison against a number, written "> 0.5", "<= 3" or "== 1".
type Condition struct {
	Op    string
	Value float64
}

// ParseCondition parses "<op> <number>".
func ParseCondition(s string) (Condition, error) {
	s = strings.TrimSpace(s)
	for _, op := range []string{"<=", ">=", "==", "!=", "<", ">"} {
		if rest, ok := strings.CutPrefix(s, op); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err != nil {
				return Condition{}, fmt.Errorf("condition %q: %q is not a number", s, strings.TrimSpace(rest))
			}
			return Condition{Op: op, Value: v}, nil
		}
	}
	return Condition{}, fmt.Errorf("condition %q: write an operator (<, <=, >, >=, ==, !=) then a number, e.g. \"> 0.5\"", s)
}

// Holds reports whether v meets the condition.
func (c Condition) Holds(v float64) bool {
	switch c.Op {
	case "<":
		return v < c.Value
	case "<=":
		return v <= c.Value
	case ">":
		return v > c.Value
	case ">=":
		return v >= c.Value
	case "==":
		return v == c.Value
	case "!=":
		return v != c.Value
	}
	return false
}

// String renders the condition as written.
func (c Condition) String() string { return c.Op + " " + strconv.FormatFloat(c.Value, 'g', -1, 64) }

// placeholders are exactly what Expand replaces; Validate refuses any other ${...} in a query, check URL or header.
var placeholders = []string{"${service}", "${region}", "${from}", "${to}"}

// Expand replaces ${service}, ${region}, ${from} and ${to} in a query or URL.
func Expand(s, service, region, from, to string) string {
	return strings.NewReplacer("${service}", service, "${region}", region, "${from}", from, "${to}", to).Replace(s)
}
