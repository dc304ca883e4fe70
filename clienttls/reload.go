package clienttls

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// certReloader holds a client certificate and reads it again from its files when either changed (size or
// modification time; a Kubernetes Secret update swaps a symlink, which changes both as seen through it).
type certReloader struct {
	cert, key File

	mu      sync.Mutex
	current *tls.Certificate
	stamp   [2]fileStamp // cert, key as last loaded
}

// fileStamp is what tells a rewritten file from the one loaded.
type fileStamp struct {
	size    int64
	modTime time.Time
}

func newCertReloader(cert, key File, now time.Time) (*certReloader, error) {
	r := &certReloader{cert: cert, key: key}
	stamp, err := r.stat()
	if err != nil {
		return nil, err
	}
	c, err := loadPair(cert, key, now)
	if err != nil {
		return nil, err
	}
	r.current, r.stamp = c, stamp
	return r, nil
}

// getClientCertificate is tls.Config.GetClientCertificate: the certificate on disk now. When the files changed but
// do not load (half-way through a rotation: new certificate, old key), it keeps the previous certificate and tries
// again at the next handshake.
func (r *certReloader) getClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	stamp, err := r.stat()
	if err != nil || stamp == r.stamp {
		if err != nil {
			slog.Warn("client certificate files unreadable; presenting the one loaded before", "cert", r.cert.Path, "err", err)
		}
		return r.current, nil
	}
	c, err := loadPair(r.cert, r.key, time.Now())
	if err != nil {
		slog.Warn("client certificate changed on disk but does not load; presenting the one loaded before", "cert", r.cert.Path, "err", err)
		return r.current, nil
	}
	slog.Info("client certificate reloaded", "cert", r.cert.Path, "not_after", c.Leaf.NotAfter)
	r.current, r.stamp = c, stamp
	return r.current, nil
}

func (r *certReloader) stat() ([2]fileStamp, error) {
	var out [2]fileStamp
	for i, f := range []File{r.cert, r.key} {
		st, err := os.Stat(f.Path)
		if err != nil {
			return out, fmt.Errorf("%s %s: %w: mount the file there or fix the path", f.Setting, f.Path, unwrapPathError(err))
		}
		out[i] = fileStamp{size: st.Size(), modTime: st.ModTime()}
	}
	return out, nil
}

// loadPair reads a certificate and its key and checks they belong together and that the certificate is valid at now.
func loadPair(cert, key File, now time.Time) (*tls.Certificate, error) {
	certPEM, err := os.ReadFile(cert.Path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: mount the client certificate there or fix the path", cert.Setting, cert.Path, unwrapPathError(err))
	}
	keyPEM, err := os.ReadFile(key.Path)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w: mount the client certificate's key there or fix the path", key.Setting, key.Path, unwrapPathError(err))
	}
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("%s %s with %s %s: %w: give a PEM certificate and the private key it was issued for",
			cert.Setting, cert.Path, key.Setting, key.Path, err)
	}
	leaf := c.Leaf
	if leaf == nil { // X509KeyPair fills Leaf since Go 1.23; parse when it did not
		if leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, fmt.Errorf("%s %s: %w", cert.Setting, cert.Path, err)
		}
		c.Leaf = leaf
	}
	switch {
	case now.After(leaf.NotAfter):
		return nil, fmt.Errorf("%s %s: certificate %q expired at %s: issue a new one (and its key)",
			cert.Setting, cert.Path, leaf.Subject.CommonName, leaf.NotAfter.UTC().Format(time.RFC3339))
	case now.Before(leaf.NotBefore):
		return nil, fmt.Errorf("%s %s: certificate %q is not valid before %s: check this machine's clock, or wait",
			cert.Setting, cert.Path, leaf.Subject.CommonName, leaf.NotBefore.UTC().Format(time.RFC3339))
	}
	return &c, nil
}
