package command

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/vigil-sec/vigil/agent"
	"github.com/vigil-sec/vigil/agent/enroll"
)

func runEnroll(env Env, args []string) error {
	fs := newFlags("enroll", env)
	hub := fs.String("hub", "", "hub address, host:port (required)")
	token := fs.String("token", "", "enrollment token from 'vigil-hub token create'")
	tokenFile := fs.String("token-file", "", "file holding the enrollment token (e.g. /etc/vigil/enroll.token)")
	cfgPath := fs.String("c", "", "agent.yaml (for data_dir)")
	data := fs.String("data", "", "data directory (overrides the config's data_dir)")
	force := fs.Bool("force", false, "replace an existing enrollment")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *hub == "" {
		return &usageError{"-hub is required"}
	}
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			return fmt.Errorf("read token file: %w", err)
		}
		*token = strings.TrimSpace(string(b))
	}
	if *token == "" {
		return &usageError{"-token or -token-file is required"}
	}
	cfg, err := loadConfig(*cfgPath, *data)
	if err != nil {
		return err
	}
	host, _ := os.Hostname()
	id, err := enroll.Enroll(context.Background(), enroll.Request{
		Hub: *hub, Token: *token, Hostname: sanitizeHost(host), AgentVersion: agent.Version, Force: *force,
		Paths: enroll.Paths{Key: cfg.KeyFile(), Cert: cfg.CertFile(), CA: cfg.CAFile(), Identity: cfg.IdentityFile()},
	})
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Enrolled as agent %s in branch %s\n", id.AgentID, id.Branch)
	fmt.Fprintf(env.Stdout, "Hubs: %s\nCertificate and key: %s (0600)\n", strings.Join(id.Hubs, ", "), cfg.TLSDir())
	return nil
}

// sanitizeHost keeps a host name within the identity name rules.
func sanitizeHost(h string) string {
	var b strings.Builder
	for _, r := range h {
		if r == '.' || r == '-' || r == '_' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' {
			b.WriteRune(r)
		}
	}
	s := strings.TrimLeft(b.String(), ".-_")
	if len(s) > 64 {
		s = s[:64]
	}
	return s
}
