package proof

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// AgentSigner returns a signer for one key held by the SSH agent listening on socket (usually $SSH_AUTH_SOCK).
// want picks the key: "" for the first key a proof accepts, a fingerprint ("SHA256:..."), or the path of a public
// key file ("~/.ssh/id_ed25519.pub", already expanded). The signer dials the agent for each signature, so there
// is nothing to close.
func AgentSigner(socket, want string) (ssh.Signer, error) {
	if socket == "" {
		return nil, errors.New("no SSH agent: set SSH_AUTH_SOCK or pass --key FILE")
	}
	conn, err := dialAgent(socket)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	listed, err := agent.NewClient(conn).List()
	if err != nil {
		return nil, fmt.Errorf("SSH agent at %s: list keys: %w", socket, err)
	}
	if len(listed) == 0 {
		return nil, fmt.Errorf("the SSH agent at %s holds no keys: add yours (ssh-add ~/.ssh/id_ed25519) or pass --key FILE", socket)
	}
	wantFP, err := wantedFingerprint(want)
	if err != nil {
		return nil, err
	}
	var seen []string
	for _, l := range listed {
		key, err := ssh.ParsePublicKey(l.Blob)
		if err != nil || checkKey(key) != nil {
			seen = append(seen, l.Format+" "+l.Comment+" (not accepted)")
			continue
		}
		fp := Fingerprint(key)
		if wantFP == "" || fp == wantFP {
			return agentSigner{socket: socket, key: key}, nil
		}
		seen = append(seen, fp+" "+l.Comment)
	}
	if wantFP == "" {
		return nil, fmt.Errorf("the SSH agent at %s holds no key a proof accepts (%s): add an ed25519, ECDSA or RSA "+
			"(%d+ bits) key with ssh-add, or pass --key FILE", socket, strings.Join(seen, "; "), MinRSABits)
	}
	return nil, fmt.Errorf("the SSH agent at %s does not hold %s (it holds %s): ssh-add that key, or name one it holds",
		socket, wantFP, strings.Join(seen, "; "))
}

// wantedFingerprint turns AgentSigner's want into a fingerprint, reading the public key file it names.
func wantedFingerprint(want string) (string, error) {
	if want == "" || strings.HasPrefix(want, "SHA256:") {
		return want, nil
	}
	b, err := os.ReadFile(want)
	if err != nil {
		return "", fmt.Errorf("read public key %s: %w: name a .pub file or a fingerprint (SHA256:...)", want, err)
	}
	key, err := ParsePublicKey(strings.TrimSpace(string(b)))
	if err != nil {
		return "", fmt.Errorf("public key %s: %w", want, err)
	}
	return Fingerprint(key), nil
}

func dialAgent(socket string) (net.Conn, error) {
	conn, err := net.Dial("unix", socket)
	if err != nil {
		return nil, fmt.Errorf("no SSH agent at %s (%w): start one (eval $(ssh-agent); ssh-add), fix SSH_AUTH_SOCK, or pass --key FILE", socket, err)
	}
	return conn, nil
}

// agentSigner signs with one key held by the agent at socket.
type agentSigner struct {
	socket string
	key    ssh.PublicKey
}

func (s agentSigner) PublicKey() ssh.PublicKey { return s.key }

func (s agentSigner) Sign(rand io.Reader, data []byte) (*ssh.Signature, error) {
	return s.SignWithAlgorithm(rand, data, "")
}

// SignWithAlgorithm asks the agent to sign; for RSA keys, algorithm picks rsa-sha2-256 or rsa-sha2-512.
func (s agentSigner) SignWithAlgorithm(_ io.Reader, data []byte, algorithm string) (*ssh.Signature, error) {
	var flags agent.SignatureFlags
	switch algorithm {
	case ssh.KeyAlgoRSASHA256:
		flags = agent.SignatureFlagRsaSha256
	case ssh.KeyAlgoRSASHA512:
		flags = agent.SignatureFlagRsaSha512
	}
	conn, err := dialAgent(s.socket)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	sig, err := agent.NewClient(conn).SignWithFlags(s.key, data, flags)
	if err != nil {
		return nil, fmt.Errorf("SSH agent at %s: sign with %s: %w (a hardware key may need a touch)", s.socket, Fingerprint(s.key), err)
	}
	return sig, nil
}
