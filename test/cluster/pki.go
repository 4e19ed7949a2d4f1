package cluster

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki is the set of credentials of one local cluster, all generated here (no
// openssl): a CA, the API server's serving certificate signed by it, the key
// pair that signs and verifies service-account tokens, and the bearer token
// of the one admin user every component and client uses.
type pki struct {
	CACert         string // PEM
	APIServerCert  string
	APIServerKey   string
	ServiceAcctKey string // private key: signs tokens (apiserver, kube-controller-manager)
	ServiceAcctPub string // public key: verifies them (apiserver)
	TokenFile      string // --token-auth-file: "token,user,uid,groups"
	AdminToken     string
}

// generatePKI writes the credentials into dir and returns their paths.
func generatePKI(dir string) (pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return pki{}, fmt.Errorf("create pki dir: %w", err)
	}
	p := pki{
		CACert:         filepath.Join(dir, "ca.crt"),
		APIServerCert:  filepath.Join(dir, "apiserver.crt"),
		APIServerKey:   filepath.Join(dir, "apiserver.key"),
		ServiceAcctKey: filepath.Join(dir, "sa.key"),
		ServiceAcctPub: filepath.Join(dir, "sa.pub"),
		TokenFile:      filepath.Join(dir, "tokens.csv"),
	}
	now := time.Now()
	notAfter := now.Add(10 * 365 * 24 * time.Hour)

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return pki{}, fmt.Errorf("generate CA key: %w", err)
	}
	caTemplate := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "istio-canary-local-ca"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, &caKey.PublicKey, caKey)
	if err != nil {
		return pki{}, fmt.Errorf("sign CA certificate: %w", err)
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return pki{}, fmt.Errorf("parse CA certificate: %w", err)
	}

	serverKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return pki{}, fmt.Errorf("generate apiserver key: %w", err)
	}
	serverTemplate := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "kube-apiserver"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		// 10.0.0.1 is the first address of --service-cluster-ip-range: the
		// in-cluster "kubernetes" Service.
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.0.0.1")},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
	}
	serverDER, err := x509.CreateCertificate(rand.Reader, serverTemplate, caCert, &serverKey.PublicKey, caKey)
	if err != nil {
		return pki{}, fmt.Errorf("sign apiserver certificate: %w", err)
	}

	saKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return pki{}, fmt.Errorf("generate service-account key: %w", err)
	}

	token := make([]byte, 16)
	if _, err := rand.Read(token); err != nil {
		return pki{}, fmt.Errorf("generate admin token: %w", err)
	}
	p.AdminToken = hex.EncodeToString(token)

	files := []struct {
		path string
		data func() ([]byte, error)
	}{
		{p.CACert, func() ([]byte, error) { return pemBlock("CERTIFICATE", caDER), nil }},
		{p.APIServerCert, func() ([]byte, error) { return pemBlock("CERTIFICATE", serverDER), nil }},
		{p.APIServerKey, func() ([]byte, error) { return privateKeyPEM(serverKey) }},
		{p.ServiceAcctKey, func() ([]byte, error) { return privateKeyPEM(saKey) }},
		{p.ServiceAcctPub, func() ([]byte, error) { return publicKeyPEM(saKey.Public()) }},
		// system:masters makes the admin user cluster-admin without any RBAC objects.
		{p.TokenFile, func() ([]byte, error) { return []byte(p.AdminToken + ",admin,admin,system:masters\n"), nil }},
	}
	for _, f := range files {
		data, err := f.data()
		if err != nil {
			return pki{}, fmt.Errorf("encode %s: %w", filepath.Base(f.path), err)
		}
		if err := os.WriteFile(f.path, data, 0o600); err != nil {
			return pki{}, fmt.Errorf("write %s: %w", filepath.Base(f.path), err)
		}
	}
	return p, nil
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}

func privateKeyPEM(key *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, err
	}
	return pemBlock("EC PRIVATE KEY", der), nil
}

func publicKeyPEM(key crypto.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(key)
	if err != nil {
		return nil, err
	}
	return pemBlock("PUBLIC KEY", der), nil
}
