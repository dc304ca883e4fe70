package deploytest

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/failover/failover/alerts"
	"github.com/failover/failover/plan"
	"github.com/failover/failover/workflows"
)

// compose is the part of the Compose model the project-specific checks read. It is filled from the project
// compose-go loads (composeload_test.go), the loader Docker Compose v2 itself uses, so the schema, interpolation
// and cross-references are checked exactly as `docker compose config` checks them.
type compose struct {
	Name     string
	Services map[string]*composeService
	Networks map[string]composeNetwork
	Volumes  map[string]struct{}
	Secrets  map[string]composeSecret
}

type composeService struct {
	Image       string
	Build       *composeBuild
	Command     []string
	Entrypoint  []string
	Environment map[string]string
	Secrets     []string
	Volumes     []string // source:target[:ro]; bind sources relative to the repo root as ./path
	Ports       []composePort
	Networks    map[string]composeServiceNetwork
	DependsOn   map[string]composeDepends
	Healthcheck *composeHealth
	Deploy      *composeDeploy
	Restart     string
}

type composeBuild struct {
	Context string // relative to the repo root: "." is the root
	Target  string
	Args    map[string]string
}

type composeDepends struct {
	Condition string
}

type composeHealth struct {
	Test []string
}

type composeDeploy struct {
	Replicas int
}

// composePort is one published port: HostIP:Published:Target.
type composePort struct {
	HostIP    string
	Published string
	Target    int
}

type composeNetwork struct {
	Internal bool
	Subnets  []string
}

type composeSecret struct {
	Environment string
	File        string
}

type composeServiceNetwork struct {
	IPv4Address string
	Aliases     []string
}

var interpolationRE = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}`)

// envExample reads .env.example as compose reads .env: KEY=value lines.
func envExample(t testing.TB) map[string]string {
	t.Helper()
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(readRepoFile(t, ".env.example")))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf(".env.example: %q is not KEY=value", line)
			continue
		}
		out[k] = v
	}
	return out
}

// bindMount is a ./host:container[:ro] volume.
type bindMount struct{ host, container string }

func (s *composeService) binds(t testing.TB, name string) []bindMount {
	t.Helper()
	var out []bindMount
	for _, v := range s.Volumes {
		parts := strings.Split(v, ":")
		if !strings.HasPrefix(parts[0], "./") {
			continue
		}
		if len(parts) < 2 || !strings.HasPrefix(parts[1], "/") {
			t.Errorf("service %s: volume %q: want ./host:/container[:ro]", name, v)
			continue
		}
		out = append(out, bindMount{host: path.Clean(parts[0]), container: path.Clean(parts[1])})
	}
	return out
}

// hostPath maps a path inside service's container to the repo file a bind mount puts there, or "" if none does.
// Paths under /run/secrets must name a secret granted to the service.
func (c *compose) hostPath(t testing.TB, svc string, p string) string {
	t.Helper()
	s := c.Services[svc]
	if dir, name := path.Split(p); dir == "/run/secrets/" {
		if !slices.Contains(s.Secrets, name) {
			t.Errorf("service %s uses %s, but the secret %s is not granted to it (secrets: %v)", svc, p, name, s.Secrets)
		}
		return ""
	}
	for _, m := range s.binds(t, svc) {
		if p == m.container {
			return repoPath(t, m.host)
		}
		if rel, ok := strings.CutPrefix(p, m.container+"/"); ok {
			return filepath.Join(repoPath(t, m.host), filepath.FromSlash(rel))
		}
	}
	return ""
}

// requireFile checks that a path used inside svc's container exists: a granted secret, or a mounted repo file.
func (c *compose) requireFile(t testing.TB, svc, what, p string) string {
	t.Helper()
	if strings.HasPrefix(p, "/run/secrets/") {
		c.hostPath(t, svc, p)
		return ""
	}
	h := c.hostPath(t, svc, p)
	if h == "" {
		t.Errorf("service %s: %s %s is not under any bind mount of the service (volumes %v)", svc, what, p, c.Services[svc].Volumes)
		return ""
	}
	if _, err := os.Stat(h); err != nil {
		t.Errorf("service %s: %s %s → %s: %v", svc, what, p, h, err)
	}
	return h
}

// ourImage is the Dockerfile target a service builds ("" for third-party images).
func (s *composeService) ourImage() string {
	if s.Build == nil {
		return ""
	}
	return s.Build.Target
}

// listens returns the ports a compose host name answers on, derived from the service's own configuration:
// our binaries' --listen/--metrics-addr (or their defaults), Kong's listen settings, etcd's listen URLs, and
// the documented defaults of the other images.
func (c *compose) listens(t testing.TB, host string) (svc string, ports []int) {
	t.Helper()
	if host == "kong-admin" {
		return "kong", listenPorts(t, c.Services["kong"].Environment["KONG_ADMIN_LISTEN"])
	}
	s := c.Services[host]
	if s == nil {
		return "", nil
	}
	switch target := s.ourImage(); target {
	case "worker", "regiond", "starter":
		cl := interfaces(t).command(t, target, s.Command)
		flags := flagArgs(t, host, cl, s.Command)
		for _, f := range []string{"listen", "metrics-addr"} {
			if _, known := cl.Flags[f]; !known {
				continue
			}
			v, set := flags[f]
			if !set {
				v = cl.Flags[f].Default
			}
			ports = append(ports, portOf(t, host+" --"+f, v))
		}
		return host, ports
	case "demoseed":
		return host, nil
	}
	image := strings.Split(s.Image, ":")[0]
	switch image {
	case "kong":
		return host, append(listenPorts(t, s.Environment["KONG_PROXY_LISTEN"]), listenPorts(t, s.Environment["KONG_STATUS_LISTEN"])...)
	case "gcr.io/etcd-development/etcd":
		for _, a := range s.Command {
			for _, f := range []string{"--listen-client-urls=", "--listen-peer-urls="} {
				if v, ok := strings.CutPrefix(a, f); ok {
					for _, u := range strings.Split(v, ",") {
						ports = append(ports, urlPort(t, u))
					}
				}
			}
		}
		return host, ports
	}
	defaults := map[string][]int{
		"temporalio/server": {7233},
		"temporalio/ui":     {8080},
		"postgres":          {5432},
		"prom/prometheus":   {9090},
		"prom/alertmanager": {9093},
		"grafana/grafana":   {3000},
	}
	if p, ok := defaults[image]; ok {
		return host, p
	}
	return host, nil
}

// listenPorts reads Kong-style listen settings: "0.0.0.0:8000, 127.0.0.1:8001 ssl".
func listenPorts(t testing.TB, v string) []int {
	t.Helper()
	var out []int
	for _, l := range strings.Split(v, ",") {
		if f := strings.Fields(l); len(f) > 0 {
			out = append(out, portOf(t, "listen "+v, f[0]))
		}
	}
	return out
}

func portOf(t testing.TB, what, hostport string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Errorf("%s: %q is not host:port", what, hostport)
		return 0
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Errorf("%s: port %q: %v", what, p, err)
	}
	return n
}

func urlPort(t testing.TB, raw string) int {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Port() == "" {
		t.Errorf("URL %q: want an explicit port", raw)
		return 0
	}
	n, _ := strconv.Atoi(u.Port())
	return n
}

// sharedNetwork reports whether two services can reach each other: a common network.
func (c *compose) sharedNetwork(a, b string) bool {
	for n := range c.Services[a].Networks {
		if _, ok := c.Services[b].Networks[n]; ok {
			return true
		}
	}
	return false
}

// checkEndpoint checks that client can reach host:port: host is a service (or the kong-admin alias, on the
// network that carries it), they share a network, and the service listens on port.
func (c *compose) checkEndpoint(t testing.TB, client, what, hostport string) {
	t.Helper()
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		t.Errorf("%s: %s %q is not host:port", client, what, hostport)
		return
	}
	if host == "localhost" || host == "127.0.0.1" || host == "0.0.0.0" {
		return // the service itself, or a bind address
	}
	port, _ := strconv.Atoi(portStr)
	svc, ports := c.listens(t, host)
	if svc == "" {
		t.Errorf("%s: %s names host %q, which is no compose service (services: %s)", client, what, host, strings.Join(sortedKeys(c.Services), ", "))
		return
	}
	if host != svc {
		// An alias resolves only on the network that defines it.
		var carrier string
		for n, opts := range c.Services[svc].Networks {
			if slices.Contains(opts.Aliases, host) {
				carrier = n
			}
		}
		if _, ok := c.Services[client].Networks[carrier]; carrier == "" || !ok {
			t.Errorf("%s: %s %s: alias %s is defined on network %q, which %s is not on", client, what, hostport, host, carrier, client)
		}
	} else if client != svc && !c.sharedNetwork(client, svc) {
		t.Errorf("%s: %s %s: %s and %s share no network", client, what, hostport, client, svc)
	}
	if !slices.Contains(ports, port) {
		t.Errorf("%s: %s %s: %s listens on %v, not %d", client, what, hostport, host, ports, port)
	}
}

var urlInTextRE = regexp.MustCompile(`https?://[A-Za-z0-9_.-]+:[0-9]+`)

// TestComposeFile checks docker-compose.yml against the binaries, the repo and itself.
func TestComposeFile(t *testing.T) {
	c := loadCompose(t)
	cl := interfaces(t)

	t.Run("our services use real flags, env vars and files", func(t *testing.T) {
		for _, name := range sortedKeys(c.Services) {
			s := c.Services[name]
			target := s.ourImage()
			if target == "" {
				continue
			}
			binary, ok := imageTargets[target]
			if !ok {
				t.Errorf("service %s builds target %q, which is not an image of the Dockerfile", name, target)
				continue
			}
			if s.Build.Context != "." {
				t.Errorf("service %s: build context %q, want . (the repo root, where the Dockerfile is)", name, s.Build.Context)
			}
			for arg := range s.Build.Args {
				if !strings.Contains(string(readRepoFile(t, "Dockerfile")), "\nARG "+arg) {
					t.Errorf("service %s: build arg %s is declared by no ARG of the Dockerfile", name, arg)
				}
			}
			iface := cl.command(t, binary, s.Command)
			flags := flagArgs(t, name, iface, s.Command)
			env := iface.Env()
			for k, v := range s.Environment {
				if _, ok := env[k]; !ok {
					t.Errorf("service %s: environment %s is read by no flag of `%s` (it reads %s)", name, k, iface.Name, strings.Join(sortedKeys(env), ", "))
				}
				if strings.HasPrefix(v, "/") {
					c.requireFile(t, name, "env "+k, v)
				}
			}
			for f, v := range flags {
				if strings.HasPrefix(v, "/") {
					c.requireFile(t, name, "--"+f, v)
				}
			}
		}
	})

	t.Run("every URL names a reachable service port", func(t *testing.T) {
		for _, name := range sortedKeys(c.Services) {
			s := c.Services[name]
			var texts []string
			for k, v := range s.Environment {
				texts = append(texts, k+"="+v)
			}
			texts = append(texts, s.Command...)
			for _, text := range texts {
				for _, u := range urlInTextRE.FindAllString(text, -1) {
					pu, _ := url.Parse(u)
					c.checkEndpoint(t, name, text, pu.Host)
				}
			}
			for k, v := range s.Environment {
				if k == "TEMPORAL_ADDRESS" || k == "POSTGRES_SEEDS" || k == "KONG_PG_HOST" {
					if !strings.Contains(v, ":") {
						v += ":" + map[string]string{"TEMPORAL_ADDRESS": "7233", "POSTGRES_SEEDS": "5432", "KONG_PG_HOST": "5432"}[k]
					}
					c.checkEndpoint(t, name, k, v)
				}
			}
		}
	})

	t.Run("health checks probe the ports the services listen on", func(t *testing.T) {
		for _, name := range sortedKeys(c.Services) {
			s := c.Services[name]
			h := s.Healthcheck
			if h == nil {
				continue
			}
			if len(h.Test) < 2 || (h.Test[0] != "CMD" && h.Test[0] != "CMD-SHELL") {
				t.Errorf("service %s: healthcheck test %q: want [CMD, ...] or [CMD-SHELL, ...]", name, h.Test)
				continue
			}
			if s.ourImage() != "" && h.Test[0] != "CMD" {
				t.Errorf("service %s: our images are distroless (no shell): use [CMD, /usr/local/bin/healthcheck, URL]", name)
			}
			for _, a := range h.Test[1:] {
				for _, u := range urlInTextRE.FindAllString(a, -1) {
					pu, _ := url.Parse(u)
					_, ports := c.listens(t, name)
					if p, _ := strconv.Atoi(pu.Port()); !slices.Contains(ports, p) {
						t.Errorf("service %s: healthcheck probes %s, but the service listens on %v", name, u, ports)
					}
				}
			}
			if s.ourImage() != "" && h.Test[1] != "/usr/local/bin/healthcheck" {
				t.Errorf("service %s: healthcheck runs %s; the image has /usr/local/bin/healthcheck", name, h.Test[1])
			}
		}
	})

	t.Run("published ports are on loopback and served", func(t *testing.T) {
		for _, name := range sortedKeys(c.Services) {
			for _, p := range c.Services[name].Ports {
				if p.HostIP != "127.0.0.1" || p.Published == "" {
					t.Errorf("service %s: port %+v: publish on loopback only, as 127.0.0.1:HOST:CONTAINER", name, p)
					continue
				}
				if _, ports := c.listens(t, name); !slices.Contains(ports, p.Target) {
					t.Errorf("service %s: publishes container port %d, but listens on %v", name, p.Target, ports)
				}
			}
		}
		for _, p := range c.Services["kong"].Ports {
			for _, admin := range listenPorts(t, c.Services["kong"].Environment["KONG_ADMIN_LISTEN"]) {
				if p.Target == admin {
					t.Errorf("kong publishes the Admin API port %d: Kong OSS has no Admin API authentication", admin)
				}
			}
		}
	})

	t.Run("start order, volumes, networks and secrets are declared", func(t *testing.T) {
		for _, name := range sortedKeys(c.Services) {
			s := c.Services[name]
			if s.Image == "" {
				t.Errorf("service %s: no image", name)
			}
			for dep, d := range s.DependsOn {
				ds := c.Services[dep]
				if ds == nil {
					t.Errorf("service %s depends on %s, which does not exist", name, dep)
					continue
				}
				switch d.Condition {
				case "service_healthy":
					if ds.Healthcheck == nil {
						t.Errorf("service %s waits for %s to be healthy, but %s has no healthcheck", name, dep, dep)
					}
				case "service_completed_successfully":
					if ds.Restart == "always" || ds.Restart == "unless-stopped" {
						t.Errorf("service %s waits for %s to complete, but %s restarts %s", name, dep, dep, ds.Restart)
					}
				default:
					t.Errorf("service %s depends_on %s: condition %q; want service_healthy or service_completed_successfully", name, dep, d.Condition)
				}
			}
			for _, v := range s.Volumes {
				src := strings.Split(v, ":")[0]
				if strings.HasPrefix(src, "./") {
					if _, err := os.Stat(repoPath(t, src)); err != nil {
						t.Errorf("service %s: bind mount source %s: %v", name, src, err)
					}
				} else if _, ok := c.Volumes[src]; !ok {
					t.Errorf("service %s: volume %s is not declared under volumes:", name, src)
				}
			}
			for n := range s.Networks {
				if _, ok := c.Networks[n]; !ok {
					t.Errorf("service %s: network %s is not declared under networks:", name, n)
				}
			}
			if len(s.Networks) == 0 {
				t.Errorf("service %s: no networks: name them, so reachability stays explicit", name)
			}
			for _, sec := range s.Secrets {
				if _, ok := c.Secrets[sec]; !ok {
					t.Errorf("service %s: secret %s is not declared under secrets:", name, sec)
				}
			}
			for _, v := range s.Environment {
				if strings.HasPrefix(v, "/run/secrets/") {
					c.hostPath(t, name, v)
				}
			}
		}
		used := map[string]bool{}
		for _, s := range c.Services {
			for _, v := range s.Volumes {
				used[strings.Split(v, ":")[0]] = true
			}
		}
		for v := range c.Volumes {
			if !used[v] {
				t.Errorf("volume %s is declared but no service mounts it", v)
			}
		}
	})

	t.Run("no secret values in the file", func(t *testing.T) {
		raw := loadComposeUninterpolated(t)
		secretish := regexp.MustCompile(`PASSWORD|TOKEN|SECRET|_PWD|KEY`)
		for _, name := range sortedKeys(raw.Services) {
			for k, v := range raw.Services[name].Environment {
				if !secretish.MatchString(k) {
					continue
				}
				if strings.HasPrefix(v, "/run/secrets/") || (strings.HasPrefix(v, "${") && strings.HasSuffix(v, "}")) {
					continue
				}
				t.Errorf("service %s: %s=%q looks like a secret written into the file: use a secret file or ${VAR} from .env", name, k, v)
			}
		}
		env := envExample(t)
		text := string(readRepoFile(t, "docker-compose.yml"))
		referenced := map[string]bool{}
		for _, m := range interpolationRE.FindAllStringSubmatch(text, -1) {
			referenced[m[1]] = true
			if _, ok := env[m[1]]; !ok {
				t.Errorf("docker-compose.yml uses ${%s}; .env.example does not list it", m[1])
			}
		}
		for name, s := range raw.Secrets {
			if s.File != "" {
				t.Errorf("secret %s comes from file %s: take it from .env (environment:) so nothing secret sits in the repo", name, s.File)
			}
			referenced[s.Environment] = true
			if _, ok := env[s.Environment]; !ok {
				t.Errorf("secret %s reads ${%s}; .env.example does not list it", name, s.Environment)
			}
		}
		for k := range env {
			if !referenced[k] {
				t.Errorf(".env.example lists %s, which docker-compose.yml never uses", k)
			}
		}
	})

	t.Run("worker scales out", func(t *testing.T) {
		w := c.Services["worker"]
		if w == nil || w.ourImage() != "worker" {
			t.Fatal("no service worker building the worker image")
		}
		if w.Deploy == nil || w.Deploy.Replicas < 2 {
			t.Errorf("worker: want deploy.replicas >= 2 (several workers share the task queue)")
		}
		for _, p := range w.Ports {
			t.Errorf("worker publishes %+v: replicas cannot share a host port", p)
		}
	})
}

// TestComposeEtcdCluster: three members that list each other, and clients that know all three.
func TestComposeEtcdCluster(t *testing.T) {
	c := loadCompose(t)
	members := map[string]string{} // name → peer URL
	var clientURLs []string
	for _, name := range sortedKeys(c.Services) {
		s := c.Services[name]
		if !strings.HasPrefix(s.Image, "gcr.io/etcd-development/etcd:v3.5.") {
			continue
		}
		args := map[string]string{}
		for _, a := range s.Command[1:] {
			k, v, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
			args[k] = v
		}
		if args["name"] != name {
			t.Errorf("etcd service %s: --name=%s; use the service name, the other members find it by that", name, args["name"])
		}
		if want := "http://" + name + ":2379"; args["advertise-client-urls"] != want {
			t.Errorf("etcd %s: --advertise-client-urls=%s, want %s", name, args["advertise-client-urls"], want)
		}
		members[name] = args["initial-advertise-peer-urls"]
		clientURLs = append(clientURLs, args["advertise-client-urls"])
		var want []string
		for _, m := range strings.Split(args["initial-cluster"], ",") {
			want = append(want, m)
		}
		if !slices.Contains(want, name+"="+args["initial-advertise-peer-urls"]) {
			t.Errorf("etcd %s: --initial-cluster %s does not list itself as %s=%s", name, args["initial-cluster"], name, args["initial-advertise-peer-urls"])
		}
		if args["initial-cluster-state"] != "new" || args["initial-cluster-token"] == "" || args["data-dir"] == "" {
			t.Errorf("etcd %s: want --initial-cluster-state=new, a cluster token and a data dir on a volume", name)
		}
	}
	if len(members) != 3 {
		t.Fatalf("want a 3-member etcd cluster, found %d: %v", len(members), members)
	}
	for name := range members {
		for _, a := range c.Services[name].Command {
			if v, ok := strings.CutPrefix(a, "--initial-cluster="); ok {
				var got []string
				for m := range members {
					got = append(got, m+"="+members[m])
				}
				if !sameSet(strings.Split(v, ","), got) {
					t.Errorf("etcd %s: --initial-cluster=%s, members are %v", name, v, got)
				}
			}
		}
	}
	for _, name := range sortedKeys(c.Services) {
		if v, ok := c.Services[name].Environment["ETCD_ENDPOINTS"]; ok && !sameSet(strings.Split(v, ","), clientURLs) {
			t.Errorf("service %s: ETCD_ENDPOINTS=%s; want all members %v, so it survives one down", name, v, clientURLs)
		}
	}
}

// TestComposeKongAdminAPIIsInternal: Kong OSS has no Admin API auth, so only its clients can reach it.
func TestComposeKongAdminAPIIsInternal(t *testing.T) {
	c := loadCompose(t)
	k := c.Services["kong"]
	if k == nil || !strings.HasPrefix(k.Image, "kong:3.") {
		t.Fatal("no service kong running kong:3.x")
	}
	if k.Environment["KONG_DATABASE"] != "postgres" {
		t.Errorf("kong: KONG_DATABASE=%q, want postgres", k.Environment["KONG_DATABASE"])
	}
	m := c.Services["kong-migrations"]
	if m == nil || strings.Join(m.Command, " ") != "kong migrations bootstrap" || m.Image != k.Image {
		t.Errorf("want a one-shot kong-migrations service running `kong migrations bootstrap` on %s", k.Image)
	} else if k.DependsOn["kong-migrations"].Condition != "service_completed_successfully" {
		t.Errorf("kong must start after kong-migrations completed")
	}
	admin, ok := k.Networks["kong-admin"]
	if !ok {
		t.Fatal("kong is not on the network kong-admin")
	}
	if !c.Networks["kong-admin"].Internal {
		t.Errorf("network kong-admin must be internal: true")
	}
	addrs := strings.Split(k.Environment["KONG_ADMIN_LISTEN"], ",")
	for _, a := range addrs {
		host, _, _ := net.SplitHostPort(strings.Fields(a)[0])
		if host != admin.IPv4Address && host != "127.0.0.1" {
			t.Errorf("KONG_ADMIN_LISTEN %q listens on %s: only on kong's kong-admin address %s and loopback", a, host, admin.IPv4Address)
		}
	}
	ip, err := netip.ParseAddr(admin.IPv4Address)
	if err != nil {
		t.Fatalf("kong ipv4_address on kong-admin: %v", err)
	}
	subnets := c.Networks["kong-admin"].Subnets
	if len(subnets) != 1 {
		t.Fatalf("kong-admin: want one ipam subnet, got %v", subnets)
	}
	if pfx, err := netip.ParsePrefix(subnets[0]); err != nil || !pfx.Contains(ip) {
		t.Errorf("kong's address %s is not in the kong-admin subnet %s (%v)", ip, subnets[0], err)
	}
	for _, name := range sortedKeys(c.Services) {
		s := c.Services[name]
		v, ok := s.Environment["KONG_ADMIN_URL"]
		if !ok {
			continue
		}
		u, _ := url.Parse(v)
		if u.Hostname() != "kong-admin" {
			t.Errorf("service %s: KONG_ADMIN_URL=%s; use the alias kong-admin, which resolves to the Admin API's address", name, v)
		}
		if _, ok := s.Networks["kong-admin"]; !ok {
			t.Errorf("service %s talks to the Kong Admin API but is not on network kong-admin", name)
		}
	}
}

// TestComposeTemporal: the schema job before the server, then the namespace job that registers exactly the
// search attributes the workflow writes.
func TestComposeTemporal(t *testing.T) {
	c := loadCompose(t)
	if c.Services["temporal"].DependsOn["temporal-schema"].Condition != "service_completed_successfully" {
		t.Errorf("temporal must start after temporal-schema completed")
	}
	ns := c.Services["temporal-namespace"]
	if ns == nil {
		t.Fatal("no temporal-namespace service")
	}
	for _, svc := range []string{"temporal-schema", "temporal-namespace"} {
		s := c.Services[svc]
		if len(s.Entrypoint) != 2 || s.Entrypoint[0] != "/bin/sh" {
			t.Errorf("%s: entrypoint %q: want [/bin/sh, script]", svc, s.Entrypoint)
			continue
		}
		c.requireFile(t, svc, "script", s.Entrypoint[1])
	}
	script := string(readRepoFile(t, "deploy/compose/temporal/namespace.sh"))
	got := map[string]string{}
	for _, m := range regexp.MustCompile(`--name (\w+) --type (\w+)`).FindAllStringSubmatch(script, -1) {
		got[m[1]] = m[2]
	}
	want := map[string]string{}
	for name, typ := range workflows.SearchAttributes() {
		want[name] = typ.String() // the shorthand the CLI takes, e.g. Keyword
	}
	if !mapsEqual(got, want) {
		t.Errorf("namespace.sh registers %v; the workflow writes %v", got, want)
	}
	for _, name := range sortedKeys(c.Services) {
		s := c.Services[name]
		if v, ok := s.Environment["TEMPORAL_NAMESPACE"]; ok && v != ns.Environment["TEMPORAL_NAMESPACE"] {
			t.Errorf("service %s uses namespace %s; temporal-namespace prepares %s", name, v, ns.Environment["TEMPORAL_NAMESPACE"])
		}
	}
	for _, svc := range []string{"worker", "starter-serve"} {
		if c.Services[svc].DependsOn["temporal-namespace"].Condition != "service_completed_successfully" {
			t.Errorf("%s must start after temporal-namespace completed: without the search attributes no failover starts", svc)
		}
	}
}

// TestComposeDemoMatchesPlan: the plan compose runs names the compose services, ports and instances.
func TestComposeDemoMatchesPlan(t *testing.T) {
	c := loadCompose(t)
	cl := interfaces(t)
	seed := c.Services["demoseed"]
	seedFlags := flagArgs(t, "demoseed", cl["demoseed"], seed.Command)
	planFile := c.requireFile(t, "demoseed", "--plan", seedFlags["plan"])
	if planFile == "" {
		t.FailNow()
	}
	p, err := plan.Load(planFile)
	if err != nil {
		t.Fatalf("compose plan %s: %v", planFile, err)
	}
	if _, ok := p.Regions[seedFlags["active"]]; !ok {
		t.Errorf("demoseed --active %s is not a region of the plan (%v)", seedFlags["active"], p.RegionNames())
	}
	instances := map[string]bool{}
	regionSvc := map[string]string{} // region → service
	for _, name := range sortedKeys(c.Services) {
		s := c.Services[name]
		if s.ourImage() != "regiond" {
			continue
		}
		f := flagArgs(t, name, cl["regiond"], s.Command)
		regionSvc[f["region"]] = name
		if f["service"] != p.Service {
			t.Errorf("%s: --service %s, plan service %s", name, f["service"], p.Service)
		}
		inst := f["instance"]
		if inst == "" {
			inst = fmt.Sprintf("%s-%s-1", f["service"], f["region"])
		}
		instances[inst] = true
		if k := "/failover/" + f["service"] + "/active"; f["active-key"] == "" && p.Etcd.ActiveKey != k {
			t.Errorf("%s follows the default key %s; the plan's activeKey is %s", name, k, p.Etcd.ActiveKey)
		}
		if k := "/failover/" + f["service"] + "/acks/"; f["ack-prefix"] == "" && p.Etcd.AckPrefix != k {
			t.Errorf("%s acks under the default prefix %s; the plan's ackPrefix is %s", name, k, p.Etcd.AckPrefix)
		}
	}
	for _, name := range p.RegionNames() {
		r := p.Regions[name]
		svc := regionSvc[name]
		if svc == "" {
			t.Errorf("plan region %s has no regiond service", name)
			continue
		}
		for what, hostport := range map[string]string{"kongTarget": r.KongTarget, "healthURL": hostOf(r.HealthURL), "warmupURL": hostOf(r.WarmupURL)} {
			if h, _, _ := net.SplitHostPort(hostport); h != svc {
				t.Errorf("plan region %s: %s %s is not the region's service %s", name, what, hostport, svc)
			}
			c.checkEndpoint(t, "worker", "plan "+name+" "+what, hostport)
		}
		c.checkEndpoint(t, "worker", "plan "+name+" prometheusURL", hostOf(r.PrometheusURL))
		// Kong, not the worker, connects to the targets.
		c.checkEndpoint(t, "kong", "Kong target of "+name, r.KongTarget)
	}
	for _, req := range p.Etcd.RequiredConsumers {
		if !instances[req] {
			t.Errorf("plan requiredConsumers %s: no regiond instance has that name (%v)", req, sortedKeys(instances))
		}
	}
	for _, ch := range append(p.Verification.Checks, p.Traffic.Gate...) {
		if ch.HTTP != nil {
			c.checkEndpoint(t, "worker", "plan check "+ch.Name, hostOf(ch.HTTP.URL))
		}
	}

	t.Run("starter serve routes alerts to this plan", func(t *testing.T) {
		s := c.Services["starter-serve"]
		f := flagArgs(t, "starter-serve", cl.command(t, "starter", s.Command), s.Command)
		routes := c.requireFile(t, "starter-serve", "--routes", f["routes"])
		if routes == "" {
			t.FailNow()
		}
		if _, err := alerts.LoadRoutes(routes); err != nil {
			t.Fatalf("routes %s: %v", routes, err)
		}
		// The plans must also resolve inside the container: same relative paths, through the mounts.
		var rf alerts.RoutesFile
		if err := yaml.Unmarshal(mustRead(t, routes), &rf); err != nil {
			t.Fatal(err)
		}
		rules := string(readRepoFile(t, "deploy/prometheus/region-rules.yml"))
		for i, r := range rf.Routes {
			inContainer := path.Join(path.Dir(f["routes"]), r.Plan)
			h := c.requireFile(t, "starter-serve", fmt.Sprintf("routes[%d].plan", i), inContainer)
			if h != "" && !sameFile(t, h, planFile) {
				t.Errorf("routes[%d].plan %s is %s, not the plan demoseed seeds (%s)", i, r.Plan, h, planFile)
			}
			if a := r.Match["alertname"]; a != "" && !strings.Contains(rules, "alert: "+a+"\n") {
				t.Errorf("routes[%d] matches alertname %s, which no rule in region-rules.yml raises", i, a)
			}
		}
	})
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Host
}

func mustRead(t testing.TB, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sameFile(t testing.TB, a, b string) bool {
	t.Helper()
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
