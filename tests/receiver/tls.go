// Throwaway PKI for the TLS tests: a CA, a server certificate for 127.0.0.1,
// ::1 and localhost, a client certificate for mTLS, and a client certificate
// from an unrelated CA that the server must refuse. All ECDSA P-256.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

type keyPair struct {
	cert *x509.Certificate
	der  []byte
	key  *ecdsa.PrivateKey
}

func newKeyPair(tmpl *x509.Certificate, parent *keyPair) (*keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(7 * 24 * time.Hour)
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &keyPair{cert: cert, der: der, key: key}, nil
}

func newCA(cn string) (*keyPair, error) {
	return newKeyPair(&x509.Certificate{
		Subject:               pkix.Name{CommonName: cn},
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}, nil)
}

func newLeaf(ca *keyPair, cn string, usage x509.ExtKeyUsage, server bool) (*keyPair, error) {
	t := &x509.Certificate{
		Subject:     pkix.Name{CommonName: cn},
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{usage},
	}
	if server {
		t.DNSNames = []string{"localhost"}
		t.IPAddresses = []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("::1")}
	}
	return newKeyPair(t, ca)
}

func (kp *keyPair) write(dir, name string) error {
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: kp.der})
	if err := writeAtomic(filepath.Join(dir, name+".pem"), certPEM); err != nil {
		return err
	}
	keyDER, err := x509.MarshalECPrivateKey(kp.key)
	if err != nil {
		return err
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER})
	return writeAtomic(filepath.Join(dir, name+"-key.pem"), keyPEM)
}

// makeTLS writes DIR/{ca,server,client,other-client}.pem (+ -key.pem) and
// returns the server's TLS config; mtls makes a CA-signed client cert a must.
func makeTLS(dir string, mtls bool) (*tls.Config, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	ca, err := newCA("bpprof test CA")
	if err != nil {
		return nil, err
	}
	srv, err := newLeaf(ca, "localhost", x509.ExtKeyUsageServerAuth, true)
	if err != nil {
		return nil, err
	}
	cli, err := newLeaf(ca, "bpprof-test-client", x509.ExtKeyUsageClientAuth, false)
	if err != nil {
		return nil, err
	}
	otherCA, err := newCA("unrelated CA")
	if err != nil {
		return nil, err
	}
	other, err := newLeaf(otherCA, "untrusted-client", x509.ExtKeyUsageClientAuth, false)
	if err != nil {
		return nil, err
	}
	for name, kp := range map[string]*keyPair{"ca": ca, "server": srv, "client": cli, "other-client": other} {
		if err := kp.write(dir, name); err != nil {
			return nil, err
		}
	}

	pool := x509.NewCertPool()
	pool.AddCert(ca.cert)
	cfg := &tls.Config{
		MinVersion: tls.VersionTLS12,
		Certificates: []tls.Certificate{{
			Certificate: [][]byte{srv.der, ca.der},
			PrivateKey:  srv.key,
			Leaf:        srv.cert,
		}},
	}
	if mtls {
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
		cfg.ClientCAs = pool
	}
	return cfg, nil
}
