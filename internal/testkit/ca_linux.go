package testkit

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Authority is a certificate authority made for one test: an ECDSA P-256
// root that nothing on the machine trusts. A client trusts a server's
// certificate only if it is given this root (a certs.d directory, a CA file,
// Pool), which is what registry TLS tests need: "trusted" must mean "trusted
// because of this test's configuration", never because of the host's store.
type Authority struct {
	Root *x509.Certificate
	Key  *ecdsa.PrivateKey
	File string // the root certificate, PEM, in the test's temporary directory
	dir  string
}

// CA makes a new root certificate authority, valid for a day.
func CA(t testing.TB) *Authority {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber:          serial(t),
		Subject:               pkix.Name{CommonName: "minibox test CA", Organization: []string{"minibox tests"}},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	cert, err := x509.ParseCertificate(der)
	require.NoError(t, err)
	dir := t.TempDir()
	ca := &Authority{Root: cert, Key: key, File: filepath.Join(dir, "ca.crt"), dir: dir}
	require.NoError(t, os.WriteFile(ca.File, pemBlock("CERTIFICATE", der), 0o644))
	return ca
}

// Pool is a certificate pool holding only this root: for a Go client's
// tls.Config.RootCAs.
func (ca *Authority) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(ca.Root)
	return p
}

// Cert issues a server certificate for hosts (IP addresses become IP SANs,
// other names DNS SANs) and writes it and its key as PEM files; it returns
// their paths.
func (ca *Authority) Cert(t testing.TB, hosts ...string) (certFile, keyFile string) {
	t.Helper()
	require.NotEmpty(t, hosts, "a certificate needs at least one host")
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Root, &key.PublicKey, ca.Key)
	require.NoError(t, err)
	keyDER, err := x509.MarshalECPrivateKey(key)
	require.NoError(t, err)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	require.NoError(t, os.WriteFile(certFile, pemBlock("CERTIFICATE", der), 0o644))
	require.NoError(t, os.WriteFile(keyFile, pemBlock("EC PRIVATE KEY", keyDER), 0o600))
	return certFile, keyFile
}

// CertsDir lays out Docker's per-registry trust directory,
// DIR/HOST:PORT/ca.crt (what /etc/docker/certs.d holds), and returns DIR.
// skopeo's --cert-dir and containers' certs.d take DIR/HOST:PORT itself.
func (ca *Authority) CertsDir(t testing.TB, hostport string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "certs.d")
	require.NoError(t, os.MkdirAll(filepath.Join(dir, hostport), 0o755))
	pemBytes, err := os.ReadFile(ca.File)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, hostport, "ca.crt"), pemBytes, 0o644))
	return dir
}

func serial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	require.NoError(t, err)
	return n
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}
