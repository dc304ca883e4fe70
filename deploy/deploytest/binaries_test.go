package deploytest

import (
	"bytes"
	"context"
	"debug/elf"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// repoRoot is the module root: this package lives in deploy/deploytest.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root %s: %v", root, err)
	}
	return root
}

func repoPath(t testing.TB, rel string) string {
	return filepath.Join(repoRoot(t), filepath.FromSlash(rel))
}

func readRepoFile(t testing.TB, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(repoPath(t, rel))
	if err != nil {
		t.Fatalf("%s: %v", rel, err)
	}
	return b
}

// dockerBuild is the Dockerfile's go build command, as written, and where it puts the binaries.
type dockerBuild struct {
	command string // e.g. CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o /out/ ./worker ./starter ...
	outDir  string // the -o directory, e.g. /out/
	pkgs    []string
}

// buildFlags are the flags every build of the binaries uses (the Makefile's build target, the Dockerfile).
const buildFlags = "CGO_ENABLED=0 go build -trimpath -ldflags '-s -w'"

var dockerBuildRE = regexp.MustCompile(`^(CGO_ENABLED=0 go build -trimpath -ldflags '-s -w') -o (\S+/) ((?:\./\S+ ?)+)$`)

// parseDockerBuild finds the build stage's RUN with go build, joins its continuation lines and drops BuildKit's
// --mount options, which only cache and do not change what is built.
func parseDockerBuild(t testing.TB) dockerBuild {
	t.Helper()
	var runs []string
	for _, ins := range dockerInstructions(t) {
		if ins.cmd == "RUN" && strings.Contains(ins.args, "go build") {
			runs = append(runs, ins.args)
		}
	}
	if len(runs) != 1 {
		t.Fatalf("Dockerfile: want exactly one RUN with go build, found %d: %q", len(runs), runs)
	}
	fields := strings.Fields(runs[0])
	for len(fields) > 0 && strings.HasPrefix(fields[0], "--mount=") {
		fields = fields[1:]
	}
	cmd := strings.Join(fields, " ")
	m := dockerBuildRE.FindStringSubmatch(cmd)
	if m == nil {
		t.Fatalf("Dockerfile build command %q: want %q -o <dir>/ ./pkg..., the flags of `make build`", cmd, buildFlags)
	}
	return dockerBuild{command: cmd, outDir: m[2], pkgs: strings.Fields(m[3])}
}

// instruction is one Dockerfile instruction with its continuation lines joined.
type instruction struct {
	cmd, args string
	line      int
}

func dockerInstructions(t testing.TB) []instruction {
	t.Helper()
	var out []instruction
	var cur *instruction
	for i, raw := range strings.Split(string(readRepoFile(t, "Dockerfile")), "\n") {
		line := strings.TrimSpace(raw)
		if cur == nil && (line == "" || strings.HasPrefix(line, "#")) {
			continue
		}
		cont := strings.HasSuffix(line, "\\")
		line = strings.TrimSuffix(line, "\\")
		if cur == nil {
			cmd, args, _ := strings.Cut(line, " ")
			cur = &instruction{cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args), line: i + 1}
		} else {
			cur.args += " " + strings.TrimSpace(line)
		}
		if !cont {
			out = append(out, *cur)
			cur = nil
		}
	}
	return out
}

// built holds the binaries of one build per test binary: the Dockerfile's command, run as a plain go build.
var built struct {
	once sync.Once
	dir  string
	took time.Duration
	err  error
	out  string
}

// binaries builds worker, starter, regiond, demoseed and healthcheck with the Dockerfile's exact go build
// command, its output directory replaced by a temp dir, once for all tests.
func binaries(t testing.TB) string {
	t.Helper()
	built.once.Do(func() {
		b := parseDockerBuild(t)
		dir, err := os.MkdirTemp("", "failover-deploytest-bin-*")
		if err != nil {
			built.err = err
			return
		}
		built.dir = dir
		cmd := strings.Replace(b.command, " -o "+b.outDir+" ", " -o "+dir+"/ ", 1)
		ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
		defer cancel()
		sh := exec.CommandContext(ctx, "sh", "-c", cmd)
		sh.Dir = repoRoot(t)
		sh.Env = append(os.Environ(), "GOTOOLCHAIN=local")
		start := time.Now()
		out, err := sh.CombinedOutput()
		built.took, built.out = time.Since(start), string(out)
		if err != nil {
			built.err = fmt.Errorf("%s: %v\n%s", cmd, err, out)
		}
	})
	if built.err != nil {
		t.Fatalf("Dockerfile build command failed: %v", built.err)
	}
	return built.dir
}

func bin(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(binaries(t), name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("binary %s was not built by the Dockerfile's command: %v", name, err)
	}
	return p
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// flagInfo is what --help says about one flag.
type flagInfo struct {
	Env     []string // environment variables its help names, e.g. TEMPORAL_ADDRESS
	Default string   // the default as printed, unquoted
}

// cli is a binary's (or a subcommand's) interface as its --help shows it.
type cli struct {
	Name  string
	Flags map[string]flagInfo
	// Extra are variables the help text names outside any flag, read by the command itself.
	Extra []string
}

// Env lists every environment variable the help names.
func (c cli) Env() map[string]string {
	out := map[string]string{}
	for name, f := range c.Flags {
		for _, e := range f.Env {
			out[e] = "--" + name
		}
	}
	for _, e := range c.Extra {
		if _, ok := out[e]; !ok {
			out[e] = "(description)"
		}
	}
	return out
}

var (
	flagLineRE = regexp.MustCompile(`^\s+(?:-\w, )?--([a-z0-9][a-z0-9-]*)(?:\s|$)`)
	envParenRE = regexp.MustCompile(`\(([^()]*\benv\b[^()]*)\)`)
	envNameRE  = regexp.MustCompile(`\b[A-Z][A-Z0-9_]{2,}\b`)
	envWordRE  = regexp.MustCompile(`\benv\b`)
	envVarRE   = regexp.MustCompile(`\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b`)
	defaultRE  = regexp.MustCompile(`\(default "?([^")]*)"?\)`)
	subcmdRE   = regexp.MustCompile(`^\s{2}([a-z][a-z0-9-]*)\s{2,}`)
)

// helpOf runs `binary args... --help` and parses the flags; pflag exits non-zero after printing help, cobra exits 0.
func helpOf(t testing.TB, binary string, args ...string) (cli, string) {
	t.Helper()
	exe := bin(t, binary) // builds on first use: outside the timeout, which is for --help alone
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, exe, append(slices.Clone(args), "--help")...)
	cmd.Env = []string{"HOME=" + t.TempDir()} // no inherited settings leak into the printed defaults
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	_ = cmd.Run()
	text := out.String()
	c := cli{Name: strings.Join(append([]string{binary}, args...), " "), Flags: map[string]flagInfo{}}
	for _, line := range strings.Split(text, "\n") {
		m := flagLineRE.FindStringSubmatch(line)
		if m == nil {
			// Variables read without a flag (e.g. Slack's) are named in the command's description.
			if envWordRE.MatchString(line) {
				for _, e := range envVarRE.FindAllString(line, -1) {
					c.Extra = append(c.Extra, e)
				}
			}
			continue
		}
		var f flagInfo
		for _, p := range envParenRE.FindAllStringSubmatch(line, -1) {
			f.Env = append(f.Env, envNameRE.FindAllString(p[1], -1)...)
		}
		if d := defaultRE.FindStringSubmatch(line); d != nil {
			f.Default = d[1]
		}
		c.Flags[m[1]] = f
	}
	if len(c.Flags) == 0 {
		t.Fatalf("%s --help printed no flags:\n%s", c.Name, text)
	}
	return c, text
}

// subcommands lists the commands a cobra --help shows under "Available Commands".
func subcommands(help string) []string {
	var out []string
	in := false
	for _, line := range strings.Split(help, "\n") {
		switch {
		case strings.HasPrefix(line, "Available Commands:"):
			in = true
		case in && strings.TrimSpace(line) == "":
			in = false
		case in:
			if m := subcmdRE.FindStringSubmatch(line); m != nil {
				out = append(out, m[1])
			}
		}
	}
	return out
}

// clis are the interfaces the deployment files drive, keyed by image target and subcommand ("starter serve").
type clis map[string]cli

var loadedCLIs struct {
	once sync.Once
	c    clis
	errs []string
}

// interfaces reads --help of every binary the deployment files run. `starter serve` is missing from builds that
// predate it; tests that need it fail with that reason.
func interfaces(t testing.TB) clis {
	t.Helper()
	loadedCLIs.once.Do(func() {
		c := clis{}
		c["worker"], _ = helpOf(t, "worker")
		c["regiond"], _ = helpOf(t, "regiond")
		c["demoseed"], _ = helpOf(t, "demoseed")
		_, rootHelp := helpOf(t, "starter")
		if slices.Contains(subcommands(rootHelp), "serve") {
			c["starter serve"], _ = helpOf(t, "starter", "serve")
		} else {
			loadedCLIs.errs = append(loadedCLIs.errs, "`starter serve` is not in this build (starter --help lists "+
				strings.Join(subcommands(rootHelp), ", ")+")")
		}
		loadedCLIs.c = c
	})
	return loadedCLIs.c
}

// command returns the interface of binary with args (its first non-flag argument picks a starter subcommand).
func (c clis) command(t testing.TB, binary string, args []string) cli {
	t.Helper()
	key := binary
	if binary == "starter" {
		if len(args) == 0 || strings.HasPrefix(args[0], "-") {
			t.Fatalf("starter needs a subcommand, got args %q", args)
		}
		key = "starter " + args[0]
	}
	got, ok := c[key]
	if !ok {
		t.Fatalf("no --help for %q: %s", key, strings.Join(loadedCLIs.errs, "; "))
	}
	return got
}

// flagArgs splits args into flag name → value ("--a=b", "--a b", and bare booleans), checking each flag exists.
func flagArgs(t testing.TB, where string, c cli, args []string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for i := 0; i < len(args); i++ {
		a := args[i]
		if !strings.HasPrefix(a, "--") {
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		if _, ok := c.Flags[name]; !ok {
			t.Errorf("%s: flag --%s is not a flag of `%s` (its flags: %s)", where, name, c.Name, strings.Join(sortedKeys(c.Flags), ", "))
			continue
		}
		if !hasValue && i+1 < len(args) && !strings.HasPrefix(args[i+1], "--") {
			value = args[i+1]
			i++
		}
		out[name] = value
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	return slices.Sorted(func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	})
}

// TestDockerfileBuildRunsAsPlainGoBuild runs the Dockerfile's go build command (flags exactly those of `make
// build`) and checks what it produced: static, stripped binaries for every image target.
func TestDockerfileBuildRunsAsPlainGoBuild(t *testing.T) {
	b := parseDockerBuild(t)
	var makeBuild string
	for _, line := range strings.Split(string(readRepoFile(t, "Makefile")), "\n") {
		if strings.Contains(line, "go build") || strings.Contains(line, "$(GO) build") {
			makeBuild = strings.TrimSpace(strings.ReplaceAll(line, "$(GO)", "go"))
		}
	}
	if !strings.HasPrefix(makeBuild, buildFlags+" ") {
		t.Errorf("Makefile build line %q does not start with %q: the Dockerfile must build like `make build`", makeBuild, buildFlags)
	}
	for _, want := range []string{"./worker", "./starter", "./deploy/regiond", "./deploy/demoseed", "./deploy/healthcheck"} {
		if !slices.Contains(b.pkgs, want) {
			t.Errorf("Dockerfile go build lacks %s (builds %v)", want, b.pkgs)
		}
	}
	dir := binaries(t)
	t.Logf("ran %q with -o %s/ in %s", b.command, dir, built.took.Round(time.Millisecond))
	for _, pkg := range b.pkgs {
		name := filepath.Base(pkg)
		p := filepath.Join(dir, name)
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		f, err := elf.Open(p)
		if err != nil {
			t.Errorf("%s: not an ELF binary: %v", name, err)
			continue
		}
		for _, prog := range f.Progs {
			if prog.Type == elf.PT_INTERP {
				t.Errorf("%s is dynamically linked (has an interpreter): the distroless static image cannot run it", name)
			}
		}
		if f.Section(".symtab") != nil {
			t.Errorf("%s has a symbol table: -ldflags '-s -w' was not applied", name)
		}
		f.Close()
		t.Logf("%-12s %6.1f MB", name, float64(fi.Size())/1e6)
	}
	if runtime.GOOS != "linux" {
		t.Logf("built on %s: the images are linux binaries", runtime.GOOS)
	}
}
