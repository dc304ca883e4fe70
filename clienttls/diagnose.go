package clienttls

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"time"
)

// alertWait is how long Diagnose waits after the handshake for the server to refuse the client certificate (a gRPC
// server that accepts it speaks at once; an HTTP/1.1 one stays silent, so this is the cost of a good check there): in
// TLS 1.3 the server checks it after the client considers the handshake done, and says so in an alert.
const alertWait = 2 * time.Second

// TLS alert codes (RFC 8446 section 6) the server sends when it refuses a client certificate.
const (
	alertHandshakeFailure      = 40
	alertBadCertificate        = 42
	alertUnsupportedCert       = 43
	alertCertificateRevoked    = 44
	alertCertificateExpired    = 45
	alertCertificateUnknown    = 46
	alertUnknownCA             = 48
	alertCertificateRequired   = 116
	alertAccessDenied          = 49
	alertProtocolVersion       = 70
	alertInsufficientSecurity  = 71
	alertNoApplicationProtocol = 120
)

// Diagnose opens one TLS connection to addr with cfg (built from f) and, when TLS is what fails, says why in terms of
// f's settings: the server's certificate is signed by a CA that f.CA does not hold, is not valid for the name
// dialed, or expired; the server wants a client certificate and none is set, or refuses the one set; the server
// does not speak TLS. It returns nil when the handshake succeeds and the server keeps the connection, and when addr
// cannot be reached at all: then TLS is not the problem, and the caller's own error says more.
func Diagnose(ctx context.Context, addr string, cfg *tls.Config, f Files) error {
	probe := cfg.Clone()
	probe.NextProtos = []string{"h2", "http/1.1"} // gRPC servers insist on h2; HTTP/1.1 servers pick the other
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: probe}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return handshakeProblem(err, probe, f)
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(alertWait))
	var one [1]byte
	_, err = conn.Read(one[:])
	if code, ok := remoteAlert(err); ok {
		return alertProblem(code, cfg, f)
	}
	return nil
}

// handshakeProblem explains an error from the TLS handshake; nil when the connection itself failed.
func handshakeProblem(err error, cfg *tls.Config, f Files) error {
	var (
		verr     *tls.CertificateVerificationError
		unknown  x509.UnknownAuthorityError
		hostname x509.HostnameError
		invalid  x509.CertificateInvalidError
		record   tls.RecordHeaderError
		op       *net.OpError
	)
	if code, ok := remoteAlert(err); ok { // TLS 1.2 servers refuse a client certificate inside the handshake
		return alertProblem(code, cfg, f)
	}
	switch {
	case errors.As(err, &unknown):
		if f.CA.Path == "" {
			return fmt.Errorf("the server's certificate is signed by an authority this machine does not trust (%v): "+
				"set %s to the CA bundle that signed it", unknown, f.CA.Setting)
		}
		return fmt.Errorf("the server's certificate is not signed by a CA in %s %s (%v): give the CA bundle that signed it",
			f.CA.Setting, f.CA.Path, unknown)
	case errors.As(err, &hostname):
		return fmt.Errorf("the server's certificate is not valid for %q (%v): dial a name it holds, or set %s to one",
			hostname.Host, hostname, f.serverNameSetting())
	case errors.As(err, &invalid) && invalid.Reason == x509.Expired:
		return fmt.Errorf("the server's certificate expired (%v): renew it on the server, or check this machine's clock", invalid)
	case errors.As(err, &verr):
		return fmt.Errorf("the server's certificate does not verify (%v): check %s", verr, f.CA.Setting)
	case errors.As(err, &record):
		return errors.New("the server does not speak TLS: use a plain-text address (http://) or turn TLS off for it")
	case errors.As(err, &op) && op.Op == "dial":
		return nil // not reachable: not a TLS problem
	}
	return fmt.Errorf("TLS handshake failed (%v): check the server speaks TLS on this port and %s", err, f.CA.Setting)
}

// alertProblem explains an alert the server sent: mostly a refused client certificate.
func alertProblem(code uint8, cfg *tls.Config, f Files) error {
	alert := tls.AlertError(code) // prints the alert's name
	switch code {
	case alertCertificateRequired:
		return fmt.Errorf("the server requires a client certificate (%v): set %s and %s", alert, f.Cert.Setting, f.Key.Setting)
	case alertHandshakeFailure, alertBadCertificate, alertUnsupportedCert, alertCertificateRevoked, alertCertificateExpired,
		alertCertificateUnknown, alertUnknownCA, alertAccessDenied:
		if !f.HasClientCert() {
			return fmt.Errorf("the server refused the connection (%v); it likely requires a client certificate: set %s and %s",
				alert, f.Cert.Setting, f.Key.Setting)
		}
		return fmt.Errorf("the server refused the client certificate %s %s%s (%v): use one issued by a CA the server trusts for "+
			"client authentication, valid today", f.Cert.Setting, f.Cert.Path, describeClientCert(cfg), alert)
	case alertProtocolVersion, alertInsufficientSecurity, alertNoApplicationProtocol:
		return fmt.Errorf("the server refused the TLS parameters (%v): it may need another TLS version or protocol", alert)
	}
	return fmt.Errorf("the server ended the TLS session (%v)", alert)
}

// describeClientCert is " (CN=..., issued by ..., valid until ...)" for the certificate cfg presents now.
func describeClientCert(cfg *tls.Config) string {
	if cfg.GetClientCertificate == nil {
		return ""
	}
	c, err := cfg.GetClientCertificate(&tls.CertificateRequestInfo{})
	if err != nil || c == nil || c.Leaf == nil {
		return ""
	}
	return fmt.Sprintf(" (CN=%s, issued by %s, valid until %s)", c.Leaf.Subject.CommonName,
		c.Leaf.Issuer.CommonName, c.Leaf.NotAfter.UTC().Format(time.RFC3339))
}

func (f Files) serverNameSetting() string {
	if f.ServerNameSetting != "" {
		return f.ServerNameSetting
	}
	return "the server name"
}
