package proof

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// serveAgent serves an in-process SSH agent holding keys on a unix socket in a temporary directory.
func serveAgent(t *testing.T, keys ...any) string {
	t.Helper()
	keyring := agent.NewKeyring()
	for _, k := range keys {
		if err := keyring.Add(agent.AddedKey{PrivateKey: k, Comment: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	socket := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", socket)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return // closed by the cleanup
			}
			go func() {
				defer conn.Close()
				_ = agent.ServeAgent(keyring, conn)
			}()
		}
	}()
	return socket
}

func publicKey(t *testing.T, private any) ssh.PublicKey {
	t.Helper()
	s, err := ssh.NewSignerFromKey(private)
	if err != nil {
		t.Fatal(err)
	}
	return s.PublicKey()
}

func TestAgentSignerSignsWithTheChosenKey(t *testing.T) {
	first, second := newKey(t, "ed25519"), newKey(t, "rsa")
	socket := serveAgent(t, first, second)
	pubFile := filepath.Join(t.TempDir(), "id_rsa.pub")
	if err := os.WriteFile(pubFile, []byte(MarshalPublicKey(publicKey(t, second))+" bob@laptop\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, want string
		key        ssh.PublicKey
	}{
		{"first key", "", publicKey(t, first)},
		{"by fingerprint", Fingerprint(publicKey(t, second)), publicKey(t, second)},
		{"by public key file", pubFile, publicKey(t, second)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := AgentSigner(socket, tc.want)
			if err != nil {
				t.Fatal(err)
			}
			if Fingerprint(s.PublicKey()) != Fingerprint(tc.key) {
				t.Fatalf("picked %s, want %s", Fingerprint(s.PublicKey()), Fingerprint(tc.key))
			}
			p := sign(t, statement(), s)
			if err := p.Verify(TrustKeys(tc.key), signedAt, 0); err != nil {
				t.Fatalf("verify: %v", err)
			}
		})
	}
}

func TestAgentSignerSaysWhatToDo(t *testing.T) {
	held := newKey(t, "ed25519")
	for _, tc := range []struct {
		name, socket, want, error string
	}{
		{"no socket", "", "", "set SSH_AUTH_SOCK or pass --key FILE"},
		{"nobody listening", filepath.Join(t.TempDir(), "gone.sock"), "", "no SSH agent at"},
		{"empty agent", serveAgent(t), "", "holds no keys: add yours (ssh-add"},
		{"key not held", serveAgent(t, held), Fingerprint(newSigner(t, "ed25519").PublicKey()), "does not hold SHA256:"},
		{"missing public key file", serveAgent(t, held), filepath.Join(t.TempDir(), "id_ed25519.pub"), "read public key"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := AgentSigner(tc.socket, tc.want)
			if err == nil || !strings.Contains(err.Error(), tc.error) {
				t.Fatalf("error %v, want it to say %q", err, tc.error)
			}
		})
	}
}

func TestAgentSignerFailsWhenTheAgentGoesAway(t *testing.T) {
	socket := serveAgent(t, newKey(t, "ed25519"))
	s, err := AgentSigner(socket, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(socket); err != nil {
		t.Fatal(err)
	}
	if _, err := Sign(statement(), s); err == nil || !strings.Contains(err.Error(), "no SSH agent at") {
		t.Fatalf("error %v", err)
	}
	var ne *net.OpError
	if _, err := Sign(statement(), s); !errors.As(err, &ne) {
		t.Fatalf("error %v does not wrap the dial error", err)
	}
}
