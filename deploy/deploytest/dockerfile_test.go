package deploytest

import (
	"encoding/json"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// stage is one FROM ... AS name of the Dockerfile and what it does.
type stage struct {
	name, base string
	copied     []string // binaries copied from the build stage's output directory
	user       string
	entrypoint []string
	healthURL  string
}

var goModVersionRE = regexp.MustCompile(`(?m)^go (\S+)$`)

func dockerStages(t testing.TB) (map[string]*stage, map[string]string) {
	t.Helper()
	b := parseDockerBuild(t)
	stages := map[string]*stage{}
	args := map[string]string{}
	var cur *stage
	for _, ins := range dockerInstructions(t) {
		switch ins.cmd {
		case "ARG":
			k, v, _ := strings.Cut(ins.args, "=")
			args[k] = v
		case "FROM":
			f := strings.Fields(ins.args)
			cur = &stage{base: f[0]}
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				cur.name = f[2]
			}
			stages[cur.name] = cur
		case "COPY":
			f := strings.Fields(ins.args)
			if len(f) < 3 || f[0] != "--from=build" {
				continue
			}
			for _, src := range f[1 : len(f)-1] {
				if !strings.HasPrefix(src, b.outDir) {
					t.Errorf("Dockerfile line %d: COPY --from=build %s is not under the build output %s", ins.line, src, b.outDir)
				}
				cur.copied = append(cur.copied, path.Base(src))
			}
		case "USER":
			cur.user = ins.args
		case "ENTRYPOINT":
			if err := json.Unmarshal([]byte(ins.args), &cur.entrypoint); err != nil {
				t.Errorf("Dockerfile line %d: ENTRYPOINT %s is not exec form (a JSON array): distroless has no shell", ins.line, ins.args)
			}
		case "HEALTHCHECK":
			_, cmd, _ := strings.Cut(ins.args, "CMD ")
			var argv []string
			if err := json.Unmarshal([]byte(cmd), &argv); err != nil || len(argv) != 2 {
				t.Errorf("Dockerfile line %d: HEALTHCHECK CMD %s: want exec form [healthcheck, URL]", ins.line, cmd)
				continue
			}
			cur.healthURL = argv[1]
		}
	}
	return stages, args
}

// imageTargets are the Dockerfile stages that are images, and the binary each runs.
var imageTargets = map[string]string{"worker": "worker", "starter": "starter", "regiond": "regiond", "demoseed": "demoseed"}

func TestDockerfileStages(t *testing.T) {
	stages, args := dockerStages(t)
	b := parseDockerBuild(t)
	built := map[string]bool{}
	for _, p := range b.pkgs {
		built[path.Base(p)] = true
	}
	goMod := goModVersionRE.FindSubmatch(readRepoFile(t, "go.mod"))
	if goMod == nil {
		t.Fatal("go.mod has no go directive")
	}
	if got := args["GO_VERSION"]; got != string(goMod[1]) {
		t.Errorf("Dockerfile ARG GO_VERSION=%s, go.mod says go %s: build with the toolchain the module needs", got, goMod[1])
	}
	if bs := stages["build"]; bs == nil || !strings.HasPrefix(bs.base, "golang:") {
		t.Errorf("Dockerfile: want a stage `build` FROM golang:${GO_VERSION}")
	}
	for target, binary := range imageTargets {
		s := stages[target]
		if s == nil {
			t.Errorf("Dockerfile: no stage %q", target)
			continue
		}
		if !strings.HasPrefix(s.base, "gcr.io/distroless/static") && s.base != "scratch" {
			t.Errorf("stage %s: base %s; want gcr.io/distroless/static* or scratch (a static binary needs nothing else)", target, s.base)
		}
		uid, err := strconv.Atoi(strings.Split(s.user, ":")[0])
		if err != nil || uid == 0 {
			t.Errorf("stage %s: USER %q; want a numeric non-root uid (Kubernetes runAsNonRoot can only verify numbers)", target, s.user)
		}
		for _, c := range s.copied {
			if !built[c] {
				t.Errorf("stage %s copies %s, which the go build line does not build (%v)", target, c, b.pkgs)
			}
		}
		if len(s.entrypoint) != 1 || path.Base(s.entrypoint[0]) != binary || !slices.Contains(s.copied, binary) {
			t.Errorf("stage %s: ENTRYPOINT %q; want the %s binary it copies (%v)", target, s.entrypoint, binary, s.copied)
		}
		if s.healthURL != "" {
			if !slices.Contains(s.copied, "healthcheck") {
				t.Errorf("stage %s has a HEALTHCHECK but no healthcheck binary", target)
			}
			port := urlPort(t, s.healthURL)
			c := interfaces(t)[binary]
			want := portOf(t, "Dockerfile stage "+target, c.Flags["metrics-addr"].Default)
			if port != want {
				t.Errorf("stage %s: HEALTHCHECK on port %d, the binary's default --metrics-addr is port %d", target, port, want)
			}
		}
	}
}

// TestDockerignoreKeepsSourcesAndDropsSecrets: the build context must hold every package the images build and
// never .env (compose's secrets).
func TestDockerignoreKeepsSourcesAndDropsSecrets(t *testing.T) {
	var patterns []string
	for _, line := range strings.Split(string(readRepoFile(t, ".dockerignore")), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			patterns = append(patterns, line)
		}
	}
	ignored := func(rel string) bool {
		out := false
		for _, p := range patterns {
			neg := strings.HasPrefix(p, "!")
			p = strings.TrimPrefix(p, "!")
			p = strings.TrimPrefix(p, "**/")
			for dir := rel; dir != "."; dir = filepath.Dir(dir) {
				if ok, _ := filepath.Match(p, dir); ok {
					out = !neg
				}
			}
		}
		return out
	}
	for _, secret := range []string{".env", ".env.local"} {
		if !ignored(secret) {
			t.Errorf(".dockerignore does not exclude %s: the build context would carry compose's secrets", secret)
		}
	}
	if ignored(".env.example") {
		t.Errorf(".dockerignore excludes .env.example")
	}
	b := parseDockerBuild(t)
	root := repoRoot(t)
	cmd := exec.Command("go", append([]string{"list", "-deps", "-f", "{{if not .Standard}}{{.Dir}}{{end}}"}, b.pkgs...)...)
	cmd.Dir = root
	cmd.Env = append(cmd.Environ(), "GOTOOLCHAIN=local", "CGO_ENABLED=0")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, dir)
		if err != nil || strings.HasPrefix(rel, "..") {
			continue // a module dependency, downloaded in the build stage
		}
		if ignored(filepath.ToSlash(rel)) {
			t.Errorf(".dockerignore excludes %s, which the images build from", rel)
		}
	}
	for _, f := range []string{"go.mod", "go.sum"} {
		if ignored(f) {
			t.Errorf(".dockerignore excludes %s", f)
		}
	}
}
