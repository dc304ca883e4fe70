package activities

import (
	"slices"
	"strings"
	"testing"
	"time"
)

func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}

func TestParseCommandHooks(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		yaml string
		want []string // every problem named, or none
	}{
		{name: "good, defaults filled", yaml: `
hooks:
  us-east-down:
    argv: [sh, -c, "echo down"]
    env: [TOXI_TOKEN]
    dir: ` + dir + `
  us-east-up:
    argv: [/bin/sh, -c, "echo up"]
    timeout: 2m
    okExitCodes: [0, 3]
`},
		{name: "unknown field", yaml: "hooks:\n  a:\n    argv: [sh]\n    shell: true\n", want: []string{"field shell not found", "fields: hooks.NAME.argv"}},
		{name: "a command line, not argv", yaml: "hooks:\n  a:\n    argv: sh -c 'curl x'\n", want: []string{"cannot unmarshal"}},
		{name: "empty file", yaml: "", want: []string{"empty: declare hooks"}},
		{name: "no hooks", yaml: "hooks: {}\n", want: []string{"hooks: none declared"}},
		{name: "every problem at once", yaml: `
hooks:
  Bad Name:
    argv: [sh]
  noargv:
    argv: []
  relative:
    argv: [./fault.sh]
  missing:
    argv: [/nonexistent/fault.sh]
  envs:
    argv: [sh]
    env: [TOXI_TOKEN, "not-a-name", UNSET_VAR]
    dir: relative/dir
    timeout: 11m
    okExitCodes: [0, 300]
`, want: []string{
			`hooks.Bad Name: "Bad Name" is no hook name`,
			"hooks.noargv.argv: give the program and its arguments",
			`hooks.relative.argv[0]: "./fault.sh" is a relative path`,
			"hooks.missing.argv[0]: exec: \"/nonexistent/fault.sh\"",
			`hooks.envs.env: "not-a-name" is no variable name`,
			"hooks.envs.env: UNSET_VAR is not set in the worker's environment",
			`hooks.envs.dir: "relative/dir" is not an absolute path`,
			"hooks.envs.timeout: 11m0s: give a duration up to 10m0s",
			"hooks.envs.okExitCodes: 300 is no exit code",
		}},
		{name: "negative timeout", yaml: "hooks:\n  a:\n    argv: [sh]\n    timeout: -1s\n", want: []string{"hooks.a.timeout: -1s"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			hs, err := ParseCommandHooks(strings.NewReader(tc.yaml), "hooks.yaml", env(map[string]string{"TOXI_TOKEN": "s3cret"}))
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(hs.Names(), []string{"us-east-down", "us-east-up"}) {
					t.Fatalf("names %v", hs.Names())
				}
				down, up := hs.Hooks["us-east-down"], hs.Hooks["us-east-up"]
				if down.Timeout != DefaultHookTimeout || !slices.Equal(down.OKExitCodes, []int{0}) || down.Dir != dir {
					t.Errorf("us-east-down %+v: want the default timeout and exit code 0", down)
				}
				if up.Timeout != 2*time.Minute || !slices.Equal(up.OKExitCodes, []int{0, 3}) {
					t.Errorf("us-east-up %+v", up)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted; want %v", tc.want)
			}
			if !strings.HasPrefix(err.Error(), "drill hooks hooks.yaml") {
				t.Errorf("error %q does not name the file", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\nwant %q", err, w)
				}
			}
		})
	}
}

func TestCheckHookName(t *testing.T) {
	for name, ok := range map[string]bool{"us-east-down": true, "toxiproxy.payments_up": true, "a": true,
		"": false, "Up": false, "-x": false, "a b": false, "a/b": false, strings.Repeat("a", 64): false} {
		if err := CheckHookName(name); (err == nil) != ok {
			t.Errorf("CheckHookName(%q) = %v, want ok %v", name, err, ok)
		}
	}
}
