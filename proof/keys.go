package proof

import (
	"bytes"
	"crypto/rsa"
	"errors"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
)

// keyTypes are the SSH key types a proof may be signed with: what ssh-keygen makes, hardware (FIDO) keys included.
// DSA is broken and certificates would need a CA to trust, so neither is accepted.
var keyTypes = []string{
	ssh.KeyAlgoED25519, ssh.KeyAlgoSKED25519,
	ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521, ssh.KeyAlgoSKECDSA256,
	ssh.KeyAlgoRSA,
}

// MinRSABits is the smallest RSA key accepted.
const MinRSABits = 2048

// Fingerprint is the key's SHA256 fingerprint as ssh-keygen -l prints it: "SHA256:" and unpadded base64.
func Fingerprint(key ssh.PublicKey) string {
	return ssh.FingerprintSHA256(key)
}

// MarshalPublicKey is the key in authorized_keys form without a comment: "ssh-ed25519 AAAA...".
func MarshalPublicKey(key ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(key)))
}

// ParsePublicKey parses one public key in authorized_keys form, as in ~/.ssh/id_ed25519.pub
// ("ssh-ed25519 AAAAC3... alice@laptop"; the comment is optional), and refuses key types a proof does not accept.
func ParsePublicKey(line string) (ssh.PublicKey, error) {
	key, _, options, rest, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		return nil, fmt.Errorf("not a public key in authorized_keys form (%v): paste the line of the .pub file, "+
			"e.g. \"ssh-ed25519 AAAAC3... alice@laptop\"", err)
	}
	if len(options) > 0 {
		return nil, fmt.Errorf("has options %s, which proofs do not enforce: remove them", strings.Join(options, ","))
	}
	if len(bytes.TrimSpace(rest)) > 0 {
		return nil, errors.New("holds more than one key: give one key per entry")
	}
	if err := checkKey(key); err != nil {
		return nil, err
	}
	return key, nil
}

// ParseAuthorizedKeys parses a file of trusted public keys, one per line in authorized_keys form, e.g. the Slack
// front door's keys a worker trusts (list the old and the new key while rotating). Blank lines and lines starting
// with # are skipped; an error names the line.
func ParseAuthorizedKeys(data []byte) ([]ssh.PublicKey, error) {
	var keys []ssh.PublicKey
	for i, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, err := ParsePublicKey(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", i+1, err)
		}
		keys = append(keys, key)
	}
	if len(keys) == 0 {
		return nil, errors.New("no public keys: write one per line in authorized_keys form, e.g. \"ssh-ed25519 AAAAC3... slack-frontdoor\"")
	}
	return keys, nil
}

// TrustKeys returns a trust function for Proof.Verify that trusts exactly these keys, compared by fingerprint.
func TrustKeys(keys ...ssh.PublicKey) func(ssh.PublicKey) bool {
	trusted := make(map[string]bool, len(keys))
	for _, k := range keys {
		trusted[Fingerprint(k)] = true
	}
	return func(k ssh.PublicKey) bool { return trusted[Fingerprint(k)] }
}

// checkKey refuses key types a proof does not accept and RSA keys below MinRSABits.
func checkKey(key ssh.PublicKey) error {
	if !slices.Contains(keyTypes, key.Type()) {
		return fmt.Errorf("key type %s is not accepted: use an ed25519 key (ssh-keygen -t ed25519), ECDSA, or RSA of "+
			"%d bits or more", key.Type(), MinRSABits)
	}
	if key.Type() != ssh.KeyAlgoRSA {
		return nil
	}
	if bits := rsaBits(key); bits < MinRSABits {
		return fmt.Errorf("RSA key of %d bits is too weak: use ed25519 (ssh-keygen -t ed25519) or RSA of %d bits or more", bits, MinRSABits)
	}
	return nil
}

// rsaBits is the size of an RSA public key, 0 when it cannot be read.
func rsaBits(key ssh.PublicKey) int {
	ck, ok := key.(ssh.CryptoPublicKey)
	if !ok {
		return 0
	}
	rk, ok := ck.CryptoPublicKey().(*rsa.PublicKey)
	if !ok {
		return 0
	}
	return rk.N.BitLen()
}
