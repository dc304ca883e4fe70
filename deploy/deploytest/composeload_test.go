package deploytest

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	composecli "github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"
)

// loadComposeProject loads dir/docker-compose.yml with dir/.env.example as its .env, through compose-go: the
// loader Docker Compose v2 runs for every command, so schema validation (unknown or misspelled keys, enum values
// such as depends_on conditions), interpolation (${VAR:?message} fails when the variable is missing),
// normalisation and the consistency check (services, networks, volumes and secrets that are used but not
// declared) are exactly those of `docker compose config`. The OS environment is left out on purpose: the result
// must not depend on the shell that runs the test.
func loadComposeProject(ctx context.Context, dir string, interpolate bool) (*types.Project, error) {
	opts, err := composecli.NewProjectOptions([]string{filepath.Join(dir, "docker-compose.yml")},
		composecli.WithWorkingDirectory(dir),
		composecli.WithEnvFiles(filepath.Join(dir, ".env.example")),
		composecli.WithDotEnv,
		composecli.WithInterpolation(interpolate),
	)
	if err != nil {
		return nil, err
	}
	return opts.LoadProject(ctx)
}

// loadCompose loads docker-compose.yml as `docker compose` would after `cp .env.example .env`.
func loadCompose(t testing.TB) *compose {
	t.Helper()
	p, err := loadComposeProject(t.Context(), repoRoot(t), true)
	if err != nil {
		t.Fatalf("docker-compose.yml (compose-go, as docker compose config): %v", err)
	}
	return composeFromProject(t, p)
}

// loadComposeUninterpolated loads docker-compose.yml without interpolation: the values as written in the file,
// with ${VAR} references left in place.
func loadComposeUninterpolated(t testing.TB) *compose {
	t.Helper()
	p, err := loadComposeProject(t.Context(), repoRoot(t), false)
	if err != nil {
		t.Fatalf("docker-compose.yml, uninterpolated (compose-go): %v", err)
	}
	return composeFromProject(t, p)
}

// composeFromProject copies the parts of the loaded project the checks read. Paths the loader resolved to
// absolute ones go back to ./relative form against the project directory.
func composeFromProject(t testing.TB, p *types.Project) *compose {
	t.Helper()
	rel := func(abs string) string {
		r, err := filepath.Rel(p.WorkingDir, abs)
		if err != nil || strings.HasPrefix(r, "..") {
			t.Errorf("compose path %s is outside the project directory %s", abs, p.WorkingDir)
			return abs
		}
		if r == "." {
			return "."
		}
		return "./" + filepath.ToSlash(r)
	}
	c := &compose{
		Name:     p.Name,
		Services: map[string]*composeService{},
		Networks: map[string]composeNetwork{},
		Volumes:  map[string]struct{}{},
		Secrets:  map[string]composeSecret{},
	}
	for name, s := range p.Services {
		cs := &composeService{
			Image:       s.Image,
			Command:     s.Command,
			Entrypoint:  s.Entrypoint,
			Environment: map[string]string{},
			Networks:    map[string]composeServiceNetwork{},
			DependsOn:   map[string]composeDepends{},
			Restart:     s.Restart,
		}
		for k, v := range s.Environment {
			if v != nil {
				cs.Environment[k] = *v
			} else {
				cs.Environment[k] = ""
			}
		}
		if b := s.Build; b != nil {
			cs.Build = &composeBuild{Context: rel(b.Context), Target: b.Target, Args: map[string]string{}}
			for k, v := range b.Args {
				if v != nil {
					cs.Build.Args[k] = *v
				}
			}
		}
		for _, sec := range s.Secrets {
			cs.Secrets = append(cs.Secrets, sec.Source)
		}
		for _, v := range s.Volumes {
			src := v.Source
			if v.Type == types.VolumeTypeBind {
				src = rel(src)
			}
			m := src + ":" + v.Target
			if v.ReadOnly {
				m += ":ro"
			}
			cs.Volumes = append(cs.Volumes, m)
		}
		for _, pt := range s.Ports {
			cs.Ports = append(cs.Ports, composePort{HostIP: pt.HostIP, Published: pt.Published, Target: int(pt.Target)})
		}
		for n, cfg := range s.Networks {
			var sn composeServiceNetwork
			if cfg != nil {
				sn = composeServiceNetwork{IPv4Address: cfg.Ipv4Address, Aliases: cfg.Aliases}
			}
			cs.Networks[n] = sn
		}
		for dep, d := range s.DependsOn {
			cs.DependsOn[dep] = composeDepends{Condition: d.Condition}
		}
		if h := s.HealthCheck; h != nil {
			cs.Healthcheck = &composeHealth{Test: h.Test}
		}
		if d := s.Deploy; d != nil && d.Replicas != nil {
			cs.Deploy = &composeDeploy{Replicas: *d.Replicas}
		}
		c.Services[name] = cs
	}
	for name, n := range p.Networks {
		cn := composeNetwork{Internal: n.Internal}
		for _, pool := range n.Ipam.Config {
			cn.Subnets = append(cn.Subnets, pool.Subnet)
		}
		c.Networks[name] = cn
	}
	for name := range p.Volumes {
		c.Volumes[name] = struct{}{}
	}
	for name, s := range p.Secrets {
		c.Secrets[name] = composeSecret{Environment: s.Environment, File: s.File}
	}
	return c
}

// TestComposeLoaderRefusesBrokenFiles proves the loader is Docker Compose's own: each break below is one that a
// hand-written reader could let through, and each fails with compose-go's message.
func TestComposeLoaderRefusesBrokenFiles(t *testing.T) {
	original := string(readRepoFile(t, "docker-compose.yml"))
	env := string(readRepoFile(t, ".env.example"))
	cases := []struct {
		name     string
		old, new string // the first occurrence of old in docker-compose.yml becomes new
		envDrop  string // a variable removed from .env.example
		want     string // compose-go's own words
	}{
		{name: "misspelled depends_on condition",
			old: "{condition: service_healthy}", new: "{condition: service_healty}",
			want: "services.temporal-schema.depends_on.temporal-db.condition value must be one of 'service_started', 'service_healthy', 'service_completed_successfully'"},
		{name: "misspelled service key",
			old: "    healthcheck:\n", new: "    healtcheck:\n",
			want: "services.temporal-db.healtcheck false schema"},
		{name: "undeclared network",
			old: "    networks: [temporal]\n", new: "    networks: [temporl]\n",
			want: "undefined network temporl"},
		{name: "depends_on a service that does not exist",
			old: "temporal-db: {condition: service_healthy}", new: "temporal-dbx: {condition: service_healthy}",
			want: "depends on undefined service"},
		{name: "required variable missing from .env",
			envDrop: "TEMPORAL_DB_PASSWORD",
			want:    "required variable TEMPORAL_DB_PASSWORD is missing a value"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			text := original
			if tc.old != "" {
				if !strings.Contains(text, tc.old) {
					t.Fatalf("docker-compose.yml no longer contains %q: pick another line to break", tc.old)
				}
				text = strings.Replace(text, tc.old, tc.new, 1)
			}
			envText := env
			if tc.envDrop != "" {
				var kept []string
				for _, line := range strings.Split(env, "\n") {
					if !strings.HasPrefix(line, tc.envDrop+"=") {
						kept = append(kept, line)
					}
				}
				envText = strings.Join(kept, "\n")
			}
			if err := os.WriteFile(filepath.Join(dir, "docker-compose.yml"), []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dir, ".env.example"), []byte(envText), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := loadComposeProject(t.Context(), dir, true)
			if err == nil {
				t.Fatalf("compose-go accepted the broken file (%s)", tc.name)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("compose-go refused it, but with %q; want it to say %s", err, strconv.Quote(tc.want))
			}
			t.Logf("compose-go: %v", err)
		})
	}
}
