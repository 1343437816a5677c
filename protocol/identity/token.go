package identity

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Token format constants; the package documentation describes the format.
const (
	// TokenVersion is the first dot-separated part of every token.
	TokenVersion = "vigil1"
	// TokenIDLen is the length of the token ID (5 random bytes in base32).
	TokenIDLen = 8
	// TokenSecretLen is the length of the secret (20 random bytes in base32).
	TokenSecretLen = 32

	tokenIDBytes     = 5
	tokenSecretBytes = 20
	tokenParts       = 4
)

// ErrMalformedToken is wrapped by every error [ParseToken] returns; their
// text starts with "malformed token: ".
var ErrMalformedToken = errors.New("malformed token")

// lowerBase32 is RFC 4648 base32 with the lowercase alphabet and no padding.
var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// Token is a parsed enrollment token. Its String form contains the secret:
// show [Token.Redacted] in logs and messages instead.
type Token struct {
	ID     string // 8 lowercase base32 characters; names the token, not secret
	Secret string // 32 lowercase base32 characters; the bearer secret
	CAPin  string // 64 lowercase hex characters; see Fingerprint
}

// NewToken returns a fresh token pinning the CA with fingerprint caPin, with
// its ID and secret read from rand (normally crypto/rand.Reader).
func NewToken(rand io.Reader, caPin string) (Token, error) {
	if err := ValidatePin(caPin); err != nil {
		return Token{}, fmt.Errorf("new token: %w", err)
	}
	var b [tokenIDBytes + tokenSecretBytes]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return Token{}, fmt.Errorf("new token: read random bytes: %w", err)
	}
	return Token{
		ID:     lowerBase32.EncodeToString(b[:tokenIDBytes]),
		Secret: lowerBase32.EncodeToString(b[tokenIDBytes:]),
		CAPin:  caPin,
	}, nil
}

// String returns the token in its wire form "vigil1.<id>.<secret>.<pin>".
// The result is a credential.
func (t Token) String() string {
	return TokenVersion + "." + t.ID + "." + t.Secret + "." + t.CAPin
}

// Redacted returns the token with its secret replaced, safe to log.
func (t Token) Redacted() string {
	return TokenVersion + "." + t.ID + ".<redacted>." + t.CAPin
}

// SecretHash returns the lowercase hex SHA-256 of "<id>.<secret>": the value
// the hub stores for this token in place of the secret.
func (t Token) SecretHash() string {
	sum := sha256.Sum256([]byte(t.ID + "." + t.Secret))
	return hex.EncodeToString(sum[:])
}

// MatchesHash reports, in constant time, whether t's secret hashes to stored
// (a value previously returned by [Token.SecretHash]).
func (t Token) MatchesHash(stored string) bool {
	return ConstantTimeEqual(t.SecretHash(), stored)
}

// ConstantTimeEqual reports whether a and b are equal, taking time that
// depends only on their lengths, not on their contents. Use it to compare
// secrets and secret hashes.
func ConstantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}

// ParseToken parses a token in the form "vigil1.<id>.<secret>.<pin>".
// Leading and trailing white space is ignored. Every error wraps
// [ErrMalformedToken] and never contains the id, secret or pin given.
func ParseToken(s string) (Token, error) {
	s = strings.TrimSpace(s)
	version, _, _ := strings.Cut(s, ".")
	if version != TokenVersion {
		if isVersionLike(version) {
			return Token{}, fmt.Errorf("%w: unsupported token version %q, this build reads %q", ErrMalformedToken, version, TokenVersion)
		}
		return Token{}, fmt.Errorf("%w: missing %q prefix", ErrMalformedToken, TokenVersion+".")
	}
	parts := strings.Split(s, ".")
	if len(parts) != tokenParts {
		return Token{}, fmt.Errorf("%w: want %d dot-separated parts (vigil1.<id>.<secret>.<pin>), got %d",
			ErrMalformedToken, tokenParts, len(parts))
	}
	t := Token{ID: parts[1], Secret: parts[2], CAPin: parts[3]}
	if len(t.ID) != TokenIDLen || !isLowerBase32(t.ID) {
		return Token{}, fmt.Errorf("%w: id must be %d lowercase base32 characters [a-z2-7]", ErrMalformedToken, TokenIDLen)
	}
	if len(t.Secret) != TokenSecretLen || !isLowerBase32(t.Secret) {
		return Token{}, fmt.Errorf("%w: secret must be %d lowercase base32 characters [a-z2-7]", ErrMalformedToken, TokenSecretLen)
	}
	if err := ValidatePin(t.CAPin); err != nil {
		return Token{}, fmt.Errorf("%w: %w", ErrMalformedToken, err)
	}
	return t, nil
}

// isVersionLike reports whether s looks like "vigil<digits>", a token of
// another format version, which is safe to echo in an error.
func isVersionLike(s string) bool {
	rest, ok := strings.CutPrefix(s, "vigil")
	if !ok || rest == "" || len(rest) > 4 {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] < '0' || rest[i] > '9' {
			return false
		}
	}
	return true
}

func isLowerBase32(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}
