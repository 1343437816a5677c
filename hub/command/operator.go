package command

import (
	"encoding/json"
	"fmt"
	"text/tabwriter"

	"github.com/vigil-sec/vigil/hub/api"
)

func runMembers(env Env, args []string) error {
	fs, cf := apiFlags("members", env)
	asJSON := fs.Bool("json", false, "print JSON")
	c, err := cf.connect(fs, args)
	if err != nil {
		return err
	}
	var ms []api.Member
	if err := c.Do("GET", "/v1/members", nil, nil, &ms); err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(ms)
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "Node\tRaft\tIngest\tAPI\tVoter\tLeader")
	for _, m := range ms {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\t%v\n", m.NodeID, m.RaftAddr, m.IngestAddr, m.APIAddr, m.Voter, m.Leader)
	}
	return tw.Flush()
}

func runRaftListPeers(env Env, args []string) error {
	fs, cf := apiFlags("operator raft list-peers", env)
	c, err := cf.connect(fs, args)
	if err != nil {
		return err
	}
	var peers []api.Peer
	if err := c.Do("GET", "/v1/operator/raft/peers", nil, nil, &peers); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(env.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "Node\tAddress\tState\tVoter")
	for _, p := range peers {
		state := "follower"
		if p.Leader {
			state = "leader"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%v\n", p.ID, p.Address, state, p.Suffrage == "Voter")
	}
	return tw.Flush()
}

func runRaftRemovePeer(env Env, args []string) error {
	fs, cf := apiFlags("operator raft remove-peer", env)
	id := fs.String("id", "", "node ID of the peer to remove (required)")
	c, err := cf.connect(fs, args, func() error {
		if *id == "" {
			return &usageError{"-id is required"}
		}
		return nil
	})
	if err != nil {
		return err
	}
	if err := c.Do("DELETE", "/v1/operator/raft/peers/"+*id, nil, nil, nil); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Removed peer %s\n", *id)
	return nil
}

func runRaftTransferLeadership(env Env, args []string) error {
	fs, cf := apiFlags("operator raft transfer-leadership", env)
	id := fs.String("id", "", "node ID to hand leadership to (default: the most up-to-date voter)")
	c, err := cf.connect(fs, args)
	if err != nil {
		return err
	}
	var res map[string]string
	if err := c.Do("POST", "/v1/operator/raft/transfer-leadership", nil, api.TransferRequest{ID: *id}, &res); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Leadership transferred; leader is now %s\n", res["leader"])
	return nil
}

func runJoinTokenCreate(env Env, args []string) error {
	fs, cf := apiFlags("operator join-token create", env)
	ttl := fs.String("ttl", "1h", "how long the token stays valid (at most 720h)")
	quiet := fs.Bool("quiet", false, "print only the token")
	c, err := cf.connect(fs, args)
	if err != nil {
		return err
	}
	var res api.TokenResponse
	if err := c.Do("POST", "/v1/cluster/join-tokens", nil, api.JoinTokenRequest{TTL: *ttl}, &res); err != nil {
		return err
	}
	if *quiet {
		fmt.Fprintln(env.Stdout, res.Token)
		return nil
	}
	fmt.Fprintf(env.Stdout, "Token:   %s\nExpires: %s\n\n", res.Token, res.ExpiresAt)
	fmt.Fprintln(env.Stdout, "On the new server:\n  vigil-hub init -data DIR -node-id NAME -ip ADDR -join THIS_NODE_API -token "+res.Token)
	return nil
}
