package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/protocol/identity"
)

func mustCA(t *testing.T) (*CA, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ca")
	ca, err := CreateCA(dir, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return ca, dir
}

func mode(t *testing.T, path string) fs.FileMode {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Mode().Perm()
}

func TestCA_CreateLoadCA(t *testing.T) {
	now := time.Now()
	dir := filepath.Join(t.TempDir(), "ca")
	ca, err := CreateCA(dir, now)
	if err != nil {
		t.Fatal(err)
	}
	if m := mode(t, filepath.Join(dir, CAKeyFile)); m != 0o600 {
		t.Errorf("ca.key mode %v, want 0600", m)
	}
	if m := mode(t, filepath.Join(dir, CACertFile)); m != 0o644 {
		t.Errorf("ca.crt mode %v, want 0644", m)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("CA directory mode %v, want 0700", m)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("CA directory holds %d entries, want 2 (temporary files left?)", len(entries))
	}

	c := ca.Cert()
	if !c.IsCA || !c.BasicConstraintsValid || c.MaxPathLen != 0 || !c.MaxPathLenZero {
		t.Errorf("basic constraints: IsCA %v valid %v MaxPathLen %d zero %v", c.IsCA, c.BasicConstraintsValid, c.MaxPathLen, c.MaxPathLenZero)
	}
	if c.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("key usage %v", c.KeyUsage)
	}
	if !strings.HasPrefix(c.Subject.CommonName, "Vigil cluster CA ") || len(c.Subject.CommonName) <= len("Vigil cluster CA ") {
		t.Errorf("CN %q", c.Subject.CommonName)
	}
	if pk, ok := c.PublicKey.(*ecdsa.PublicKey); !ok || pk.Curve != elliptic.P256() {
		t.Errorf("CA key %T, want ECDSA P-256", c.PublicKey)
	}
	if got := c.NotAfter.Sub(now); got < CAValidity-time.Second || got > CAValidity+time.Second {
		t.Errorf("validity %v", got)
	}
	if c.NotBefore.After(now) {
		t.Errorf("NotBefore %v after now", c.NotBefore)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("not self-signed: %v", err)
	}

	keyPEM, _ := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if b, _ := pem.Decode(keyPEM); b == nil || b.Type != "PRIVATE KEY" {
		t.Errorf("ca.key is not a PKCS #8 PEM block")
	}

	loaded, err := LoadCA(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !loaded.Cert().Equal(c) || loaded.Fingerprint() != ca.Fingerprint() || string(loaded.CertPEM()) != string(ca.CertPEM()) {
		t.Fatal("loaded CA differs from created CA")
	}
	if ca.Fingerprint() != identity.Fingerprint(c.Raw) {
		t.Fatal("Fingerprint differs from identity.Fingerprint")
	}
	if _, err := c.Verify(x509.VerifyOptions{Roots: loaded.Pool()}); err != nil {
		t.Fatalf("CA not in its own pool: %v", err)
	}
	// A CA loaded from disk signs certificates that verify.
	if _, _, err := loaded.IssueNode("hub-1", nil, nil, time.Now(), time.Hour); err != nil {
		t.Fatal(err)
	}
}

func TestCA_CreateCARefusesOverwrite(t *testing.T) {
	ca, dir := mustCA(t)
	before, _ := os.ReadFile(filepath.Join(dir, CAKeyFile))
	_, err := CreateCA(dir, time.Now())
	if !errors.Is(err, fs.ErrExist) {
		t.Fatalf("second CreateCA: %v, want fs.ErrExist", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if string(before) != string(after) {
		t.Fatal("CA key was overwritten")
	}
	loaded, err := LoadCA(dir)
	if err != nil || loaded.Fingerprint() != ca.Fingerprint() {
		t.Fatalf("CA changed: %v", err)
	}

	// Either file alone blocks creation too.
	dir2 := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir2, CACertFile), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := CreateCA(dir2, time.Now()); !errors.Is(err, fs.ErrExist) {
		t.Fatalf("existing ca.crt: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir2, CAKeyFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("ca.key written although ca.crt existed")
	}
}

func TestCA_LoadCAErrors(t *testing.T) {
	if _, err := LoadCA(t.TempDir()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("empty dir: %v", err)
	}
	_, dir1 := mustCA(t)
	_, dir2 := mustCA(t)
	// Key of one CA with the certificate of another.
	key2, _ := os.ReadFile(filepath.Join(dir2, CAKeyFile))
	if err := WriteSecretFile(filepath.Join(dir1, CAKeyFile), key2); err != nil {
		t.Fatal(err)
	}
	_, err := LoadCA(dir1)
	if err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Errorf("mismatched key: %v", err)
	}
	if err := WriteSecretFile(filepath.Join(dir1, CAKeyFile), []byte("not a key")); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadCA(dir1); err == nil {
		t.Error("garbage key accepted")
	}
}

func TestCA_DoesNotPrintKey(t *testing.T) {
	ca, dir := mustCA(t)
	keyPEM, _ := os.ReadFile(filepath.Join(dir, CAKeyFile))
	b, _ := pem.Decode(keyPEM)
	k, _ := x509.ParsePKCS8PrivateKey(b.Bytes)
	raw, err := k.(*ecdsa.PrivateKey).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	d := fmt.Sprintf("%x", raw)
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		out := fmt.Sprintf(f, ca)
		if strings.Contains(out, d) || !strings.Contains(out, ca.Fingerprint()) {
			t.Errorf("%s formats as %q", f, out)
		}
	}
}

func TestCA_WriteFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "x.key")
	if err := WriteSecretFile(p, []byte("one")); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, p); m != 0o600 {
		t.Errorf("mode %v", m)
	}
	if err := WriteFile(p, []byte("two"), 0o640); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Errorf("content %q", b)
	}
	if m := mode(t, p); m != 0o640 {
		t.Errorf("mode after overwrite %v", m)
	}
	if err := writeAtomic(p, []byte("three"), 0o600, true); !errors.Is(err, fs.ErrExist) {
		t.Errorf("noClobber: %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "two" {
		t.Errorf("noClobber overwrote: %q", b)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("%d entries, temporary files left behind", len(entries))
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x"), nil, 0o600); err == nil {
		t.Error("write into a missing directory succeeded")
	}
}
