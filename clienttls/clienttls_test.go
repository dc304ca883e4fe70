package clienttls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/failover/failover/testsuite/testpki"
)

// mtlsServer serves HTTPS requiring a client certificate signed by ca, and answers with the certificate's CN.
func mtlsServer(t *testing.T, ca *testpki.CA) *httptest.Server {
	t.Helper()
	pair := ca.Issue(t, testpki.Leaf{Name: "server", Server: true})
	cert, err := tls.LoadX509KeyPair(pair.CertFile, pair.KeyFile)
	if err != nil {
		t.Fatal(err)
	}
	pem, _ := os.ReadFile(ca.CertFile)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.RequireAndVerifyClientCert}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

func files(ca *testpki.CA, p testpki.Pair) Files {
	return Files{CA: File{ca.CertFile, "--ca"}, Cert: File{p.CertFile, "--cert"}, Key: File{p.KeyFile, "--key"}}
}

// get makes one request on a new connection (so a new handshake) and returns the CN the server saw.
func get(t *testing.T, cfg *tls.Config, url string) string {
	t.Helper()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: cfg, DisableKeepAlives: true}, Timeout: 5 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// Rotating the files (new certificate and key, as cert-manager or a Secret update does) changes the certificate the
// next handshake presents; a half-written rotation keeps the previous one.
func TestRotationReachesTheNextHandshake(t *testing.T) {
	ca := testpki.NewCA(t, "rotation")
	srv := mtlsServer(t, ca)
	pair := ca.Issue(t, testpki.Leaf{Name: "first"})
	cfg, err := files(ca, pair).Config()
	if err != nil {
		t.Fatal(err)
	}
	if got := get(t, cfg, srv.URL); got != "first" {
		t.Fatalf("server saw %q, want first", got)
	}
	ca.IssueTo(t, testpki.Leaf{Name: "second-after-rotation"}, pair)
	if got := get(t, cfg, srv.URL); got != "second-after-rotation" {
		t.Fatalf("after rotation the server saw %q, want second-after-rotation", got)
	}
	if err := os.WriteFile(pair.KeyFile, []byte("half-written"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := get(t, cfg, srv.URL); got != "second-after-rotation" {
		t.Fatalf("with a broken key file the server saw %q, want the previous certificate", got)
	}
}

// Bad files fail Config with the setting and the fix.
func TestConfigErrors(t *testing.T) {
	ca := testpki.NewCA(t, "errors")
	good := ca.Issue(t, testpki.Leaf{Name: "good"})
	other := ca.Issue(t, testpki.Leaf{Name: "other"})
	expired := ca.Issue(t, testpki.Leaf{Name: "expired", NotBefore: time.Now().Add(-48 * time.Hour), NotAfter: time.Now().Add(-time.Hour)})
	future := ca.Issue(t, testpki.Leaf{Name: "future", NotBefore: time.Now().Add(time.Hour), NotAfter: time.Now().Add(48 * time.Hour)})
	notPEM := filepath.Join(t.TempDir(), "ca.txt")
	os.WriteFile(notPEM, []byte("hello"), 0o600)
	missing := filepath.Join(t.TempDir(), "absent.key")
	for _, tc := range []struct {
		name string
		f    Files
		want []string
	}{
		{"missing key file", Files{Cert: File{good.CertFile, "--cert"}, Key: File{missing, "--key"}}, []string{"--key " + missing, "no such file", "fix the path"}},
		{"cert without key", Files{Cert: File{good.CertFile, "--cert"}, Key: File{"", "--key"}}, []string{"--cert is set but --key is not"}},
		{"key without cert", Files{Cert: File{"", "--cert"}, Key: File{good.KeyFile, "--key"}}, []string{"--key is set but --cert is not"}},
		{"expired", files(ca, expired), []string{"--cert " + expired.CertFile, "expired at", "issue a new one"}},
		{"not yet valid", files(ca, future), []string{"not valid before", "clock"}},
		{"key of another certificate", Files{Cert: File{good.CertFile, "--cert"}, Key: File{other.KeyFile, "--key"}}, []string{"--cert " + good.CertFile, "--key " + other.KeyFile, "private key it was issued for"}},
		{"CA not PEM", Files{CA: File{notPEM, "--ca"}}, []string{"--ca " + notPEM, "no PEM certificate"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.f.Config()
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// Diagnose names what is wrong with the TLS settings against a real server, and stays quiet when TLS is fine or
// the server is not there.
func TestDiagnose(t *testing.T) {
	ca := testpki.NewCA(t, "diag")
	srv := mtlsServer(t, ca)
	addr := strings.TrimPrefix(srv.URL, "https://")
	good := ca.Issue(t, testpki.Leaf{Name: "client"})
	stranger := testpki.NewCA(t, "stranger")
	strangerCert := stranger.Issue(t, testpki.Leaf{Name: "intruder"})
	plain := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(plain.Close)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	closedAddr := ln.Addr().String()
	ln.Close()

	for _, tc := range []struct {
		name string
		addr string
		f    Files
		want string // "" means no problem found
	}{
		{"fine", addr, files(ca, good), ""},
		{"no client certificate", addr, Files{CA: File{ca.CertFile, "--ca"}, Cert: File{"", "--cert"}, Key: File{"", "--key"}}, "requires a client certificate"},
		{"certificate from another CA", addr, Files{CA: File{ca.CertFile, "--ca"}, Cert: File{strangerCert.CertFile, "--cert"}, Key: File{strangerCert.KeyFile, "--key"}}, "refused the client certificate --cert"},
		{"wrong CA", addr, files(stranger, strangerCert), "not signed by a CA in --ca"},
		{"system roots", addr, Files{Cert: File{good.CertFile, "--cert"}, Key: File{good.KeyFile, "--key"}, CA: File{"", "--ca"}}, "set --ca to the CA bundle"},
		{"wrong name", addr, Files{CA: File{ca.CertFile, "--ca"}, Cert: File{good.CertFile, "--cert"}, Key: File{good.KeyFile, "--key"}, ServerName: "kong.example.com", ServerNameSetting: "--server-name"}, "not valid for \"kong.example.com\""},
		{"plain text server", strings.TrimPrefix(plain.URL, "http://"), files(ca, good), "does not speak TLS"},
		{"nothing listening", closedAddr, files(ca, good), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := tc.f.Config()
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			err = Diagnose(ctx, tc.addr, cfg, tc.f)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("want no problem, got %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("want %q, got %v", tc.want, err)
			}
		})
	}
}
