package command

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/vigil-sec/vigil/hub/api"
)

func runTokenCreate(env Env, args []string) error {
	fs, cf := apiFlags("token create", env)
	branch := fs.String("branch", "", "branch the enrolled agent will belong to (required)")
	ttl := fs.String("ttl", "1h", "how long the token stays valid (at most 720h)")
	desc := fs.String("description", "", "free text kept with the token")
	quiet := fs.Bool("quiet", false, "print only the token")
	snippet := fs.Bool("install-snippet", false, "print a shell script that installs, configures and starts the agent on a branch host")
	hubAddr := fs.String("hub", "", "hub address(es) the snippet gives the agent, comma-separated host:port (default: the cluster members' ingest addresses)")
	c, err := cf.connect(fs, args, func() error {
		if *branch == "" {
			return &usageError{"-branch is required"}
		}
		return nil
	})
	if err != nil {
		return err
	}
	var res api.TokenResponse
	if err := c.Do("POST", "/v1/enroll-tokens", nil, api.TokenRequest{Branch: *branch, TTL: *ttl, Description: *desc}, &res); err != nil {
		return err
	}
	if *quiet {
		fmt.Fprintln(env.Stdout, res.Token)
		return nil
	}
	if *snippet {
		hubs := splitList(*hubAddr)
		if len(hubs) == 0 {
			var ms []api.Member
			if err := c.Do("GET", "/v1/members", nil, nil, &ms); err != nil {
				return fmt.Errorf("hub addresses for the snippet (or give -hub): %w", err)
			}
			for _, m := range ms {
				if m.IngestAddr != "" {
					hubs = append(hubs, m.IngestAddr)
				}
			}
		}
		if len(hubs) == 0 {
			return &usageError{"no hub address known: give -hub HOST:7443"}
		}
		return installSnippet(env.Stdout, res, hubs)
	}
	fmt.Fprintf(env.Stdout, "Token:      %s\nBranch:     %s\nExpires:    %s\nCA pin:     %s\n\n", res.Token, res.Branch, res.ExpiresAt, res.CAPin)
	fmt.Fprintln(env.Stdout, "Enroll a branch host with:\n  vigil-agent enroll --hub HUB_ADDR:7443 --token "+res.Token)
	fmt.Fprintln(env.Stdout, "The token works once and is shown only now.")
	return nil
}

// installSnippet prints a POSIX shell script for a branch host: install the
// package found next to it, point agent.yaml at the hubs, leave the token
// where the agent reads it on first start (it enrolls, then deletes it), and
// start the service. Values are single-quoted; a token and host:port
// addresses never contain quotes.
func installSnippet(w io.Writer, res api.TokenResponse, hubs []string) error {
	quoted := make([]string, len(hubs))
	for i, h := range hubs {
		if strings.ContainsAny(h, "'\"\\ ") {
			return fmt.Errorf("hub address %q cannot go into the snippet", h)
		}
		quoted[i] = `"` + h + `"`
	}
	_, err := fmt.Fprintf(w, `#!/bin/sh
# Vigil agent install for branch %[1]s. Run as root on the branch host, next
# to the vigil-agent .deb or .rpm. The token enrolls one host, once, until
# %[2]s; it pins the hub CA %[3]s.
set -eu
if command -v apt-get >/dev/null 2>&1; then
	apt-get install -y ./vigil-agent_*.deb
else
	dnf install -y ./vigil-agent-*.rpm || yum install -y ./vigil-agent-*.rpm
fi
grep -q '^hubs:' /etc/vigil/agent.yaml || printf 'hubs: [%[4]s]\n' >> /etc/vigil/agent.yaml
( umask 077; printf '%%s\n' '%[5]s' > /etc/vigil/enroll.token )
chown vigil:vigil /etc/vigil/enroll.token
systemctl enable --now vigil-agent
sleep 3
vigil-agent status -c /etc/vigil/agent.yaml
`, res.Branch, res.ExpiresAt, res.CAPin, strings.Join(quoted, ", "), res.Token)
	return err
}

func runTokenList(env Env, args []string) error {
	fs, cf := apiFlags("token list", env)
	asJSON := fs.Bool("json", false, "print JSON")
	c, err := cf.connect(fs, args)
	if err != nil {
		return err
	}
	var toks []api.TokenInfo
	if err := c.Do("GET", "/v1/enroll-tokens", nil, nil, &toks); err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(toks)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tBranch\tExpires\tUsed By")
	for _, t := range toks {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", t.ID, t.Branch, t.ExpiresAt, t.UsedBy)
	}
	return tw.Flush()
}

func runStatus(env Env, args []string) error {
	fs, cf := apiFlags("status", env)
	c, err := cf.connect(fs, args)
	if err != nil {
		return err
	}
	var st map[string]any
	if err := c.Do("GET", "/v1/status", nil, nil, &st); err != nil {
		return err
	}
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(st)
}
