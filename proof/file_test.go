package proof

import (
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// writeKey writes private as an OpenSSH private key file, encrypted when passphrase is set.
func writeKey(t *testing.T, private any, passphrase string) string {
	t.Helper()
	var block *pem.Block
	var err error
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(private, "alice@laptop")
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(private, "alice@laptop", []byte(passphrase))
	}
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id_test")
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func passphrase(s string) func() ([]byte, error) {
	return func() ([]byte, error) { return []byte(s), nil }
}

func TestFileSigner(t *testing.T) {
	// Encryption does not depend on the key type, and its KDF is slow on purpose: one encrypted key is enough.
	for _, tc := range []struct{ kind, passphrase string }{
		{"ed25519", ""}, {"ecdsa", ""}, {"rsa", ""}, {"ed25519", "correct horse"},
	} {
		t.Run(tc.kind+" "+tc.passphrase, func(t *testing.T) {
			private := newKey(t, tc.kind)
			s, err := FileSigner(writeKey(t, private, tc.passphrase), passphrase(tc.passphrase))
			if err != nil {
				t.Fatal(err)
			}
			p := sign(t, statement(), s)
			if err := p.Verify(TrustKeys(publicKey(t, private)), signedAt, 0); err != nil {
				t.Fatalf("verify: %v", err)
			}
		})
	}
}

func TestFileSignerSaysWhatToDo(t *testing.T) {
	private := newKey(t, "ed25519")
	encrypted := writeKey(t, private, "correct horse")
	pub := filepath.Join(t.TempDir(), "id_ed25519.pub")
	if err := os.WriteFile(pub, []byte(MarshalPublicKey(publicKey(t, private))), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, path string
		passphrase func() ([]byte, error)
		want       string
	}{
		{"missing file", filepath.Join(t.TempDir(), "nope"), nil, "pass your private key file"},
		{"public key file", pub, nil, "not the .pub"},
		{"encrypted, no prompt", encrypted, nil, "ssh-add"},
		{"wrong passphrase", encrypted, passphrase("battery staple"), "wrong passphrase"},
		{"prompt fails", encrypted, func() ([]byte, error) { return nil, errors.New("no terminal") }, "read the passphrase: no terminal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := FileSigner(tc.path, tc.passphrase)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to say %q", err, tc.want)
			}
		})
	}
}

// TestFileSignerReadsSSHKeygensKeys reads keys as the real ssh-keygen writes them (bcrypt-encrypted with -N).
func TestFileSignerReadsSSHKeygensKeys(t *testing.T) {
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Fatal("no ssh-keygen on this machine: install openssh-client (make deps does)")
	}
	for _, pass := range []string{"", "correct horse"} {
		path := filepath.Join(t.TempDir(), "id_ed25519")
		if out, err := exec.Command(keygen, "-q", "-t", "ed25519", "-N", pass, "-C", "alice@laptop", "-f", path).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
		s, err := FileSigner(path, passphrase(pass))
		if err != nil {
			t.Fatalf("passphrase %q: %v", pass, err)
		}
		pubLine, err := os.ReadFile(path + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		pub, err := ParsePublicKey(strings.TrimSpace(string(pubLine)))
		if err != nil {
			t.Fatal(err)
		}
		if err := sign(t, statement(), s).Verify(TrustKeys(pub), signedAt, 0); err != nil {
			t.Fatalf("passphrase %q: verify: %v", pass, err)
		}
	}
}
