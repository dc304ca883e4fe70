package main

import (
	"log/slog"
	"strings"
	"testing"
)

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestBadInputNamesTheProblem(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"start", "--to", "eu-west"}, `required flag(s) "plan" not set`},
		{[]string{"start", "--plan", "../deploy/plans/demo.yaml", "--to", "mars"}, `region "mars"`},
		{[]string{"start", "--plan", "nope.yaml", "--to", "eu-west"}, "read plan"},
		{[]string{"plan", "--plan", "../deploy/plans/demo.yaml", "--to", "eu-west", "--kong-admin-url", "localhost"}, "--kong-admin-url"},
		{[]string{"approve", "failover-payments", "--as", ""}, "--as"},
		{[]string{"demo"}, `unknown command "demo"`}, // the demo and the local stack are testsuite/devstack's
		{[]string{"start", "--plan", "../deploy/plans/demo.yaml", "--to", "eu-west", "--temporal-address", "nowhere"}, "--temporal-address"},
		// Command hooks: names are checked here; whether the worker declares them, by the drill before its fault.
		{[]string{"drill", "--plan", "../deploy/plans/demo.yaml", "--to", "eu-west", "--fault-hook", "Down Now", "--recover-hook", "up"},
			`fault: command hook "Down Now" is no hook name`},
		{[]string{"drill", "--plan", "../deploy/plans/demo.yaml", "--to", "eu-west", "--fault-hook", "down"},
			"recover: a fault without a recovery hook leaves the source down"},
		{[]string{"drill", "--plan", "../deploy/plans/demo.yaml", "--to", "eu-west", "--fault-hook", "down", "--fault-url", "http://x/fault"},
			"--fault-url and --fault-hook: give one fault hook"},
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
