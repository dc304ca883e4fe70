package plan

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// readCAFiles reads every region's grpc.caFile, relative to dir (the plan file's directory), into grpc.caPEM.
func (p *Plan) readCAFiles(dir string) error {
	var errs []error
	for _, name := range p.RegionNames() {
		g := p.Regions[name].GRPC
		if g == nil || g.CAFile == "" {
			continue
		}
		field := "regions." + name + ".grpc.caFile"
		path := g.CAFile
		if !filepath.IsAbs(path) {
			if dir == "" {
				errs = append(errs, fmt.Errorf("%s: %q is relative to the plan file, and this plan was read without one: "+
					"load it with plan.Load, or give an absolute path", field, g.CAFile))
				continue
			}
			path = filepath.Join(dir, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			errs = append(errs, fmt.Errorf("%s: %s: %w: give the PEM file of the CA that signs the gRPC server's certificate, "+
				"relative to the plan file", field, path, err))
			continue
		}
		if _, err := parseCAPEM(b); err != nil {
			errs = append(errs, fmt.Errorf("%s: %s: %w", field, path, err))
			continue
		}
		g.CAPEM = string(b) // g points into the map's Region: the GRPC pointer is shared
	}
	return errors.Join(errs...)
}

// parseCAPEM parses a PEM bundle of CA certificates: at least one, and every block a valid certificate.
func parseCAPEM(b []byte) (*x509.CertPool, error) {
	pool := x509.NewCertPool()
	n := 0
	for rest := b; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("has a %q PEM block: give only CA certificates (-----BEGIN CERTIFICATE-----), never a key", block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w: give the CA certificate(s) in PEM", n+1, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, errors.New("no PEM certificate in it: give the CA certificate(s) (-----BEGIN CERTIFICATE-----)")
	}
	return pool, nil
}

// CertPool is the pool of CAs the probes trust for this gRPC check: nil means the system roots (no caFile).
func (g GRPCHealth) CertPool() (*x509.CertPool, error) {
	if g.CAPEM == "" {
		return nil, nil
	}
	return parseCAPEM([]byte(g.CAPEM))
}

// grpcCA checks the CA settings of a gRPC health check: a CA only with TLS, and loaded.
func (v *problems) grpcCA(field string, g *GRPCHealth) {
	switch {
	case g.CAFile == "" && g.CAPEM == "":
		return
	case !g.TLS:
		v.add(field+".caFile", "is set but tls is off: set tls: true, or remove caFile")
	case g.CAPEM == "":
		v.add(field+".caFile", "%q was not read: load the plan with plan.Load (it reads the file relative to the plan file)", g.CAFile)
	default:
		if _, err := parseCAPEM([]byte(g.CAPEM)); err != nil {
			v.add(field+".caPEM", "%v", err)
		}
	}
}
