package identity

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

var testPin = strings.Repeat("ab", 32)

func TestToken_RoundTrip(t *testing.T) {
	tok, err := NewToken(rand.Reader, testPin)
	if err != nil {
		t.Fatal(err)
	}
	if len(tok.ID) != TokenIDLen || len(tok.Secret) != TokenSecretLen || tok.CAPin != testPin {
		t.Fatalf("unexpected token shape: id %d, secret %d, pin %q", len(tok.ID), len(tok.Secret), tok.CAPin)
	}
	s := tok.String()
	want := "vigil1." + tok.ID + "." + tok.Secret + "." + testPin
	if s != want {
		t.Fatalf("String() = %q, want %q", s, want)
	}
	got, err := ParseToken(s)
	if err != nil {
		t.Fatal(err)
	}
	if got != tok {
		t.Fatalf("ParseToken(String()) = %+v, want %+v", got, tok)
	}
	if got, err := ParseToken("  " + s + "\n"); err != nil || got != tok {
		t.Fatalf("surrounding white space: %+v, %v", got, err)
	}
}

func TestToken_NewTokenDeterministicEncoding(t *testing.T) {
	// 5 bytes of 0x00 then 20 bytes of 0xff.
	src := append(make([]byte, 5), bytes.Repeat([]byte{0xff}, 20)...)
	tok, err := NewToken(bytes.NewReader(src), testPin)
	if err != nil {
		t.Fatal(err)
	}
	if tok.ID != "aaaaaaaa" || tok.Secret != strings.Repeat("7", 32) {
		t.Fatalf("got id %q secret %q", tok.ID, tok.Secret)
	}
}

func TestToken_NewTokenErrors(t *testing.T) {
	if _, err := NewToken(rand.Reader, "ABCD"); err == nil {
		t.Fatal("bad pin accepted")
	}
	if _, err := NewToken(rand.Reader, strings.Repeat("AB", 32)); err == nil {
		t.Fatal("uppercase pin accepted")
	}
	if _, err := NewToken(bytes.NewReader(make([]byte, 10)), testPin); err == nil {
		t.Fatal("short random source accepted")
	}
}

func TestToken_ParseTokenMalformed(t *testing.T) {
	id, secret := "abcdefgh", strings.Repeat("k", 32)
	cases := []struct {
		name, in, wantSub string
	}{
		{"empty", "", `missing "vigil1." prefix`},
		{"no prefix", "foo." + id + "." + secret + "." + testPin, `missing "vigil1." prefix`},
		{"other version", "vigil2." + id + "." + secret + "." + testPin, `unsupported token version "vigil2"`},
		{"prefix glued", "vigil1" + id + "." + secret + "." + testPin, `missing "vigil1." prefix`},
		{"too few parts", "vigil1." + id + "." + secret, "want 4 dot-separated parts"},
		{"too many parts", "vigil1." + id + "." + secret + "." + testPin + ".x", "got 5"},
		{"id short", "vigil1.abc." + secret + "." + testPin, "id must be 8 lowercase base32"},
		{"id uppercase", "vigil1.ABCDEFGH." + secret + "." + testPin, "id must be 8 lowercase base32"},
		{"id bad char", "vigil1.abcdefg1." + secret + "." + testPin, "id must be 8 lowercase base32"},
		{"secret short", "vigil1." + id + ".abc." + testPin, "secret must be 32 lowercase base32"},
		{"secret bad char", "vigil1." + id + "." + strings.Repeat("8", 32) + "." + testPin, "secret must be 32 lowercase base32"},
		{"pin short", "vigil1." + id + "." + secret + ".abcd", "CA pin must be 64 hex characters"},
		{"pin uppercase", "vigil1." + id + "." + secret + "." + strings.Repeat("AB", 32), "lowercase hex"},
		{"pin not hex", "vigil1." + id + "." + secret + "." + strings.Repeat("zz", 32), "lowercase hex"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseToken(tc.in)
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrMalformedToken) {
				t.Errorf("error %v does not wrap ErrMalformedToken", err)
			}
			if !strings.HasPrefix(err.Error(), "malformed token: ") {
				t.Errorf("error %q lacks the malformed token prefix", err)
			}
			if !strings.Contains(err.Error(), tc.wantSub) {
				t.Errorf("error %q does not contain %q", err, tc.wantSub)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error %q echoes the secret", err)
			}
		})
	}
}

func TestToken_SecretHash(t *testing.T) {
	tok := Token{ID: "abcdefgh", Secret: strings.Repeat("k", 32), CAPin: testPin}
	sum := sha256.Sum256([]byte("abcdefgh." + strings.Repeat("k", 32)))
	want := hex.EncodeToString(sum[:])
	if got := tok.SecretHash(); got != want {
		t.Fatalf("SecretHash() = %s, want %s", got, want)
	}
	if !tok.MatchesHash(want) {
		t.Fatal("MatchesHash(own hash) = false")
	}
	other := tok
	other.Secret = strings.Repeat("j", 32)
	if other.MatchesHash(want) {
		t.Fatal("MatchesHash accepted a different secret")
	}
	if strings.Contains(tok.Redacted(), tok.Secret) {
		t.Fatal("Redacted() contains the secret")
	}
}

func TestToken_ConstantTimeEqual(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want bool
	}{
		{"", "", true},
		{"abc", "abc", true},
		{"abc", "abd", false},
		{"abc", "abcd", false},
	} {
		if got := ConstantTimeEqual(tc.a, tc.b); got != tc.want {
			t.Errorf("ConstantTimeEqual(%q, %q) = %v", tc.a, tc.b, got)
		}
	}
}
