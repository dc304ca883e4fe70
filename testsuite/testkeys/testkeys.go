// Package testkeys makes SSH keys for tests that sign failover decisions (package proof). Tests only.
package testkeys

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/crypto/ssh"
)

// New makes a new ed25519 signer.
func New() (ssh.Signer, error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate an ed25519 key: %w", err)
	}
	return ssh.NewSignerFromKey(priv)
}

// Signer makes a new ed25519 signer, failing the test if it cannot.
func Signer(t testing.TB) ssh.Signer {
	t.Helper()
	s, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// File writes a new unencrypted ed25519 private key in OpenSSH form, as ssh-keygen does, to a temporary file and
// returns its path and public key.
func File(t testing.TB, name string) (string, ssh.PublicKey) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, name)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "id_ed25519_"+name)
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return path, s.PublicKey()
}
