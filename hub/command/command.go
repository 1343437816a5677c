// Package command owns vigil-hub's command line: one file per sub-command,
// flag parsing, and the help text. Commands that talk to a running hub go
// through the HTTPS API client; only init and serve touch the data directory.
package command

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/vigil-sec/vigil/hub/api"
	"github.com/vigil-sec/vigil/hub/config"
)

// Env carries the process's streams so commands are testable in-process.
type Env struct {
	Stdout, Stderr io.Writer
}

type command struct {
	synopsis string
	run      func(env Env, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"init":                              {"Create a data directory: cluster CA, node certificate, admin token, hub.yaml", runInit},
		"serve":                             {"Run a hub node", runServe},
		"events search":                     {"Search stored events", runEventsSearch},
		"events counts":                     {"Count stored events by agent and input", runEventsCounts},
		"agent list":                        {"List enrolled agents", runAgentList},
		"token create":                      {"Create a single-use enrollment token for a branch", runTokenCreate},
		"token list":                        {"List enrollment tokens (never their secrets)", runTokenList},
		"status":                            {"Show this node's Raft status", runStatus},
		"health":                            {"Exit 0 if the local node serves its API (for health checks), else say why", runHealth},
		"members":                           {"List the cluster's hub nodes", runMembers},
		"operator raft list-peers":          {"List the Raft peers", runRaftListPeers},
		"operator raft remove-peer":         {"Remove a (dead) server from the Raft configuration", runRaftRemovePeer},
		"operator raft transfer-leadership": {"Hand leadership to another server", runRaftTransferLeadership},
		"operator join-token create":        {"Create a single-use token for a new hub server", runJoinTokenCreate},
		"operator recover":                  {"Offline, node stopped: set new Raft peers after quorum is lost for good", runOperatorRecover},
		"snapshot save":                     {"Save a consistent snapshot of the cluster's state to a file", runSnapshotSave},
		"snapshot restore":                  {"Replace the cluster's state with a snapshot file", runSnapshotRestore},
		"snapshot inspect":                  {"Verify and describe a snapshot file (offline)", runSnapshotInspect},
		"version":                           {"Print the version", func(env Env, _ []string) error { fmt.Fprintln(env.Stdout, versionString()); return nil }},
	}
}

// usageError is a command-line mistake; Main prints it with the usage.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// Main runs vigil-hub with args (without the program name) and returns the
// exit code.
func Main(args []string, env Env) int {
	cmds := commands()
	name, rest := match(cmds, args)
	if name == "" {
		if len(args) > 0 && args[0] != "-h" && args[0] != "--help" && args[0] != "help" {
			fmt.Fprintf(env.Stderr, "unknown command %q\n\n", strings.Join(args, " "))
			usage(env.Stderr, cmds)
			return 1
		}
		usage(env.Stdout, cmds)
		return 0
	}
	if err := cmds[name].run(env, rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(env.Stderr, "Error: %v\n", err)
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(env.Stderr, "Run 'vigil-hub %s -h' for usage.\n", name)
		}
		return 1
	}
	return 0
}

// match finds the longest command name that prefixes args.
func match(cmds map[string]command, args []string) (string, []string) {
	for n := 3; n >= 1; n-- {
		if len(args) >= n {
			if _, ok := cmds[strings.Join(args[:n], " ")]; ok {
				return strings.Join(args[:n], " "), args[n:]
			}
		}
	}
	return "", args
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "Usage: vigil-hub <command> [options]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "    %-34s %s\n", n, cmds[n].synopsis)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "API commands read VIGIL_ADDR, VIGIL_TOKEN and VIGIL_CACERT, or take -data DIR of a local node.")
}

func newFlags(name string, env Env) *flag.FlagSet {
	fs := flag.NewFlagSet("vigil-hub "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

// parse parses flags and turns a parse failure into a usageError.
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err.Error()}
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// clientFlags are the flags of every command that calls the API.
type clientFlags struct {
	addr, token, tokenFile, caFile, data string
}

func (c *clientFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&c.addr, "addr", os.Getenv("VIGIL_ADDR"), "hub API address, e.g. https://127.0.0.1:8443 (env VIGIL_ADDR)")
	fs.StringVar(&c.token, "token", os.Getenv("VIGIL_TOKEN"), "API token (env VIGIL_TOKEN)")
	fs.StringVar(&c.tokenFile, "token-file", "", "file holding the API token")
	fs.StringVar(&c.caFile, "ca-file", os.Getenv("VIGIL_CACERT"), "cluster CA certificate (env VIGIL_CACERT)")
	fs.StringVar(&c.data, "data", "", "data directory of a local node: fills -addr, -token-file and -ca-file")
}

// apiFlags starts the flag set of a command that calls the API.
func apiFlags(name string, env Env) (*flag.FlagSet, *clientFlags) {
	fs := newFlags(name, env)
	cf := &clientFlags{}
	cf.register(fs)
	return fs, cf
}

// connect parses args, runs the command's own checks of its flags, and
// returns the API client the flags describe.
func (c *clientFlags) connect(fs *flag.FlagSet, args []string, checks ...func() error) (*api.Client, error) {
	if err := parse(fs, args); err != nil {
		return nil, err
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return nil, err
		}
	}
	return c.client()
}

func (c *clientFlags) client() (*api.Client, error) {
	if c.data != "" {
		cfg, err := config.Load(filepath.Join(c.data, "hub.yaml"))
		if err != nil {
			return nil, err
		}
		if c.addr == "" {
			c.addr = "https://" + cfg.APIAddr
		}
		if c.token == "" && c.tokenFile == "" {
			c.tokenFile = cfg.AdminTokenFile()
		}
		if c.caFile == "" {
			c.caFile = filepath.Join(cfg.TLSDir(), "ca.crt")
		}
	}
	if c.tokenFile != "" {
		b, err := os.ReadFile(c.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("read token file: %w", err)
		}
		c.token = strings.TrimSpace(string(b))
	}
	switch {
	case c.addr == "":
		return nil, &usageError{"no hub address: set -addr, VIGIL_ADDR or -data"}
	case c.token == "":
		return nil, &usageError{"no API token: set -token, -token-file, VIGIL_TOKEN or -data"}
	case c.caFile == "":
		return nil, &usageError{"no CA certificate: set -ca-file, VIGIL_CACERT or -data"}
	}
	if !strings.HasPrefix(c.addr, "https://") {
		c.addr = "https://" + c.addr
	}
	return api.NewClient(c.addr, c.token, c.caFile)
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(level))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
