// Package command owns vigil-agent's command line: one file per sub-command.
// Commands that inspect a running agent read its local status endpoint; only
// run and enroll touch the data directory.
package command

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"strings"

	"github.com/vigil-sec/vigil/agent/config"
)

// Env carries the process's streams so commands are testable in-process.
type Env struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
}

type command struct {
	synopsis string
	run      func(env Env, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"enroll":     {"Enroll this host with a hub using a one-time token", runEnroll},
		"deadletter": {"List, show, replay or drop records a parser plugin could not parse", runDeadLetter},
		"run":        {"Run the agent", runRun},
		"import":     {"Import scanner reports through the running agent (each content once)", runImport},
		"parse":      {"Run a parser on a file or stdin and print the events or findings as JSON", runParse},
		"status":     {"Show buffer, connection and input counters of the running agent", runStatus},
		"health":     {"Exit 0 if the running agent answers on status_addr (for health checks), else say why", runHealth},
		"version":    {"Print the version", runVersion},
	}
}

type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// Main runs vigil-agent with args (without the program name) and returns the
// exit code.
func Main(args []string, env Env) int {
	cmds := commands()
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(env.Stdout, cmds)
		return 0
	}
	c, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(env.Stderr, "unknown command %q\n\n", args[0])
		usage(env.Stderr, cmds)
		return 1
	}
	if err := c.run(env, args[1:]); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(env.Stderr, "Error: %v\n", err)
		var ue *usageError
		if errors.As(err, &ue) {
			fmt.Fprintf(env.Stderr, "Run 'vigil-agent %s -h' for usage.\n", args[0])
		}
		return 1
	}
	return 0
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "Usage: vigil-agent <command> [options]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Commands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "    %-10s %s\n", n, cmds[n].synopsis)
	}
}

func newFlags(name string, env Env) *flag.FlagSet {
	fs := flag.NewFlagSet("vigil-agent "+name, flag.ContinueOnError)
	fs.SetOutput(env.Stderr)
	return fs
}

func parse(fs *flag.FlagSet, args []string) error {
	if err := parsePositional(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return &usageError{fmt.Sprintf("unexpected argument %q", fs.Arg(0))}
	}
	return nil
}

// parsePositional parses flags and leaves positional arguments in fs.Args.
func parsePositional(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return &usageError{err.Error()}
	}
	return nil
}

// resolveStatusAddr fills an empty -addr with the status_addr of the
// configuration (-c, or the defaults), for the commands that talk to the
// running agent.
func resolveStatusAddr(addr *string, cfgPath string) error {
	if *addr != "" {
		return nil
	}
	cfg, err := loadConfig(cfgPath, "")
	if err != nil {
		return err
	}
	*addr = cfg.StatusAddr
	return nil
}

// loadConfig reads -c, or uses the defaults with -data.
func loadConfig(path, data string) (config.Config, error) {
	cfg := config.DefaultConfig()
	if path != "" {
		var err error
		if cfg, err = config.Load(path); err != nil {
			return cfg, err
		}
	}
	if data != "" {
		cfg.DataDir = data
	}
	return cfg, nil
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	_ = l.UnmarshalText([]byte(strings.ToUpper(level)))
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l}))
}
