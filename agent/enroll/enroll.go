// Package enroll is the agent's side of enrollment: it makes the agent's key
// locally, authenticates the hub by the CA fingerprint pinned in the token,
// sends a CSR with the token, and stores the returned certificate, the CA and
// the agent's identity in the data directory (secret files 0600). The private
// key never leaves the host, and nothing is written until the hub has
// answered with a certificate.
package enroll

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/quic-go/quic-go"
	"github.com/vigil-sec/vigil/protocol"
	"github.com/vigil-sec/vigil/protocol/agentpb"
	"github.com/vigil-sec/vigil/protocol/frame"
	"github.com/vigil-sec/vigil/protocol/identity"
)

// Identity is what the agent keeps about itself after enrollment.
type Identity struct {
	AgentID    string    `json:"agent_id"`
	Branch     string    `json:"branch"`
	Hubs       []string  `json:"hubs"`
	EnrolledAt time.Time `json:"enrolled_at"`
}

// Paths says where enrollment writes.
type Paths struct {
	Key, Cert, CA, Identity string
}

// Request is one enrollment.
type Request struct {
	Hub          string
	Token        string
	Hostname     string
	AgentVersion string
	Paths        Paths
	// Force replaces an existing enrollment.
	Force bool
}

// ErrEnrolled is returned when the data directory already holds an identity.
var ErrEnrolled = errors.New("agent is already enrolled (use -force to enroll again)")

// Enroll performs one enrollment.
func Enroll(ctx context.Context, r Request) (*Identity, error) {
	tok, err := identity.ParseToken(r.Token)
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(r.Paths.Identity); err == nil && !r.Force {
		return nil, ErrEnrolled
	}
	keyPEM, csrPEM, err := identity.NewAgentKeyAndCSR()
	if err != nil {
		return nil, err
	}
	tlsConf, err := identity.EnrollTLS(tok.CAPin, []string{protocol.EnrollALPN})
	if err != nil {
		return nil, err
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := quic.DialAddr(dctx, r.Hub, tlsConf, &quic.Config{HandshakeIdleTimeout: 10 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("connect to hub %s: %w", r.Hub, err)
	}
	defer conn.CloseWithError(0, "")
	s, err := conn.OpenStreamSync(dctx)
	if err != nil {
		return nil, fmt.Errorf("open enrollment stream: %w", err)
	}
	_ = s.SetDeadline(time.Now().Add(30 * time.Second))
	if err := frame.NewWriter(s, 0).Write(frame.TypeEnrollRequest, &agentpb.EnrollRequest{
		TokenId: tok.ID, TokenSecret: tok.Secret, CsrPem: csrPEM, Hostname: r.Hostname, AgentVersion: r.AgentVersion,
	}); err != nil {
		return nil, err
	}
	var resp agentpb.EnrollResponse
	if err := frame.NewReader(s, 1<<20).ReadMsg(frame.TypeEnrollResponse, &resp); err != nil {
		var pe *frame.PeerError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("hub refused enrollment: %s (%s)", pe.Message, pe.Code)
		}
		return nil, fmt.Errorf("read enrollment response: %w", err)
	}
	// The CA the hub returns must be the one the token pins.
	cas, err := identity.ParseCertsPEM(resp.CaPem)
	if err != nil || len(cas) == 0 || identity.Fingerprint(cas[0].Raw) != tok.CAPin {
		return nil, errors.New("hub returned a CA that does not match the token's fingerprint")
	}
	hubs := resp.Members
	if len(hubs) == 0 {
		hubs = []string{r.Hub}
	}
	id := &Identity{AgentID: resp.AgentId, Branch: resp.Branch, Hubs: hubs, EnrolledAt: time.Now().UTC()}
	idJSON, err := json.MarshalIndent(id, "", "  ")
	if err != nil {
		return nil, err
	}
	for _, f := range []struct {
		path string
		data []byte
	}{{r.Paths.Key, keyPEM}, {r.Paths.Cert, resp.CertPem}, {r.Paths.CA, resp.CaPem}, {r.Paths.Identity, idJSON}} {
		if err := writeSecret(f.path, f.data); err != nil {
			return nil, err
		}
	}
	return id, nil
}

// Load reads a stored identity.
func Load(path string) (*Identity, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("agent is not enrolled (no %s): run vigil-agent enroll", path)
		}
		return nil, err
	}
	var id Identity
	if err := json.Unmarshal(b, &id); err != nil {
		return nil, fmt.Errorf("read identity %s: %w", path, err)
	}
	return &id, nil
}

// writeSecret writes data with mode 0600 through a synced temp file and a
// rename, so a crash leaves the old file or the new one, never half of one.
func writeSecret(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
