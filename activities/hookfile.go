package activities

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Command hooks are a drill's fault and recovery hooks that run a program on the worker (a Chaos Mesh or Toxiproxy
// CLI, a script that calls the demo region's /fault). They are declared in the worker's hooks file (worker
// --drill-hooks FILE) and a drill names one: the command itself never travels in a workflow input, or whoever may
// start workflows in Temporal could run any program on the workers.
//
//	hooks:
//	  us-east-down:
//	    argv: [/opt/drills/toxiproxy.sh, add, payments-us-east]
//	    env: [TOXIPROXY_TOKEN]      # passed from the worker's environment by name; never in the file
//	    dir: /opt/drills            # working directory (default: the worker's)
//	    timeout: 30s                # default 30s, at most 10m; the process group is killed when it passes
//	    okExitCodes: [0]            # what counts as success (default: exit 0 only)

// Command hook limits and defaults.
const (
	// DefaultHookTimeout bounds one run of a command hook whose timeout is not set.
	DefaultHookTimeout = 30 * time.Second
	// MaxHookTimeout is the longest timeout a command hook may declare: the drill's activity waits this long (plus
	// a margin) for the worker, so it is also the most a lost attempt can hold up a drill.
	MaxHookTimeout = 10 * time.Minute
	// HookOutputLimit is how much of a command's output (stdout and stderr together) its result keeps.
	HookOutputLimit = 2048
)

// hookName is what a hook may be called: the drill's input, the Web UI and the audit log show it.
var hookName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// envName is a POSIX environment variable name.
var envName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// CheckHookName checks a command hook's name syntactically: what `starter drill` can check without the worker's
// hooks file.
func CheckHookName(name string) error {
	if !hookName.MatchString(name) {
		return fmt.Errorf("%q is no hook name: use lower-case letters, digits, '.', '_' and '-' (at most 63), e.g. us-east-down", name)
	}
	return nil
}

// CommandHook is one program a drill may run, as the hooks file declares it.
type CommandHook struct {
	// Argv is the program (an absolute path, or a name on the worker's PATH) and its arguments, run without a shell.
	Argv []string `yaml:"argv"`
	// Env names variables of the worker's environment the program gets, besides PATH; it gets no others. Their
	// values are redacted from its output.
	Env []string `yaml:"env"`
	// Dir is the working directory (absolute; default: the worker's).
	Dir string `yaml:"dir"`
	// Timeout bounds one run (default DefaultHookTimeout, at most MaxHookTimeout).
	Timeout time.Duration `yaml:"timeout"`
	// OKExitCodes are the exit codes that count as success (default: 0 only).
	OKExitCodes []int `yaml:"okExitCodes"`
}

// CommandHooks are the worker's declared command hooks, by name.
type CommandHooks struct {
	// File is where they were read from, named in errors.
	File  string
	Hooks map[string]CommandHook
	// lookup reads the worker's environment (os.LookupEnv; tests give their own).
	lookup func(string) (string, bool)
}

// hooksFile is the hooks file's shape.
type hooksFile struct {
	Hooks map[string]CommandHook `yaml:"hooks"`
}

// LoadCommandHooks reads and checks a hooks file against the worker's environment.
func LoadCommandHooks(path string) (*CommandHooks, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("drill hooks: %w: name the worker's hooks file (--drill-hooks, env DRILL_HOOKS)", err)
	}
	return ParseCommandHooks(bytes.NewReader(b), path, os.LookupEnv)
}

// ParseCommandHooks decodes a hooks file strictly (unknown fields are errors), fills defaults and checks every
// hook, reporting every problem at once with the field and the fix. lookup reads the worker's environment: a
// variable a hook passes through must be set when the worker starts.
func ParseCommandHooks(r io.Reader, file string, lookup func(string) (string, bool)) (*CommandHooks, error) {
	var f hooksFile
	dec := yaml.NewDecoder(r)
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("drill hooks %s: empty: declare hooks: {NAME: {argv: [PROGRAM, ARG...]}}", file)
		}
		return nil, fmt.Errorf("drill hooks %s: %w (fields: hooks.NAME.argv, env, dir, timeout, okExitCodes)", file, err)
	}
	var errs []error
	if len(f.Hooks) == 0 {
		errs = append(errs, errors.New("hooks: none declared: add hooks: {NAME: {argv: [PROGRAM, ARG...]}}"))
	}
	for _, name := range slices.Sorted(maps.Keys(f.Hooks)) {
		h := f.Hooks[name]
		errs = append(errs, h.check("hooks."+name, lookup)...)
		if err := CheckHookName(name); err != nil {
			errs = append(errs, fmt.Errorf("hooks.%s: %w", name, err))
		}
		if h.Timeout == 0 {
			h.Timeout = DefaultHookTimeout
		}
		if len(h.OKExitCodes) == 0 {
			h.OKExitCodes = []int{0}
		}
		f.Hooks[name] = h
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("drill hooks %s:\n%w", file, err)
	}
	return &CommandHooks{File: file, Hooks: f.Hooks, lookup: lookup}, nil
}

// check names every problem of one hook.
func (h CommandHook) check(field string, lookup func(string) (string, bool)) []error {
	var errs []error
	switch {
	case len(h.Argv) == 0 || h.Argv[0] == "":
		errs = append(errs, fmt.Errorf("%s.argv: give the program and its arguments, e.g. [/opt/drills/fault.sh, us-east, on]", field))
	case !filepath.IsAbs(h.Argv[0]) && strings.ContainsRune(h.Argv[0], '/'):
		errs = append(errs, fmt.Errorf("%s.argv[0]: %q is a relative path: give an absolute path or a program on the worker's PATH", field, h.Argv[0]))
	default:
		if _, err := exec.LookPath(h.Argv[0]); err != nil {
			errs = append(errs, fmt.Errorf("%s.argv[0]: %w: install it, or give the absolute path of an executable file", field, err))
		}
	}
	for _, name := range h.Env {
		if !envName.MatchString(name) {
			errs = append(errs, fmt.Errorf("%s.env: %q is no variable name: list names only (the values come from the worker's environment)", field, name))
			continue
		}
		if _, ok := lookup(name); !ok {
			errs = append(errs, fmt.Errorf("%s.env: %s is not set in the worker's environment: set it where the worker starts", field, name))
		}
	}
	if h.Dir != "" {
		if st, err := os.Stat(h.Dir); err != nil || !st.IsDir() || !filepath.IsAbs(h.Dir) {
			errs = append(errs, fmt.Errorf("%s.dir: %q is not an absolute path of a directory: fix it or leave it out", field, h.Dir))
		}
	}
	if h.Timeout < 0 || h.Timeout > MaxHookTimeout {
		errs = append(errs, fmt.Errorf("%s.timeout: %s: give a duration up to %s, e.g. 30s", field, h.Timeout, MaxHookTimeout))
	}
	for _, c := range h.OKExitCodes {
		if c < 0 || c > 255 {
			errs = append(errs, fmt.Errorf("%s.okExitCodes: %d is no exit code: use 0-255", field, c))
		}
	}
	return errs
}

// Names lists the declared hooks, sorted.
func (hs *CommandHooks) Names() []string {
	if hs == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(hs.Hooks))
}
