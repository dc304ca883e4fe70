package proof

import (
	"crypto/rand"
	"crypto/rsa"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

func TestFingerprintIsWhatSSHKeygenPrints(t *testing.T) {
	// ssh-keygen -lf prints this fingerprint for this key.
	key, err := ParsePublicKey("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGmvSfFSmK0yxgDdsYOZZDJ4G1AiRSMXFNaq7YTqJqbl alice@laptop")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := Fingerprint(key), "SHA256:Vsrv4oIk9JpC+X/t34WMbSBjAs22xLsg32OZSHv0rgs"; got != want {
		t.Fatalf("fingerprint %s, want %s", got, want)
	}
}

func TestParsePublicKeyRefusesWhatProofsDoNotAccept(t *testing.T) {
	s := newSigner(t, "ed25519")
	line := MarshalPublicKey(s.PublicKey())
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weakPub, err := ssh.NewPublicKey(&weak.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	cert := &ssh.Certificate{Key: s.PublicKey(), CertType: ssh.UserCert, ValidPrincipals: []string{"alice"}, ValidBefore: ssh.CertTimeInfinity}
	if err := cert.SignCert(rand.Reader, newSigner(t, "ed25519")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ name, line, want string }{
		{"not a key", "hello", "authorized_keys form"},
		{"options", `from="10.0.0.0/8" ` + line, "options"},
		{"two keys", line + "\n" + line, "more than one key"},
		{"weak RSA", MarshalPublicKey(weakPub), "RSA key of 1024 bits"},
		{"certificate", MarshalPublicKey(cert), "key type ssh-ed25519-cert-v01@openssh.com is not accepted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := ParsePublicKey(tc.line); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want it to mention %q", err, tc.want)
			}
		})
	}
	if _, err := ParsePublicKey(line + " alice@laptop"); err != nil {
		t.Fatalf("plain key with a comment: %v", err)
	}
}

func TestParseAuthorizedKeys(t *testing.T) {
	a, b := newSigner(t, "ed25519"), newSigner(t, "ecdsa")
	file := "# Slack front-door keys: the new one first, the old one until the rotation is done\n\n" +
		MarshalPublicKey(a.PublicKey()) + " frontdoor-2026\n" +
		"   \n" +
		MarshalPublicKey(b.PublicKey()) + " frontdoor-2025\n"
	keys, err := ParseAuthorizedKeys([]byte(file))
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || Fingerprint(keys[0]) != Fingerprint(a.PublicKey()) || Fingerprint(keys[1]) != Fingerprint(b.PublicKey()) {
		t.Fatalf("keys %v", keys)
	}
	trusted := TrustKeys(keys...)
	if !trusted(a.PublicKey()) || !trusted(b.PublicKey()) || trusted(newSigner(t, "ed25519").PublicKey()) {
		t.Fatal("TrustKeys trusts the wrong keys")
	}

	_, err = ParseAuthorizedKeys([]byte(file + "# a broken paste:\nssh-ed25519 AAAAC3Nza\n"))
	if err == nil || !strings.HasPrefix(err.Error(), "line 7:") {
		t.Fatalf("error %v, want it to name line 7", err)
	}
	if _, err := ParseAuthorizedKeys([]byte("# nothing yet\n")); err == nil || !strings.Contains(err.Error(), "no public keys") {
		t.Fatalf("error %v for a file without keys", err)
	}
}
