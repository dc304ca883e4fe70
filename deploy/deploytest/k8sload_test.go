package deploytest

import (
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	kusttypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	sigsyaml "sigs.k8s.io/yaml"
)

// renderKustomization builds dir with kustomize's own library, with the options `kubectl kustomize` (and so
// `kubectl apply -k`) uses by default: resources, generators, images, labels, namespace and patches are applied
// exactly as there, and a kustomization kubectl would refuse fails here with kustomize's message.
func renderKustomization(dir string) (resmap.ResMap, error) {
	return krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), dir)
}

// loadKustomization reads deploy/k8s/kustomization.yaml into kustomize's own type, strictly: the checks below
// need its images and configMapGenerator (which repo file became which ConfigMap key).
func loadKustomization(t testing.TB) *kusttypes.Kustomization {
	t.Helper()
	var k kusttypes.Kustomization
	if err := sigsyaml.UnmarshalStrict(readRepoFile(t, "deploy/k8s/kustomization.yaml"), &k); err != nil {
		t.Fatalf("deploy/k8s/kustomization.yaml: %v", err)
	}
	return &k
}

// loadManifests renders deploy/k8s and decodes every rendered object strictly into its API type (unknown fields,
// i.e. typos, are errors): apps/v1, core/v1, policy/v1 and the Prometheus Operator's monitoring.coreos.com/v1.
func loadManifests(t testing.TB) (*kusttypes.Kustomization, manifests) {
	t.Helper()
	k := loadKustomization(t)
	rendered, err := renderKustomization(repoPath(t, "deploy/k8s"))
	if err != nil {
		t.Fatalf("kustomize build deploy/k8s: %v", err)
	}
	m := manifests{configMaps: map[string]map[string]string{}, generated: map[string]string{}, secretKeys: map[string]bool{}}
	var renderedCMs []*corev1.ConfigMap
	for i, r := range rendered.Resources() {
		doc, err := r.AsYAML()
		if err != nil {
			t.Fatalf("rendered object #%d: %v", i, err)
		}
		where := "kustomize build deploy/k8s #" + strconv.Itoa(i) + " " + r.GetKind() + "/" + r.GetName()
		switch r.GetKind() {
		case "Deployment":
			m.deployments = append(m.deployments, decodeAs[appsv1.Deployment](t, where, doc))
		case "Service":
			m.services = append(m.services, decodeAs[corev1.Service](t, where, doc))
		case "PodDisruptionBudget":
			m.pdbs = append(m.pdbs, decodeAs[policyv1.PodDisruptionBudget](t, where, doc))
		case "ServiceMonitor":
			m.serviceMonitors = append(m.serviceMonitors, decodeAs[monitoringv1.ServiceMonitor](t, where, doc))
		case "ConfigMap":
			renderedCMs = append(renderedCMs, decodeAs[corev1.ConfigMap](t, where, doc))
		case "ServiceAccount":
			decodeAs[corev1.ServiceAccount](t, where, doc)
			m.other = append(m.other, where)
		default:
			t.Errorf("%s: kind %q is not checked by deploytest: add it to loadManifests", where, r.GetKind())
		}
	}
	// Each generated ConfigMap: the keys kustomize put in it, traced back to the repo file (or env value).
	for _, g := range k.ConfigMapGenerator {
		keys := map[string]string{}
		for _, env := range g.EnvSources {
			for key, v := range readEnvFile(t, path.Join("deploy/k8s", env)) {
				keys[key] = v
			}
		}
		for _, f := range g.FileSources {
			key, file, ok := strings.Cut(f, "=")
			if !ok {
				key, file = path.Base(f), f
			}
			keys[key] = repoPath(t, path.Join("deploy/k8s", file))
		}
		var cm *corev1.ConfigMap
		for _, c := range renderedCMs {
			if strings.HasPrefix(c.Name, g.Name+"-") {
				cm = c
			}
		}
		if cm == nil {
			t.Errorf("configMapGenerator %s: kustomize rendered no ConfigMap %s-<hash>", g.Name, g.Name)
			continue
		}
		if !sameSet(sortedKeys(cm.Data), sortedKeys(keys)) {
			t.Errorf("ConfigMap %s has keys %v, the generator's sources give %v", cm.Name, sortedKeys(cm.Data), sortedKeys(keys))
		}
		m.generated[g.Name] = cm.Name
		m.configMaps[cm.Name] = keys
	}
	for _, doc := range splitDocs(t, "deploy/k8s/secret.example.yaml") {
		var s corev1.Secret
		strictK8s(t, "secret.example.yaml", doc, &s)
		for key := range s.StringData {
			m.secretKeys[key] = true
		}
	}
	return k, m
}

// decodeAs decodes one rendered object strictly into its API type T.
func decodeAs[T any](t testing.TB, where string, doc []byte) *T {
	t.Helper()
	var v T
	strictK8s(t, where, doc, &v)
	return &v
}

// TestKustomizeRefusesBrokenKustomizations proves the renderer is kustomize's own: each break fails with
// kustomize's message, as `kubectl apply -k` would.
func TestKustomizeRefusesBrokenKustomizations(t *testing.T) {
	cases := []struct {
		name   string
		append string // added to kustomization.yaml
		want   string // kustomize's own words
	}{
		{name: "patch targeting a missing resource",
			append: "patches:\n  - patch: |-\n      apiVersion: apps/v1\n      kind: Deployment\n      metadata:\n        name: failover-workr\n      spec:\n        replicas: 3\n",
			want:   "failover-workr"},
		{name: "resource file that does not exist",
			append: "resources:\n  - missing.yaml\n",
			want:   "missing.yaml"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "k8s")
			if err := os.CopyFS(dir, os.DirFS(repoPath(t, "deploy/k8s"))); err != nil {
				t.Fatal(err)
			}
			kf := filepath.Join(dir, "kustomization.yaml")
			text := string(mustRead(t, kf))
			if strings.HasPrefix(tc.append, "resources:\n") {
				// A second resources: key would be a YAML error, not kustomize's: extend the existing list.
				text = strings.Replace(text, "resources:\n", tc.append, 1)
			} else {
				text += tc.append
			}
			if err := os.WriteFile(kf, []byte(text), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := renderKustomization(dir)
			if err == nil {
				t.Fatalf("kustomize rendered the broken kustomization (%s)", tc.name)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("kustomize refused it, but with %q; want it to mention %s", err, strconv.Quote(tc.want))
			}
			t.Logf("kustomize: %v", err)
		})
	}
}

// The ServiceMonitors are decoded into the Prometheus Operator's own types: a misspelled field, which kustomize
// passes through untouched and the API server would prune or refuse, fails here.
func TestServiceMonitorDecodingIsStrict(t *testing.T) {
	rendered, err := renderKustomization(repoPath(t, "deploy/k8s"))
	if err != nil {
		t.Fatal(err)
	}
	var checked int
	for _, r := range rendered.Resources() {
		if r.GetKind() != "ServiceMonitor" {
			continue
		}
		doc, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		broken := strings.Replace(string(doc), "interval:", "intervall:", 1)
		if broken == string(doc) {
			t.Fatalf("ServiceMonitor %s has no interval to misspell", r.GetName())
		}
		var sm monitoringv1.ServiceMonitor
		if err := sigsyaml.UnmarshalStrict([]byte(broken), &sm); err == nil || !strings.Contains(err.Error(), `unknown field "intervall"`) {
			t.Fatalf("ServiceMonitor %s with intervall: decoded with %v; want unknown field \"intervall\"", r.GetName(), err)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("kustomize rendered no ServiceMonitor")
	}
}
