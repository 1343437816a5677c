package command

import (
	"encoding/json"
	"fmt"
	"net/url"
	"text/tabwriter"

	"github.com/vigil-sec/vigil/hub/api"
)

func runAgentList(env Env, args []string) error {
	fs, cf := apiFlags("agent list", env)
	branch := fs.String("branch", "", "only this branch")
	asJSON := fs.Bool("json", false, "print JSON")
	c, err := cf.connect(fs, args)
	if err != nil {
		return err
	}
	q := url.Values{}
	if *branch != "" {
		q.Set("branch", *branch)
	}
	var agents []api.Agent
	if err := c.Do("GET", "/v1/agents", q, nil, &agents); err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(agents)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tBranch\tHostname\tVersion\tAcked Seq\tLag\tEvents\tLast Seen")
	for _, a := range agents {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%d\t%d\t%s\n", a.ID, a.Branch, a.Hostname, a.Version, a.AckedSeq, a.LagEvents, a.Events, a.LastSeen)
	}
	return tw.Flush()
}
