// Package clienttls builds the TLS settings of a client from PEM files: the CA bundle that verifies the server,
// and a client certificate and key that are read again whenever they change on disk, so short-lived certificates
// can be rotated without a restart. Every error names the setting (flag or environment variable) that gave the
// file, and the fix. The orchestrator (package endpoints) and services that import package follow share it.
package clienttls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"time"
)

// File is a PEM file and the setting that named it, e.g. {Path: "/etc/tls/etcd.crt", Setting: "--etcd-cert"}.
type File struct {
	Path    string
	Setting string
}

// Files are the PEM files of one TLS client. An empty Path means the file is not used.
type Files struct {
	// CA verifies the server's certificate; without it the system's roots do.
	CA File
	// Cert and Key are the client certificate presented to servers that ask for one (mutual TLS). Give both or neither.
	Cert, Key File
	// ServerName is the name the server's certificate must hold, when it differs from the host dialed;
	// ServerNameSetting is the setting that gives it, named when the server's certificate does not match.
	ServerName, ServerNameSetting string
}

// HasClientCert says whether a client certificate is configured.
func (f Files) HasClientCert() bool { return f.Cert.Path != "" }

// Config reads the files and returns a client tls.Config (TLS 1.2 or newer). The client certificate is checked now
// (readable, matching its key, valid today) and then re-read at a handshake after either file changed.
func (f Files) Config() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: f.ServerName}
	var errs []error
	if f.CA.Path != "" {
		pool, err := loadCA(f.CA)
		errs = append(errs, err)
		cfg.RootCAs = pool
	}
	switch {
	case f.Cert.Path != "" && f.Key.Path == "":
		errs = append(errs, fmt.Errorf("%s is set but %s is not: give the client certificate's key too", f.Cert.Setting, f.Key.Setting))
	case f.Cert.Path == "" && f.Key.Path != "":
		errs = append(errs, fmt.Errorf("%s is set but %s is not: give the client certificate too", f.Key.Setting, f.Cert.Setting))
	case f.Cert.Path != "":
		r, err := newCertReloader(f.Cert, f.Key, time.Now())
		if err != nil {
			errs = append(errs, err)
		} else {
			cfg.GetClientCertificate = r.getClientCertificate
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return cfg, nil
}

// loadCA reads a PEM bundle of CA certificates.
func loadCA(f File) (*x509.CertPool, error) {
	b, err := os.ReadFile(f.Path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: mount the CA bundle there or fix the path", f.Setting, f.Path, unwrapPathError(err))
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, fmt.Errorf("%s %s: no PEM certificate in it: give the CA bundle (-----BEGIN CERTIFICATE-----)", f.Setting, f.Path)
	}
	return pool, nil
}

// unwrapPathError drops the *PathError's repetition of the path, which the caller's message already names.
func unwrapPathError(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
