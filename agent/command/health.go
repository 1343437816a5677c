package command

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/agent"
)

// runHealth is a liveness probe for a container HEALTHCHECK or a service
// manager: the running agent must answer GET /status on status_addr. An
// agent that buffers while no hub is reachable is still healthy; status
// shows the connection.
func runHealth(env Env, args []string) error {
	fs := newFlags("health", env)
	cfgPath := fs.String("c", "", "configuration file (agent.yaml), for status_addr")
	addr := fs.String("addr", "", "status address of the running agent (default: the config's status_addr)")
	timeout := fs.Duration("timeout", 5*time.Second, "give up after this long")
	if err := parse(fs, args); err != nil {
		return err
	}
	if err := resolveStatusAddr(addr, *cfgPath); err != nil {
		return oneLine(err)
	}
	url := "http://" + *addr + "/status"
	c := &http.Client{Timeout: *timeout}
	resp, err := c.Get(url)
	if err != nil {
		return oneLine(fmt.Errorf("agent not healthy: %w", err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return oneLine(fmt.Errorf("agent not healthy: %s: read body: %w", url, err))
	}
	var st agent.Status
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &st) != nil || st.AgentID == "" {
		if len(body) > 200 {
			body = body[:200]
		}
		return oneLine(fmt.Errorf("agent not healthy: %s answered %d: %s", url, resp.StatusCode, body))
	}
	fmt.Fprintf(env.Stdout, "healthy: agent %s, hub connection %s\n", st.AgentID, st.Ship.State)
	return nil
}

// oneLine keeps a probe's reason on one line, as container runtimes show
// only the last output of a health check.
func oneLine(err error) error {
	return fmt.Errorf("%s", strings.Join(strings.Fields(err.Error()), " "))
}
