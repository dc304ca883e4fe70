package proof

import (
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"golang.org/x/crypto/ssh"
)

// FileSigner reads a private key file (OpenSSH format as ssh-keygen writes it, or PEM) for --key FILE. An encrypted
// key calls passphrase for its passphrase; passphrase may be nil, and then an encrypted key is an error.
func FileSigner(path string, passphrase func() ([]byte, error)) (ssh.Signer, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w: pass your private key file, e.g. --key ~/.ssh/id_ed25519", path, err)
	}
	signer, err := ssh.ParsePrivateKey(b)
	if _, encrypted := errors.AsType[*ssh.PassphraseMissingError](err); encrypted {
		signer, err = parseEncrypted(path, b, passphrase)
		if err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("key %s: %w: pass a private key file as ssh-keygen writes it (id_ed25519, not the .pub)", path, err)
	}
	if err := checkKey(signer.PublicKey()); err != nil {
		return nil, fmt.Errorf("key %s: %w", path, err)
	}
	return signer, nil
}

// parseEncrypted asks for the passphrase of an encrypted key file and decrypts it.
func parseEncrypted(path string, b []byte, passphrase func() ([]byte, error)) (ssh.Signer, error) {
	if passphrase == nil {
		return nil, fmt.Errorf("key %s is encrypted and nothing can ask for its passphrase: add it to the SSH agent "+
			"(ssh-add %s) and leave out --key", path, path)
	}
	pass, err := passphrase()
	if err != nil {
		return nil, fmt.Errorf("key %s: read the passphrase: %w", path, err)
	}
	defer clear(pass)
	signer, err := ssh.ParsePrivateKeyWithPassphrase(b, pass)
	if errors.Is(err, x509.IncorrectPasswordError) {
		return nil, fmt.Errorf("key %s: wrong passphrase: try again", path)
	}
	if err != nil {
		return nil, fmt.Errorf("key %s: decrypt: %w", path, err)
	}
	return signer, nil
}
