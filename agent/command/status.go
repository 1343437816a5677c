package command

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/vigil-sec/vigil/agent"
)

func runStatus(env Env, args []string) error {
	fs := newFlags("status", env)
	cfgPath := fs.String("c", "", "configuration file (agent.yaml), for status_addr")
	addr := fs.String("addr", "", "status address of the running agent (default: the config's status_addr)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := resolveStatusAddr(addr, *cfgPath); err != nil {
		return err
	}
	c := &http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + *addr + "/status")
	if err != nil {
		return fmt.Errorf("agent not reachable at %s (is it running?): %w", *addr, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return err
	}
	if *asJSON {
		_, err := env.Stdout.Write(body)
		return err
	}
	var st agent.Status
	if err := json.Unmarshal(body, &st); err != nil {
		return fmt.Errorf("decode status: %w", err)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Agent\t%s (branch %s, version %s, up %s)\n", st.AgentID, st.Branch, st.Version, st.Uptime)
	fmt.Fprintf(tw, "Connection\t%s %s\n", st.Ship.State, st.Ship.Hub)
	if st.Ship.LastError != "" {
		fmt.Fprintf(tw, "Last error\t%s\n", st.Ship.LastError)
	}
	fmt.Fprintf(tw, "Buffer\t%d events, %d bytes of %d (epoch %d)\n", st.Buffer.Depth, st.Buffer.Bytes, st.Buffer.MaxBytes, st.Buffer.Epoch)
	fmt.Fprintf(tw, "Sequence\tlast %d, acknowledged %d\n", st.Buffer.LastSeq, st.Buffer.AckedSeq)
	fmt.Fprintf(tw, "Shipped\t%d batches acked, %d in flight, %d events, %d reconnects\n", st.Ship.BatchesAcked, st.Ship.Inflight, st.Ship.EventsAcked, st.Ship.Reconnects)
	reasons := make([]string, 0, len(st.Drops))
	for r := range st.Drops {
		reasons = append(reasons, r)
	}
	sort.Strings(reasons)
	fmt.Fprint(tw, "Drops\t")
	for i, r := range reasons {
		if i > 0 {
			fmt.Fprint(tw, ", ")
		}
		fmt.Fprintf(tw, "%s=%d", r, st.Drops[r])
	}
	fmt.Fprintln(tw)
	ids := make([]string, 0, len(st.Inputs))
	for id := range st.Inputs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		c := st.Inputs[id]
		fmt.Fprintf(tw, "Input %s\t%d events, %d truncated, %d parse errors, %d dropped\n", id, c["records_total"], c["truncated_total"], c["parse_errors_total"], c["dropped_buffer_full"]+c["dropped_invalid_frame"])
	}
	names := make([]string, 0, len(st.Plugins))
	for n := range st.Plugins {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		c := st.Plugins[n]
		fmt.Fprintf(tw, "Plugin %s	pid %d, %d records, %d restarts, %d crashes, %d timeouts, %d dead letters\n", n, c["pid"], c["records_total"], c["restarts_total"], c["crashes_total"], c["timeouts_total"], c["dead_letters_total"])
	}
	fmt.Fprintf(tw, "Dead letters	%d waiting (vigil-agent deadletter list)\n", st.DeadLetters)
	return tw.Flush()
}

func runVersion(env Env, args []string) error {
	fmt.Fprintf(env.Stdout, "vigil-agent %s\n", agent.Version)
	return nil
}
