package identity

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"
)

// Organizational unit values that carry the role of a certificate.
const (
	// HubOU is the single OrganizationalUnit of a hub node certificate.
	HubOU = "role:hub"
	// BranchOUPrefix prefixes the branch name in the single
	// OrganizationalUnit of an agent certificate.
	BranchOUPrefix = "branch:"
)

// MaxNameLen is the longest agent ID, node ID or branch name accepted by
// [ValidateName]; 64 is the X.520 upper bound for a CommonName.
const MaxNameLen = 64

// ErrNotAgentCert is wrapped by every error [AgentFromCert] returns.
var ErrNotAgentCert = errors.New("not an agent certificate")

// Agent is the identity carried by a verified agent certificate.
type Agent struct {
	ID     string // Subject CommonName
	Branch string // OrganizationalUnit without the "branch:" prefix
}

// ValidateName reports whether s can be used as an agent ID, a hub node ID
// or a branch name: 1 to [MaxNameLen] characters from [A-Za-z0-9._-],
// starting with a letter or digit. The restriction keeps names safe to use in
// certificate subjects, log lines and file names.
func ValidateName(s string) error {
	if s == "" {
		return errors.New("name is empty")
	}
	if len(s) > MaxNameLen {
		return fmt.Errorf("name is %d bytes long, at most %d allowed", len(s), MaxNameLen)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if i == 0 && !alnum {
			return fmt.Errorf("name %q must start with a letter or digit", s)
		}
		if !alnum && c != '.' && c != '_' && c != '-' {
			return fmt.Errorf("name %q contains a character outside [A-Za-z0-9._-]", s)
		}
	}
	return nil
}

// AgentFromCert returns the agent identity of c. It fails, with an error
// wrapping [ErrNotAgentCert], unless c is a non-CA certificate with a valid
// CommonName, exactly one OrganizationalUnit of the form "branch:<branch>"
// and the ClientAuth (and not the ServerAuth) extended key usage.
//
// It does not verify signatures: c must come from a verified chain.
func AgentFromCert(c *x509.Certificate) (Agent, error) {
	if c == nil {
		return Agent{}, fmt.Errorf("%w: no certificate", ErrNotAgentCert)
	}
	if c.IsCA {
		return Agent{}, fmt.Errorf("%w: certificate is a CA", ErrNotAgentCert)
	}
	ou := c.Subject.OrganizationalUnit
	if len(ou) != 1 || !strings.HasPrefix(ou[0], BranchOUPrefix) {
		return Agent{}, fmt.Errorf("%w: organizational unit must be exactly one %q entry", ErrNotAgentCert, BranchOUPrefix+"<branch>")
	}
	branch := strings.TrimPrefix(ou[0], BranchOUPrefix)
	if err := ValidateName(branch); err != nil {
		return Agent{}, fmt.Errorf("%w: branch: %w", ErrNotAgentCert, err)
	}
	id := c.Subject.CommonName
	if err := ValidateName(id); err != nil {
		return Agent{}, fmt.Errorf("%w: agent id: %w", ErrNotAgentCert, err)
	}
	if !hasEKU(c, x509.ExtKeyUsageClientAuth) {
		return Agent{}, fmt.Errorf("%w: missing client authentication usage", ErrNotAgentCert)
	}
	if hasEKU(c, x509.ExtKeyUsageServerAuth) || hasEKU(c, x509.ExtKeyUsageAny) {
		return Agent{}, fmt.Errorf("%w: certificate allows server authentication", ErrNotAgentCert)
	}
	return Agent{ID: id, Branch: branch}, nil
}

// IsHubCert reports whether c is a hub node certificate: not a CA, a valid
// CommonName (the node ID), exactly one OrganizationalUnit equal to
// [HubOU], and the ServerAuth extended key usage.
//
// It does not verify signatures: c must come from a verified chain.
func IsHubCert(c *x509.Certificate) bool {
	if c == nil || c.IsCA {
		return false
	}
	ou := c.Subject.OrganizationalUnit
	if len(ou) != 1 || ou[0] != HubOU {
		return false
	}
	if ValidateName(c.Subject.CommonName) != nil {
		return false
	}
	return hasEKU(c, x509.ExtKeyUsageServerAuth)
}

func hasEKU(c *x509.Certificate, want x509.ExtKeyUsage) bool {
	for _, u := range c.ExtKeyUsage {
		if u == want {
			return true
		}
	}
	return false
}
