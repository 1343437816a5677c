package command

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/vigil-sec/vigil/hub/api"
)

func runTokenCreate(env Env, args []string) error {
	fs, cf := apiFlags("token create", env)
	branch := fs.String("branch", "", "branch the enrolled agent will belong to (required)")
	ttl := fs.String("ttl", "1h", "how long the token stays valid (at most 720h)")
	desc := fs.String("description", "", "free text kept with the token")
	quiet := fs.Bool("quiet", false, "print only the token")
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
	fmt.Fprintf(env.Stdout, "Token:      %s\nBranch:     %s\nExpires:    %s\nCA pin:     %s\n\n", res.Token, res.Branch, res.ExpiresAt, res.CAPin)
	fmt.Fprintln(env.Stdout, "Enroll a branch host with:\n  vigil-agent enroll --hub HUB_ADDR:7443 --token "+res.Token)
	fmt.Fprintln(env.Stdout, "The token works once and is shown only now.")
	return nil
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
