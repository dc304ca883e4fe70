package plan

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/failover/failover/testsuite/testpki"
)

// A region's grpc.caFile is read relative to the plan file when the plan loads; every way it can be wrong is an
// error naming the field.
func TestGRPCCAFileIsReadAndChecked(t *testing.T) {
	base, err := os.ReadFile("../deploy/plans/example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ca := testpki.NewCA(t, "grpc")
	server := ca.Issue(t, testpki.Leaf{Name: "region", Server: true})
	caPEM, err := os.ReadFile(ca.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ca.pem", string(caPEM))
	write("garbage.pem", "not a certificate\n")
	write("broken.pem", "-----BEGIN CERTIFICATE-----\nbm90IGRlcg==\n-----END CERTIFICATE-----\n")
	key, err := os.ReadFile(server.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	write("with-key.pem", string(caPEM)+string(key))

	const tlsLine = "      tls: true                            # system roots, unless caFile names the CAs to trust instead\n"
	if !strings.Contains(string(base), tlsLine) {
		t.Fatal("example.yaml: the grpc tls line moved; update the test")
	}
	load := func(t *testing.T, grpc string) (Plan, error) {
		t.Helper()
		write("plan.yaml", strings.Replace(string(base), tlsLine, grpc, 1))
		return Load(filepath.Join(dir, "plan.yaml"))
	}
	p, err := load(t, "      tls: true\n      caFile: ca.pem\n      serverName: payments.internal\n")
	if err != nil {
		t.Fatal(err)
	}
	g := p.Regions["us-east"].GRPC
	if g.CAPEM != string(caPEM) || g.ServerName != "payments.internal" {
		t.Fatalf("grpc %+v: want the CA file's PEM loaded and the server name kept", g)
	}
	if pool, err := g.CertPool(); err != nil || pool == nil {
		t.Fatalf("CertPool: %v %v", pool, err)
	}

	for _, tc := range []struct{ name, grpc, want string }{
		{"missing file", "      tls: true\n      caFile: nowhere.pem\n", "regions.us-east.grpc.caFile: " + filepath.Join(dir, "nowhere.pem") + ": no such file"},
		{"no PEM", "      tls: true\n      caFile: garbage.pem\n", "regions.us-east.grpc.caFile: " + filepath.Join(dir, "garbage.pem") + ": no PEM certificate in it"},
		{"bad certificate", "      tls: true\n      caFile: broken.pem\n", "regions.us-east.grpc.caFile: " + filepath.Join(dir, "broken.pem") + ": certificate 1: "},
		{"a key in it", "      tls: true\n      caFile: with-key.pem\n", `has a "PRIVATE KEY" PEM block`},
		{"without tls", "      caFile: ca.pem\n", "regions.us-east.grpc.caFile: is set but tls is off"},
		{"unknown field", "      tls: true\n      ca_file: ca.pem\n", "field ca_file not found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := load(t, tc.grpc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}

	// A plan decoded without a file has nothing to resolve a relative caFile against.
	_, err = Decode(strings.NewReader(strings.Replace(string(base), tlsLine, "      tls: true\n      caFile: ca.pem\n", 1)))
	if err == nil || !strings.Contains(err.Error(), "regions.us-east.grpc.caFile: \"ca.pem\" is relative to the plan file") {
		t.Fatalf("Decode with a relative caFile: %v", err)
	}
	// A plan that arrives as JSON (a workflow's input) is checked for the PEM it carries.
	p.Regions["us-east"].GRPC.CAPEM = "junk"
	if err := p.Validate(); err == nil || !strings.Contains(err.Error(), "regions.us-east.grpc.caPEM") {
		t.Fatalf("Validate with a junk caPEM: %v", err)
	}
}
