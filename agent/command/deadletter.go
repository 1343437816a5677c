package command

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vigil-sec/vigil/agent"
)

// runDeadLetter is `vigil-agent deadletter list|show|replay|drop`: the
// records a parser plugin could not get through, held by the running agent.
func runDeadLetter(env Env, args []string) error {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return &usageError{"usage: vigil-agent deadletter list|show ID|replay ID|drop ID [-c agent.yaml] [-addr host:port] [-json]"}
	}
	sub, rest := args[0], args[1:]
	// The ID may come before the flags (deadletter show 3 -json).
	id := ""
	if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		id, rest = rest[0], rest[1:]
	}
	fs := newFlags("deadletter "+sub, env)
	cfgPath := fs.String("c", "", "configuration file (agent.yaml), for status_addr")
	addr := fs.String("addr", "", "status address of the running agent (default: the config's status_addr)")
	asJSON := fs.Bool("json", false, "print JSON (list, show)")
	if err := parsePositional(fs, rest); err != nil {
		return err
	}
	if err := resolveStatusAddr(addr, *cfgPath); err != nil {
		return err
	}
	if id == "" && fs.NArg() == 1 {
		id = fs.Arg(0)
	}
	switch sub {
	case "list":
	case "show", "replay", "drop":
		if id == "" {
			return &usageError{"deadletter " + sub + " needs one dead letter ID (see deadletter list)"}
		}
	default:
		return &usageError{fmt.Sprintf("unknown deadletter command %q: want list, show, replay or drop", sub)}
	}
	route := map[string][2]string{
		"list": {"GET", "/deadletters?limit=1000"}, "show": {"GET", "/deadletters/" + id},
		"replay": {"POST", "/deadletters/" + id + "/replay"}, "drop": {"DELETE", "/deadletters/" + id},
	}[sub]
	method, path := route[0], route[1]
	req, err := http.NewRequest(method, "http://"+*addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{Timeout: time.Minute}).Do(req)
	if err != nil {
		return fmt.Errorf("agent not reachable at %s (is it running?): %w", *addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		return fmt.Errorf("%s dead letter %s: %s", sub, id, strings.TrimSpace(string(body)))
	}
	switch {
	case sub == "replay":
		fmt.Fprintf(env.Stdout, "Replayed dead letter %s: its event is in the buffer\n", id)
		return nil
	case sub == "drop":
		fmt.Fprintf(env.Stdout, "Dropped dead letter %s\n", id)
		return nil
	case *asJSON:
		_, err := env.Stdout.Write(body)
		return err
	case sub == "show":
		var v agent.DeadLetterView
		if err := json.Unmarshal(body, &v); err != nil {
			return fmt.Errorf("decode dead letter: %w", err)
		}
		tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "ID\t%d\nTime\t%s\nInput\t%s\nPlugin\t%s\nAttempts\t%d\nError\t%s\n", v.ID, v.Time.Format(time.RFC3339), v.Input, v.Parser, v.Attempts, v.Error)
		if v.Text != "" {
			fmt.Fprintf(tw, "Record\t%s\n", v.Text)
		} else {
			fmt.Fprintf(tw, "Record\t%d bytes, not UTF-8 (see -json)\n", len(v.Record))
		}
		return tw.Flush()
	}
	var list agent.DeadLetterList
	if err := json.Unmarshal(body, &list); err != nil {
		return fmt.Errorf("decode dead letters: %w", err)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tTime\tInput\tPlugin\tAttempts\tError")
	for _, v := range list.Items {
		msg := v.Error
		if len(msg) > 60 {
			msg = msg[:57] + "..."
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%d\t%s\n", v.ID, v.Time.Format(time.RFC3339), v.Input, v.Parser, v.Attempts, msg)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "%d dead letters\n", list.Total)
	return nil
}
