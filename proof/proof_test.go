package proof

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
)

// signedAt is when the test statements are signed: in a zone other than UTC, with nanoseconds.
var signedAt = time.Date(2026, 3, 1, 12, 0, 0, 123456789, time.FixedZone("CET", 3600))

func statement() Statement {
	return Statement{WorkflowID: "failover-payments", RunID: "0195-run", PlanHash: "3f2a9c0d1e2b4a5f",
		Kind: "approve-failover", Decision: DecisionApprove, Approver: "alice", Via: ViaCLI, Time: signedAt}
}

// newKey makes a private key of one kind: ed25519, ecdsa or rsa.
func newKey(t *testing.T, kind string) any {
	t.Helper()
	var key any
	var err error
	switch kind {
	case "ed25519":
		_, key, err = ed25519.GenerateKey(rand.Reader)
	case "ecdsa":
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case "rsa":
		key, err = rsa.GenerateKey(rand.Reader, MinRSABits)
	default:
		t.Fatalf("no key kind %q", kind)
	}
	if err != nil {
		t.Fatal(err)
	}
	return key
}

func newSigner(t *testing.T, kind string) ssh.Signer {
	t.Helper()
	s, err := ssh.NewSignerFromKey(newKey(t, kind))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sign(t *testing.T, st Statement, s ssh.Signer) Proof {
	t.Helper()
	p, err := Sign(st, s)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSignAndVerifyEachKeyType(t *testing.T) {
	for _, kind := range []string{"ed25519", "ecdsa", "rsa"} {
		t.Run(kind, func(t *testing.T) {
			s := newSigner(t, kind)
			p := sign(t, statement(), s)
			// The proof travels as JSON in a Temporal Update.
			b, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			var got Proof
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if err := got.Verify(TrustKeys(s.PublicKey()), signedAt.Add(time.Minute), 0); err != nil {
				t.Fatalf("verify: %v", err)
			}
			if got.ID() != p.ID() {
				t.Fatal("the JSON round trip changed the proof's ID")
			}
			if kind == "rsa" {
				var sig ssh.Signature
				if err := ssh.Unmarshal(got.Signature, &sig); err != nil || sig.Format != ssh.KeyAlgoRSASHA256 {
					t.Fatalf("RSA signature format %q (%v), want %s", sig.Format, err, ssh.KeyAlgoRSASHA256)
				}
			}
		})
	}
}

func TestVerifyRefusesAnotherKeysSignature(t *testing.T) {
	alice, mallory := newSigner(t, "ed25519"), newSigner(t, "ed25519")
	p := sign(t, statement(), mallory)
	p.PublicKey = MarshalPublicKey(alice.PublicKey()) // claims alice's key, signed by mallory's
	if err := p.Verify(TrustKeys(alice.PublicKey()), signedAt, 0); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("error %v, want ErrBadSignature", err)
	}
}

func TestVerifyRefusesAnUntrustedKey(t *testing.T) {
	s, other := newSigner(t, "ed25519"), newSigner(t, "ecdsa")
	p := sign(t, statement(), s)
	for name, trusted := range map[string]func(ssh.PublicKey) bool{
		"another key": TrustKeys(other.PublicKey()),
		"no keys":     TrustKeys(),
		"nil":         nil,
	} {
		t.Run(name, func(t *testing.T) {
			err := p.Verify(trusted, signedAt, 0)
			if !errors.Is(err, ErrUntrustedKey) || !strings.Contains(err.Error(), Fingerprint(s.PublicKey())) {
				t.Fatalf("error %v, want ErrUntrustedKey naming the key", err)
			}
		})
	}
}

func TestVerifyChecksTheTime(t *testing.T) {
	s := newSigner(t, "ed25519")
	p := sign(t, statement(), s)
	trusted := TrustKeys(s.PublicKey())
	for _, tc := range []struct {
		name   string
		now    time.Time
		maxAge time.Duration
		want   error
	}{
		{"just signed", signedAt, 0, nil},
		{"at the default max age", signedAt.Add(MaxAge), 0, nil},
		{"past the default max age", signedAt.Add(MaxAge + time.Second), 0, ErrExpired},
		{"past a shorter max age", signedAt.Add(2 * time.Minute), time.Minute, ErrExpired},
		{"within a longer max age", signedAt.Add(time.Hour), 2 * time.Hour, nil},
		{"signer's clock a little ahead", signedAt.Add(-MaxClockSkew), 0, nil},
		{"from the future", signedAt.Add(-MaxClockSkew - time.Second), 0, ErrNotYetValid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := p.Verify(trusted, tc.now, tc.maxAge)
			if !errors.Is(err, tc.want) || (tc.want == nil) != (err == nil) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyRefusesChangedAndMalformedProofs(t *testing.T) {
	s := newSigner(t, "ed25519")
	good := sign(t, statement(), s)
	for _, tc := range []struct {
		name   string
		change func(*Proof)
		want   error
	}{
		// Every signed field counts: a proof changed after signing no longer verifies.
		{"workflow", func(p *Proof) { p.WorkflowID = "failover-orders" }, ErrBadSignature},
		{"run", func(p *Proof) { p.RunID = "0196-run" }, ErrBadSignature},
		{"plan hash", func(p *Proof) { p.PlanHash = "0000000000000000" }, ErrBadSignature},
		{"kind", func(p *Proof) { p.Kind = "undo-past-no-return" }, ErrBadSignature},
		{"decision", func(p *Proof) { p.Decision = DecisionReject }, ErrBadSignature},
		{"approver", func(p *Proof) { p.Approver = "mallory" }, ErrBadSignature},
		{"via", func(p *Proof) { p.Via = ViaSlack }, ErrBadSignature},
		{"time", func(p *Proof) { p.Time = p.Time.Add(time.Nanosecond) }, ErrBadSignature},
		{"signature", func(p *Proof) {
			p.Signature = ssh.Marshal(&ssh.Signature{Format: ssh.KeyAlgoED25519, Blob: make([]byte, 64)})
		}, ErrBadSignature},
		// Malformed proofs are refused before the signature is checked.
		{"no approver", func(p *Proof) { p.Approver = "" }, ErrMalformed},
		{"unknown decision", func(p *Proof) { p.Decision = "maybe" }, ErrMalformed},
		{"newline in a name", func(p *Proof) { p.Approver = "alice\nvia=slack" }, ErrMalformed},
		{"no time", func(p *Proof) { p.Time = time.Time{} }, ErrMalformed},
		{"no key", func(p *Proof) { p.PublicKey = "" }, ErrMalformed},
		{"garbage signature", func(p *Proof) { p.Signature = []byte("nope") }, ErrMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := good
			tc.change(&p)
			if err := p.Verify(TrustKeys(s.PublicKey()), signedAt, 0); !errors.Is(err, tc.want) {
				t.Fatalf("error %v, want %v", err, tc.want)
			}
		})
	}
}

func TestVerifyRefusesSHA1RSASignatures(t *testing.T) {
	s := newSigner(t, "rsa")
	p := sign(t, statement(), s)
	sig, err := s.Sign(rand.Reader, p.Bytes()) // the RSA default: ssh-rsa, SHA-1
	if err != nil {
		t.Fatal(err)
	}
	if sig.Format != ssh.KeyAlgoRSA {
		t.Fatalf("default RSA signature format %s, want ssh-rsa", sig.Format)
	}
	p.Signature = ssh.Marshal(sig)
	if err := p.Verify(TrustKeys(s.PublicKey()), signedAt, 0); !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "SHA-1") {
		t.Fatalf("error %v, want ErrBadSignature for SHA-1", err)
	}
}

func TestSignRefusesABadStatement(t *testing.T) {
	st := statement()
	st.Via, st.Time = "web-ui", time.Time{}
	_, err := Sign(st, newSigner(t, "ed25519"))
	if err == nil || !strings.Contains(err.Error(), "via:") || !strings.Contains(err.Error(), "time: missing") {
		t.Fatalf("error %v, want via and time named", err)
	}
	if _, err := Sign(statement(), nil); err == nil {
		t.Fatal("signed without a signer")
	}
}

func TestIDIsStableAndDiffersPerSignature(t *testing.T) {
	s := newSigner(t, "ecdsa") // ECDSA signatures are randomised: the same statement signs differently each time
	p := sign(t, statement(), s)
	if p.ID() != p.ID() || !strings.HasPrefix(p.ID(), "proof-") {
		t.Fatalf("ID %s is not stable", p.ID())
	}
	again := sign(t, statement(), s)
	if again.ID() == p.ID() {
		t.Fatal("two signatures, one ID")
	}
	later := statement()
	later.Time = later.Time.Add(time.Second)
	if sign(t, later, s).ID() == p.ID() {
		t.Fatal("two statements, one ID")
	}
}
