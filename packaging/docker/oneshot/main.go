// Command vigil-oneshot runs a vigil command once, for the one-shot services
// of a container deployment. The images are FROM scratch, so there is no
// shell to test for a file, redirect output or retry; this does those three
// things and nothing else.
//
// Usage:
//
//	vigil-oneshot [-creates FILE] [-stdout FILE]... [-retry DURATION] -- PROGRAM [ARG...]
//
// With -creates FILE it does nothing when FILE exists (e.g. an initialised
// data directory's hub.yaml), so "compose up" can run it again. Each
// -stdout FILE that does not exist yet gets one run of PROGRAM, whose
// standard output is written there (mode 0600, renamed into place only after
// PROGRAM succeeded): a single-use enrollment token per agent is one run
// each. With -retry DURATION a failing PROGRAM runs again every -interval
// until it succeeds or DURATION has passed (e.g. while a new cluster elects
// its leader).
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

type files []string

func (f *files) String() string     { return strings.Join(*f, ",") }
func (f *files) Set(v string) error { *f = append(*f, v); return nil }

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	fs := flag.NewFlagSet("vigil-oneshot", flag.ContinueOnError)
	creates := fs.String("creates", "", "do nothing when this file exists")
	var outs files
	fs.Var(&outs, "stdout", "write the program's standard output to this file, unless it exists (repeatable: one run per file)")
	retry := fs.Duration("retry", 0, "retry a failing program for this long")
	interval := fs.Duration("interval", 2*time.Second, "pause between retries")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	argv := fs.Args()
	if len(argv) == 0 {
		fmt.Fprintln(os.Stderr, "vigil-oneshot: no program given (vigil-oneshot [flags] -- PROGRAM [ARG...])")
		return 2
	}
	if *creates != "" {
		if _, err := os.Stat(*creates); err == nil {
			fmt.Fprintf(os.Stderr, "vigil-oneshot: %s exists, nothing to do\n", *creates)
			return 0
		}
	}
	if len(outs) == 0 {
		return attempt(argv, *retry, *interval, "")
	}
	for _, out := range outs {
		if _, err := os.Stat(out); err == nil {
			fmt.Fprintf(os.Stderr, "vigil-oneshot: %s exists, not replaced\n", out)
			continue
		}
		if code := attempt(argv, *retry, *interval, out); code != 0 {
			return code
		}
	}
	return 0
}

// attempt runs argv until it succeeds or retry has passed, and stores its
// standard output in out when out is not empty.
func attempt(argv []string, retry, interval time.Duration, out string) int {
	deadline := time.Now().Add(retry)
	for {
		var stdout bytes.Buffer
		cmd := exec.Command(argv[0], argv[1:]...)
		cmd.Stdin, cmd.Stderr = nil, os.Stderr
		if out != "" {
			cmd.Stdout = &stdout
		} else {
			cmd.Stdout = os.Stdout
		}
		err := cmd.Run()
		if err == nil && out != "" {
			err = writeFile(out, stdout.Bytes())
			if err != nil {
				fmt.Fprintf(os.Stderr, "vigil-oneshot: %v\n", err)
				return 1
			}
			fmt.Fprintf(os.Stderr, "vigil-oneshot: wrote %s\n", out)
		}
		if err == nil {
			return 0
		}
		if time.Now().Add(interval).After(deadline) {
			fmt.Fprintf(os.Stderr, "vigil-oneshot: %s: %v\n", argv[0], err)
			var ee *exec.ExitError
			if errors.As(err, &ee) && ee.ExitCode() > 0 {
				return ee.ExitCode()
			}
			return 1
		}
		fmt.Fprintf(os.Stderr, "vigil-oneshot: %s: %v; retrying in %s\n", argv[0], err, interval)
		time.Sleep(interval)
	}
}

// writeFile writes data to path with mode 0600 through a temporary file, so
// a reader never sees a partial file.
func writeFile(path string, data []byte) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
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
