package main

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/crypto/ssh"
	"golang.org/x/term"

	"github.com/failover/failover/plan"
	"github.com/failover/failover/proof"
)

// findSigner finds the key to sign a decision with: a key in the ssh-agent (SSH_AUTH_SOCK) that belongs to a
// person in the plan, the agent's copy of --key FILE, then --key FILE itself (asking for its passphrase on the
// terminal if it is encrypted).
func findSigner(a plan.Approval, keyFile string) (ssh.Signer, error) {
	var errs []error
	if sock := os.Getenv("SSH_AUTH_SOCK"); sock != "" {
		want := ""
		if keyFile != "" {
			want = keyFile + ".pub"
		}
		s, err := proof.AgentSigner(sock, want)
		if err == nil && isPersons(a, s) {
			return s, nil
		}
		if err != nil {
			errs = append(errs, err)
		} else {
			errs = append(errs, fmt.Errorf("the agent's key %s is nobody's in the plan's approval.people", proof.Fingerprint(s.PublicKey())))
		}
	}
	if keyFile == "" {
		return nil, errors.Join(append(errs, errors.New("sign with your SSH key: add it to the ssh-agent (ssh-add) or pass --key FILE; "+
			"it must be one of your sshKeys in the plan's approval.people"))...)
	}
	s, err := proof.FileSigner(keyFile, passphrase(keyFile))
	if err != nil {
		return nil, err
	}
	if !isPersons(a, s) {
		return nil, fmt.Errorf("--key %s: its public key %s is nobody's in the plan's approval.people: add it to your sshKeys "+
			"(a plan change), or sign with a key listed there", keyFile, proof.Fingerprint(s.PublicKey()))
	}
	return s, nil
}

// isPersons reports whether the signer's key belongs to a person in the plan.
func isPersons(a plan.Approval, s ssh.Signer) bool {
	_, ok := a.PersonByKey(s.PublicKey())
	return ok
}

// passphrase asks for an encrypted key's passphrase on the terminal; without one, nil (FileSigner then says to
// use the agent).
func passphrase(keyFile string) func() ([]byte, error) {
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil
	}
	return func() ([]byte, error) {
		fmt.Fprintf(os.Stderr, "Passphrase for %s: ", keyFile)
		defer fmt.Fprintln(os.Stderr)
		return term.ReadPassword(fd)
	}
}
