package main

import (
	"strings"
	"testing"
)

// TestBadInputNamesTheProblem: flags are checked before anything starts, and the production commands are not here.
func TestBadInputNamesTheProblem(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"demo", "--approve", "maybe"}, "--approve"},
		{[]string{"demo", "--approve", "slack"}, "SLACK_CHANNEL"},
		{[]string{"serve"}, `unknown command "serve"`},
	} {
		root := newRoot()
		root.SetArgs(tc.args)
		root.SetOut(&strings.Builder{})
		root.SetErr(&strings.Builder{})
		err := root.Execute()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: error %v, want it to mention %q", tc.args, err, tc.want)
		}
	}
}
