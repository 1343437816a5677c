package command

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"

	"github.com/vigil-sec/vigil/agent"
)

// runImport is `vigil-agent import [-parser ID] FILE...`: the running agent
// imports each scanner report (once per content: a file imported before is
// reported as a duplicate), showing progress for large ones.
func runImport(env Env, args []string) error {
	fs := newFlags("import", env)
	cfgPath := fs.String("c", "", "configuration file (agent.yaml), for status_addr")
	addr := fs.String("addr", "", "status address of the running agent (default: the config's status_addr)")
	parser := fs.String("parser", "", "report format (scanner.nmap, scanner.nessus, ...); detected from each file's content when not given")
	if err := parsePositional(fs, args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return &usageError{"usage: vigil-agent import [-parser ID] FILE..."}
	}
	if err := resolveStatusAddr(addr, *cfgPath); err != nil {
		return err
	}
	failed := 0
	for _, f := range fs.Args() {
		abs, err := filepath.Abs(f)
		if err != nil {
			return err
		}
		body, _ := json.Marshal(agent.ImportRequest{Path: abs, Parser: *parser})
		resp, err := http.Post("http://"+*addr+"/import", "application/json", bytes.NewReader(body))
		if err != nil {
			return fmt.Errorf("agent not reachable at %s (is it running?): %w", *addr, err)
		}
		var last agent.ImportProgress
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if resp.StatusCode != http.StatusOK {
				break
			}
			if err := json.Unmarshal(sc.Bytes(), &last); err != nil {
				resp.Body.Close()
				return fmt.Errorf("import %s: %w", f, err)
			}
			if last.Result == nil {
				fmt.Fprintf(env.Stderr, "%s: %d findings so far\n", f, last.Findings)
			}
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("import %s: %s", f, resp.Status)
		}
		switch r := last.Result; {
		case last.Error != "":
			return fmt.Errorf("import %s: %s", f, last.Error)
		case r == nil:
			return fmt.Errorf("import %s: the agent gave no result", f)
		case r.Duplicate:
			fmt.Fprintf(env.Stdout, "%s: already imported (sha256 %s, %d findings); nothing done\n", f, r.SHA256, r.Findings)
		case r.Partial:
			failed++
			fmt.Fprintf(env.Stdout, "%s: PARTIAL: %d findings imported (%s), then: %s\n", f, r.Findings, r.Parser, r.Error)
		case r.Error != "":
			failed++
			fmt.Fprintf(env.Stdout, "%s: NOT imported: %s\n", f, r.Error)
		default:
			fmt.Fprintf(env.Stdout, "%s: %d findings imported (%s)\n", f, r.Findings, r.Parser)
		}
	}
	if failed > 0 {
		return errors.New(strings.TrimSpace(fmt.Sprintf("%d of %d reports not imported whole", failed, fs.NArg())))
	}
	return nil
}
