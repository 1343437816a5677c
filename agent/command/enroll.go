package command

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/vigil-sec/vigil/agent/config"

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
	id, err := enrollWith(cfg, *hub, *token, *force)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Enrolled as agent %s in branch %s\n", id.AgentID, id.Branch)
	fmt.Fprintf(env.Stdout, "Hubs: %s\nCertificate and key: %s (0600)\n", strings.Join(id.Hubs, ", "), cfg.TLSDir())
	return nil
}

func enrollWith(cfg config.Config, hub, token string, force bool) (*enroll.Identity, error) {
	host, _ := os.Hostname()
	return enroll.Enroll(context.Background(), enroll.Request{
		Hub: hub, Token: token, Hostname: sanitizeHost(host), AgentVersion: agent.Version, Force: force,
		Paths: enroll.Paths{Key: cfg.KeyFile(), Cert: cfg.CertFile(), CA: cfg.CAFile(), Identity: cfg.IdentityFile()},
	})
}

// enrollAtStart enrolls an agent that is not enrolled yet from
// enroll_token_file, as a package install leaves it: the token file was
// written by the install snippet or configuration management. The file is
// removed afterwards; a token cannot be used twice anyway.
func enrollAtStart(env Env, cfg config.Config) error {
	if _, err := os.Stat(cfg.IdentityFile()); err == nil || cfg.EnrollTokenFile == "" || cfg.EnrollTokenFile == "off" {
		return nil
	}
	b, err := os.ReadFile(cfg.EnrollTokenFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // agent.New says how to enroll
	}
	if err != nil {
		return fmt.Errorf("read %s: %w", cfg.EnrollTokenFile, err)
	}
	if len(cfg.Hubs) == 0 {
		return fmt.Errorf("%s holds an enrollment token, but agent.yaml names no hub: set hubs: [\"HUB:7443\"]", cfg.EnrollTokenFile)
	}
	id, err := enrollWith(cfg, cfg.Hubs[0], strings.TrimSpace(string(b)), false)
	if err != nil {
		return fmt.Errorf("enroll with %s: %w", cfg.EnrollTokenFile, err)
	}
	if err := os.Remove(cfg.EnrollTokenFile); err != nil {
		fmt.Fprintf(env.Stderr, "enrolled, but could not remove the used token file: %v\n", err)
	}
	fmt.Fprintf(env.Stderr, "Enrolled as agent %s in branch %s with %s\n", id.AgentID, id.Branch, cfg.EnrollTokenFile)
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
