package deploytest

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	kusttypes "sigs.k8s.io/kustomize/api/types"
	sigsyaml "sigs.k8s.io/yaml"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"

	"github.com/failover/failover/alerts"
	"github.com/failover/failover/workflows"
)

// manifests holds every object kustomize renders from deploy/k8s, typed.
type manifests struct {
	deployments     []*appsv1.Deployment
	services        []*corev1.Service
	pdbs            []*policyv1.PodDisruptionBudget
	serviceMonitors []*monitoringv1.ServiceMonitor
	other           []string                     // kind/name of objects with nothing to cross-check
	configMaps      map[string]map[string]string // rendered ConfigMap name (with kustomize's hash) → key → repo file (or env value)
	generated       map[string]string            // configMapGenerator name → rendered ConfigMap name
	secretKeys      map[string]bool              // keys of secret.example.yaml
}

// splitDocs splits multi-document YAML into documents, each re-encoded on its own.
func splitDocs(t testing.TB, rel string) [][]byte {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(readRepoFile(t, rel)))
	var out [][]byte
	for {
		var n yaml.Node
		err := dec.Decode(&n)
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		b, err := yaml.Marshal(&n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
}

// strictK8s decodes one document into a typed Kubernetes object; unknown fields (typos) are errors.
func strictK8s(t testing.TB, where string, doc []byte, v any) {
	t.Helper()
	if err := sigsyaml.UnmarshalStrict(doc, v); err != nil {
		t.Errorf("%s: %v", where, err)
	}
}

func readEnvFile(t testing.TB, rel string) map[string]string {
	t.Helper()
	out := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(readRepoFile(t, rel)))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("%s: %q is not KEY=value", rel, line)
		}
		out[k] = v
	}
	return out
}

// imageTarget maps a manifest image to the Dockerfile target that builds it, through the kustomization's images.
// The rendered manifests carry the rewritten name (newName:newTag).
func imageTarget(t testing.TB, k *kusttypes.Kustomization, image string) string {
	t.Helper()
	for _, im := range k.Images {
		if image == im.NewName+":"+im.NewTag {
			target := strings.TrimPrefix(im.Name, "failover/")
			if _, ok := imageTargets[target]; !ok {
				t.Errorf("image %s: no Dockerfile target %s", image, target)
			}
			return target
		}
	}
	t.Errorf("image %s is not the newName:newTag of any of the kustomization's images (so it cannot be pointed at a registry)", image)
	return ""
}

// mountedFile resolves a path inside a container to the ConfigMap or Secret key a volume puts there.
func mountedFile(t testing.TB, m manifests, spec corev1.PodSpec, c corev1.Container, where, p string) {
	t.Helper()
	for _, vm := range c.VolumeMounts {
		rel, ok := strings.CutPrefix(p, strings.TrimSuffix(vm.MountPath, "/")+"/")
		if !ok {
			continue
		}
		for _, v := range spec.Volumes {
			if v.Name != vm.Name {
				continue
			}
			switch {
			case v.ConfigMap != nil:
				if _, ok := m.configMaps[v.ConfigMap.Name][rel]; !ok {
					t.Errorf("%s: %s: ConfigMap %s has no key %s (keys %v)", where, p, v.ConfigMap.Name, rel, sortedKeys(m.configMaps[v.ConfigMap.Name]))
				}
			case v.Secret != nil:
				if v.Secret.SecretName != "failover-secrets" {
					t.Errorf("%s: %s: Secret %s is not the documented failover-secrets", where, p, v.Secret.SecretName)
				} else if !m.secretKeys[rel] {
					t.Errorf("%s: %s: secret.example.yaml has no key %s", where, p, rel)
				}
			default:
				t.Errorf("%s: %s: volume %s is neither a ConfigMap nor a Secret", where, p, v.Name)
			}
			return
		}
		t.Errorf("%s: volumeMount %s names no volume", where, vm.Name)
		return
	}
	t.Errorf("%s: %s is under no volumeMount of container %s", where, p, c.Name)
}

func TestKubernetesManifests(t *testing.T) {
	k, m := loadManifests(t)
	cl := interfaces(t)
	if len(m.deployments) != 2 {
		t.Fatalf("want the worker and starter serve Deployments, got %d", len(m.deployments))
	}
	endpointsCM := map[string]bool{}
	for _, d := range m.deployments {
		where := "Deployment " + d.Name
		pod := d.Spec.Template.Spec
		sel, err := metav1LabelSelector(d)
		if err != nil || !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
			t.Errorf("%s: selector %v does not match its pod labels %v (%v)", where, d.Spec.Selector, d.Spec.Template.Labels, err)
		}
		if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
			t.Errorf("%s: want replicas >= 2", where)
		}
		psc := pod.SecurityContext
		if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
			t.Errorf("%s: want pod securityContext runAsNonRoot: true with a non-zero runAsUser", where)
		}
		if len(pod.Containers) != 1 {
			t.Fatalf("%s: want one container", where)
		}
		c := pod.Containers[0]
		target := imageTarget(t, k, c.Image)
		binary := imageTargets[target]
		if binary == "" {
			continue
		}
		iface := cl.command(t, binary, c.Args)
		flags := flagArgs(t, where, iface, c.Args)
		env := iface.Env()
		for f, v := range flags {
			if strings.HasPrefix(v, "/") {
				mountedFile(t, m, pod, c, where+" --"+f, v)
			}
		}
		for _, e := range c.Env {
			if _, ok := env[e.Name]; !ok {
				t.Errorf("%s: env %s is read by no flag of `%s`", where, e.Name, iface.Name)
			}
			if ref := e.ValueFrom; ref != nil && ref.SecretKeyRef != nil && !m.secretKeys[ref.SecretKeyRef.Key] {
				t.Errorf("%s: env %s reads secret key %s, which secret.example.yaml lacks", where, e.Name, ref.SecretKeyRef.Key)
			}
		}
		for _, ef := range c.EnvFrom {
			if ef.ConfigMapRef == nil {
				t.Errorf("%s: envFrom other than a ConfigMap", where)
				continue
			}
			keys, ok := m.configMaps[ef.ConfigMapRef.Name]
			if !ok {
				t.Errorf("%s: envFrom ConfigMap %s is not generated by the kustomization", where, ef.ConfigMapRef.Name)
			}
			endpointsCM[ef.ConfigMapRef.Name] = true
			for key, v := range keys {
				if _, ok := env[key]; !ok {
					t.Errorf("%s: ConfigMap %s sets %s, which `%s` does not read", where, ef.ConfigMapRef.Name, key, iface.Name)
				}
				if strings.HasPrefix(v, "/") {
					mountedFile(t, m, pod, c, where+" env "+key, v)
				}
			}
		}
		// Ports: the container port is what the binary listens on; probes use it by name.
		ports := map[string]int32{}
		for _, p := range c.Ports {
			ports[p.Name] = p.ContainerPort
		}
		var listens []int
		for _, f := range []string{"listen", "metrics-addr"} {
			if _, ok := iface.Flags[f]; !ok {
				continue
			}
			v, set := flags[f]
			if !set {
				v = iface.Flags[f].Default
			}
			listens = append(listens, portOf(t, where+" --"+f, v))
		}
		for name, p := range ports {
			if !slices.Contains(listens, int(p)) {
				t.Errorf("%s: containerPort %s=%d, but the binary listens on %v", where, name, p, listens)
			}
		}
		wantPath := map[string]string{"worker": "/metrics", "starter": "/healthz"}[binary]
		for what, pr := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe} {
			if pr == nil || pr.HTTPGet == nil {
				t.Errorf("%s: no HTTP %s probe", where, what)
				continue
			}
			if pr.HTTPGet.Path != wantPath {
				t.Errorf("%s: %s probe GET %s, want %s", where, what, pr.HTTPGet.Path, wantPath)
			}
			if p := pr.HTTPGet.Port; p.Type != intstr.String || ports[p.StrVal] == 0 {
				t.Errorf("%s: %s probe port %s is not a named container port (%v)", where, what, p.String(), ports)
			}
		}
		res := c.Resources
		if res.Requests.Cpu().IsZero() || res.Requests.Memory().IsZero() || res.Limits.Memory().IsZero() {
			t.Errorf("%s: want cpu and memory requests and a memory limit", where)
		}
		sc := c.SecurityContext
		if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil ||
			*sc.AllowPrivilegeEscalation || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
			t.Errorf("%s: want readOnlyRootFilesystem, no privilege escalation, capabilities drop ALL", where)
		}
		if binary == "starter" {
			routes := flags["routes"]
			if routes == "" {
				t.Errorf("%s: serve without --routes", where)
			}
		}
	}
	if len(endpointsCM) != 1 {
		t.Errorf("both Deployments should share one endpoints ConfigMap, got %v", sortedKeys(endpointsCM))
	}

	t.Run("services, PDBs and ServiceMonitors select what exists", func(t *testing.T) {
		podsOf := func(sel labels.Selector) []*appsv1.Deployment {
			var out []*appsv1.Deployment
			for _, d := range m.deployments {
				if sel.Matches(labels.Set(d.Spec.Template.Labels)) {
					out = append(out, d)
				}
			}
			return out
		}
		for _, s := range m.services {
			ds := podsOf(labels.SelectorFromSet(s.Spec.Selector))
			if len(ds) != 1 {
				t.Errorf("Service %s selects %d Deployments, want 1", s.Name, len(ds))
				continue
			}
			for _, p := range s.Spec.Ports {
				found := false
				for _, cp := range ds[0].Spec.Template.Spec.Containers[0].Ports {
					found = found || (p.TargetPort.Type == intstr.String && cp.Name == p.TargetPort.StrVal && cp.ContainerPort == p.Port)
				}
				if !found {
					t.Errorf("Service %s port %s: targetPort %s is not the container port %d by name", s.Name, p.Name, p.TargetPort.String(), p.Port)
				}
			}
		}
		covered := map[string]bool{}
		for _, p := range m.pdbs {
			sel := labels.SelectorFromSet(p.Spec.Selector.MatchLabels)
			ds := podsOf(sel)
			if len(ds) != 1 {
				t.Errorf("PodDisruptionBudget %s selects %d Deployments, want 1", p.Name, len(ds))
				continue
			}
			covered[ds[0].Name] = true
			if p.Spec.MinAvailable == nil || p.Spec.MinAvailable.IntValue() < 1 || int32(p.Spec.MinAvailable.IntValue()) >= *ds[0].Spec.Replicas {
				t.Errorf("PodDisruptionBudget %s: minAvailable must be ≥ 1 and below the %d replicas (else no drain can proceed)", p.Name, *ds[0].Spec.Replicas)
			}
		}
		scraped := map[string]bool{}
		for _, sm := range m.serviceMonitors {
			if sm.APIVersion != monitoringv1.SchemeGroupVersion.String() {
				t.Errorf("ServiceMonitor %s: apiVersion %s, want %s", sm.Name, sm.APIVersion, monitoringv1.SchemeGroupVersion)
			}
			sel := labels.SelectorFromSet(sm.Spec.Selector.MatchLabels)
			var svc *corev1.Service
			for _, s := range m.services {
				if sel.Matches(labels.Set(s.Labels)) {
					svc = s
				}
			}
			if svc == nil {
				t.Errorf("ServiceMonitor %s selects no Service", sm.Name)
				continue
			}
			for _, ep := range sm.Spec.Endpoints {
				ok := false
				for _, p := range svc.Spec.Ports {
					ok = ok || p.Name == ep.Port
				}
				if !ok || ep.Path != "/metrics" {
					t.Errorf("ServiceMonitor %s: endpoint port %q path %q; want a port name of Service %s and /metrics", sm.Name, ep.Port, ep.Path, svc.Name)
				}
			}
			for _, d := range podsOf(labels.SelectorFromSet(svc.Spec.Selector)) {
				scraped[d.Name] = true
			}
		}
		for _, d := range m.deployments {
			if !covered[d.Name] {
				t.Errorf("Deployment %s has no PodDisruptionBudget", d.Name)
			}
			if !scraped[d.Name] {
				t.Errorf("Deployment %s is scraped by no ServiceMonitor", d.Name)
			}
		}
	})

	t.Run("routes and plans in the ConfigMap load", func(t *testing.T) {
		keys := m.configMaps[m.generated["failover-config"]]
		routes := keys["routes.yaml"]
		if routes == "" {
			t.Fatal("ConfigMap failover-config has no routes.yaml")
		}
		if _, err := alerts.LoadRoutes(routes); err != nil {
			t.Fatalf("deploy/k8s routes: %v", err)
		}
		var rf alerts.RoutesFile
		strictYAML(t, "deploy/k8s/config/routes.yaml", &rf)
		for i, r := range rf.Routes {
			if _, ok := keys[r.Plan]; !ok || strings.Contains(r.Plan, "/") {
				t.Errorf("routes[%d].plan %s: must be another key of ConfigMap failover-config (keys %v): they are mounted in one directory",
					i, r.Plan, sortedKeys(keys))
			}
		}
	})

	t.Run("search attribute job registers what the workflow writes", func(t *testing.T) {
		docs := splitDocs(t, "deploy/k8s/jobs/search-attributes.yaml")
		var j batchv1.Job
		strictK8s(t, "jobs/search-attributes.yaml", docs[0], &j)
		c := j.Spec.Template.Spec.Containers[0]
		got := map[string]string{}
		for i := 0; i+3 < len(c.Command); i++ {
			if c.Command[i] == "--name" && c.Command[i+2] == "--type" {
				got[c.Command[i+1]] = c.Command[i+3]
			}
		}
		want := map[string]string{}
		for name, typ := range workflows.SearchAttributes() {
			want[name] = typ.String()
		}
		if !mapsEqual(got, want) {
			t.Errorf("search-attributes Job registers %v; the workflow writes %v", got, want)
		}
		endpoints := readEnvFile(t, "deploy/k8s/config/endpoints.env")
		for _, e := range c.Env {
			if endpoints[e.Name] != e.Value {
				t.Errorf("search-attributes Job: %s=%s, config/endpoints.env says %s", e.Name, e.Value, endpoints[e.Name])
			}
		}
	})
	t.Logf("checked %d Deployments, %d Services, %d PDBs, %d ServiceMonitors, %v", len(m.deployments), len(m.services), len(m.pdbs),
		len(m.serviceMonitors), m.other)
}

func metav1LabelSelector(d *appsv1.Deployment) (labels.Selector, error) {
	if d.Spec.Selector == nil {
		return nil, errors.New("no selector")
	}
	return labels.SelectorFromSet(d.Spec.Selector.MatchLabels), nil
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
