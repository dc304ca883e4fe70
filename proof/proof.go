package proof

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"golang.org/x/crypto/ssh"
)

// Freshness limits for Verify.
const (
	// MaxAge is how old a proof may be when maxAge is 0: long enough to type a passphrase and for a busy worker,
	// short enough that a proof leaked from a log is of no use.
	MaxAge = 10 * time.Minute
	// MaxClockSkew is how far in the future a proof's time may be: the signer's clock may run ahead of the worker's.
	MaxClockSkew = time.Minute
)

// Reasons Verify refuses a proof; test with errors.Is.
var (
	ErrMalformed    = errors.New("malformed proof")
	ErrBadSignature = errors.New("bad signature")
	ErrUntrustedKey = errors.New("untrusted key")
	ErrExpired      = errors.New("proof expired")
	ErrNotYetValid  = errors.New("proof from the future")
)

// Proof is a signed Statement. It travels as JSON (in a Temporal Update's argument).
type Proof struct {
	Statement
	// PublicKey is the signing key in authorized_keys form ("ssh-ed25519 AAAA...").
	PublicKey string `json:"public_key"`
	// Signature is the ssh.Signature over Statement.Bytes(), in SSH wire form.
	Signature []byte `json:"signature"`
}

// Sign signs st with signer. RSA keys sign with rsa-sha2-256: SHA-1 (ssh-rsa) signatures are refused.
func Sign(st Statement, signer ssh.Signer) (Proof, error) {
	if err := st.Check(); err != nil {
		return Proof{}, fmt.Errorf("sign: %w", err)
	}
	if signer == nil {
		return Proof{}, errors.New("sign: no signer: use AgentSigner or FileSigner")
	}
	key := signer.PublicKey()
	if err := checkKey(key); err != nil {
		return Proof{}, fmt.Errorf("sign with %s: %w", Fingerprint(key), err)
	}
	sig, err := signWithSHA2(signer, st.Bytes())
	if err != nil {
		return Proof{}, fmt.Errorf("sign with %s: %w", Fingerprint(key), err)
	}
	return Proof{Statement: st, PublicKey: MarshalPublicKey(key), Signature: ssh.Marshal(sig)}, nil
}

// signWithSHA2 signs data, asking RSA signers for rsa-sha2-256 since their default is SHA-1.
func signWithSHA2(signer ssh.Signer, data []byte) (*ssh.Signature, error) {
	if signer.PublicKey().Type() != ssh.KeyAlgoRSA {
		return signer.Sign(rand.Reader, data)
	}
	as, ok := signer.(ssh.AlgorithmSigner)
	if !ok {
		return nil, errors.New("this RSA signer can only sign with SHA-1, which proofs refuse: use an ed25519 key")
	}
	return as.SignWithAlgorithm(rand.Reader, data, ssh.KeyAlgoRSASHA256)
}

// Key parses the embedded public key.
func (p Proof) Key() (ssh.PublicKey, error) {
	key, err := ParsePublicKey(p.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("%w: public_key: %w", ErrMalformed, err)
	}
	return key, nil
}

// Verify checks, in this order, that the statement is well formed, that Signature is the embedded key's signature
// over it, that trusted accepts the key, and that Time is at most maxAge (MaxAge when 0 or less) before now and at most
// MaxClockSkew after it. It reads no clock and does no I/O: pass workflow.Now in a workflow.
func (p Proof) Verify(trusted func(ssh.PublicKey) bool, now time.Time, maxAge time.Duration) error {
	if err := p.Check(); err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	key, err := p.Key()
	if err != nil {
		return err
	}
	var sig ssh.Signature
	if err := ssh.Unmarshal(p.Signature, &sig); err != nil {
		return fmt.Errorf("%w: signature: not an SSH signature: %w", ErrMalformed, err)
	}
	if sig.Format == ssh.KeyAlgoRSA {
		return fmt.Errorf("%w: an RSA signature with SHA-1 (ssh-rsa): sign with rsa-sha2-256", ErrBadSignature)
	}
	if err := key.Verify(p.Bytes(), &sig); err != nil {
		return fmt.Errorf("%w: the statement was not signed by %s as it stands (changed after signing?): %w",
			ErrBadSignature, Fingerprint(key), err)
	}
	if trusted == nil || !trusted(key) {
		fix := fmt.Sprintf("sign with one of %s's sshKeys in the plan's approval.people", p.Approver)
		if p.Via == ViaSlack {
			fix = "the Slack front door must sign with a key the workers trust"
		}
		return fmt.Errorf("%w: %s is not trusted for %s via %s: %s", ErrUntrustedKey, Fingerprint(key), p.Approver, p.Via, fix)
	}
	if maxAge <= 0 {
		maxAge = MaxAge
	}
	if age := now.Sub(p.Time); age > maxAge {
		return fmt.Errorf("%w: signed at %s, %s before %s, more than the %s allowed: decide again",
			ErrExpired, p.Time.UTC().Format(time.RFC3339), age.Round(time.Second), now.UTC().Format(time.RFC3339), maxAge)
	}
	if ahead := p.Time.Sub(now); ahead > MaxClockSkew {
		return fmt.Errorf("%w: signed at %s, %s after %s, more than the %s of clock skew allowed: fix the signer's clock",
			ErrNotYetValid, p.Time.UTC().Format(time.RFC3339), ahead.Round(time.Second), now.UTC().Format(time.RFC3339), MaxClockSkew)
	}
	return nil
}

// ID identifies this exact proof: a hash of the signed bytes, the key and the signature. Used as the Temporal
// Update ID, a proof sent twice is one update, not two votes.
func (p Proof) ID() string {
	h := sha256.New()
	for _, part := range [][]byte{p.Bytes(), []byte(p.PublicKey), p.Signature} {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(part)))) // lengths keep the parts apart
		h.Write(part)
	}
	return "proof-" + hex.EncodeToString(h.Sum(nil))
}
