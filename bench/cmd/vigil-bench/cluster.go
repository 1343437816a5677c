package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/raft"

	"github.com/vigil-sec/vigil/hub/api"
)

// clusterFigures measures a three-node hub cluster of real vigil-hub
// processes on 127.0.0.1, 127.0.0.2 and 127.0.0.3, formed as an operator
// forms one (node 1 bootstraps; nodes 2 and 3 run vigil-hub init -join with
// a server join token), with Raft heartbeat and election timeouts of 300ms
// as in the end-to-end tests.
//
// Replicated ingest: -cluster-agents agents, agent i enrolled at node i,
// are filled with -cluster-lines corpus lines each while every hub is
// stopped; then the three hubs are started together and each agent's
// /status is polled every 20 ms. The rate is the seqs acknowledged by all
// agents together between the first sample showing any acknowledgement and
// the first showing every agent drained, over the time between the two, as
// in e2e (hub start-up, election and reconnect back-off are not counted).
// Every acknowledgement means the batch was committed by a quorum (two of
// the three nodes fsynced it) and applied.
//
// Failover: one agent sends -cluster-rate lines/s. -cluster-kills times: wait
// until the agent is steady (connected, acknowledging, less than half a
// second behind); arrange by leadership transfers that the agent is
// connected to the leader for one kill in three (kills 1, 4, 7, ...) and to
// a follower for the others, so that the mix does not vary between runs;
// SIGKILL the leader, read the agent's acked seq once the process is gone,
// and poll the agent's /status every 10 ms until its acked seq advances. That time, from the kill to the first new
// acknowledgement, is the failover as the agent sees it. The killed node is
// then restarted and waited for until it follows the new leader with
// everything the leader had applied, before the next kill. The same is then
// repeated (-cluster-default-kills times) with the Raft timeouts left at
// their defaults (every node restarted without the raft section).
//
// Snapshots: when bin/vigil-hub has `snapshot save` and `snapshot restore`
// commands (its usage lists them), a snapshot of the drained cluster is
// saved and restored and each is timed; the figure is the snapshot file's
// size over the command's wall time.
//
//	cluster_replicated_events_per_sec         drain of every agent into the cluster
//	cluster_failover_median_ms                kill of the leader to the agent's next acknowledgement
//	cluster_failover_max_ms
//	cluster_failover_agent_on_leader_median_ms    the agent was connected to the killed node
//	cluster_failover_agent_on_follower_median_ms  it was connected to a survivor
//	cluster_failover_*_default_timeouts           the same with hashicorp/raft's default timeouts
//	snapshot_save_mb_per_sec                  (only when the commands exist)
//	snapshot_restore_mb_per_sec
func (b *bench) clusterFigures() error {
	t0 := time.Now()
	c, err := b.newCluster(3, clusterFastRaft)
	if err != nil {
		return err
	}
	defer c.stopAll()
	b.logf("cluster: %d nodes up in %s (%s); %s", len(c.nodes), time.Since(t0).Round(time.Millisecond), c.describe(), clusterRaftSettings(clusterFastRaft))
	phase := func(what string, t time.Time) {
		b.logf("cluster: %s took %s", what, time.Since(t).Round(100*time.Millisecond))
	}

	t := time.Now()
	a, err := b.clusterDrain(c)
	if err != nil {
		return err
	}
	phase("replicated drain (fill, drain, checks)", t)
	t = time.Now()
	if err := b.clusterSnapshot(c); err != nil {
		return err
	}
	phase("snapshot save and restore", t)
	if b.cfg.clusterKills > 0 {
		t = time.Now()
		if err := b.clusterFailover(c, a, clusterFastRaft, b.cfg.clusterKills, ""); err != nil {
			return err
		}
		phase("failover", t)
	}
	if b.cfg.clusterDefaultKills > 0 {
		t = time.Now()
		b.logf("cluster: restarting every node with the default Raft timeouts")
		if err := c.restartWith(""); err != nil {
			return err
		}
		if err := b.clusterFailover(c, a, "", b.cfg.clusterDefaultKills, "_default_timeouts"); err != nil {
			return err
		}
		phase("failover with the default timeouts (restart included)", t)
	}
	return nil
}

// clusterFastRaft is the raft section the end-to-end tests append to every
// node's hub.yaml.
const clusterFastRaft = "raft:\n  heartbeat_timeout: 300ms\n  election_timeout: 300ms\n"

// clusterRaftSettings describes the Raft timing a raft section gives,
// including what hub/cluster derives from it.
func clusterRaftSettings(section string) string {
	def := raft.DefaultConfig()
	hb, el := def.HeartbeatTimeout, def.ElectionTimeout
	src := "hashicorp/raft defaults"
	if section != "" {
		hb, el = 300*time.Millisecond, 300*time.Millisecond
		src = "hub.yaml " + strings.Join(strings.Fields(strings.ReplaceAll(section, "\n", " ")), " ")
	}
	return fmt.Sprintf("raft timing (%s): heartbeat_timeout=%s election_timeout=%s leader_lease_timeout=%s",
		src, hb, el, min(def.LeaderLeaseTimeout, hb))
}

// clusterNode is one node of the bench's hub cluster. The embedded hubNode
// gives enroll (and so newAgent) and the API client; its start and stop are
// not used, since a node of a cluster only serves consistent reads once a
// quorum is up.
type clusterNode struct {
	*hubNode
	id, ip   string
	baseYAML []byte // hub.yaml as vigil-hub init wrote it
}

type hubCluster struct {
	b     *bench
	nodes []*clusterNode
}

// hubStatus is the part of a hub's /v1/status the bench reads; it is
// answered by the node itself.
type hubStatus struct {
	NodeID   string            `json:"node_id"`
	State    string            `json:"state"`
	LeaderID string            `json:"leader_id"`
	Applied  uint64            `json:"applied_index"`
	Last     uint64            `json:"last_index"`
	Raft     map[string]string `json:"raft"`
}

func (n *clusterNode) status() (hubStatus, error) {
	var st hubStatus
	if n.proc == nil || n.proc.exited() {
		return st, errors.New(n.id + " is not running")
	}
	err := n.client.Do("GET", "/v1/status", nil, nil, &st)
	return st, err
}

// counts reads GET /v1/events/counts from the node (stale: its own state,
// else a consistent read); the scan of every event may take a while.
func (n *clusterNode) counts(stale bool, out *api.CountsResponse) error {
	cl := *n.client
	hc := *cl.HTTP
	hc.Timeout = 2 * time.Minute
	cl.HTTP = &hc
	var q map[string][]string
	if stale {
		q = map[string][]string{"stale": {""}}
	}
	return cl.Do("GET", "/v1/events/counts", q, nil, out)
}

// clusterPorts returns three ports (ingest, raft, API) free for TCP and UDP
// on each of ips a moment ago; every node uses the same ports on its own
// address, as in the end-to-end tests.
func clusterPorts(ips []string) ([3]int, error) {
	var ports [3]int
	seen := map[int]bool{}
	for k, tries := 0, 0; k < len(ports); tries++ {
		if tries == 200 {
			return ports, errors.New("no port free on every address")
		}
		l, err := net.Listen("tcp", ips[0]+":0")
		if err != nil {
			return ports, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		l.Close()
		ok := !seen[p]
		for _, ip := range ips {
			if !ok {
				break
			}
			addr := net.JoinHostPort(ip, strconv.Itoa(p))
			if t, err := net.Listen("tcp", addr); err == nil {
				t.Close()
			} else {
				ok = false
			}
			if u, err := net.ListenPacket("udp", addr); err == nil {
				u.Close()
			} else {
				ok = false
			}
		}
		if ok {
			seen[p] = true
			ports[k] = p
			k++
		}
	}
	return ports, nil
}

// newCluster initialises and starts n nodes: node 1 bootstraps, the others
// join it with server join tokens. raftSection is appended to every
// hub.yaml.
func (b *bench) newCluster(n int, raftSection string) (*hubCluster, error) {
	c := &hubCluster{b: b}
	ips := make([]string, n)
	for i := range ips {
		ips[i] = fmt.Sprintf("127.0.0.%d", i+1)
	}
	ports, err := clusterPorts(ips)
	if err != nil {
		return nil, fmt.Errorf("cluster ports on %s: %w", strings.Join(ips, ", "), err)
	}
	hubBin := filepath.Join(b.cfg.binDir, "vigil-hub")
	for i, ip := range ips {
		id := fmt.Sprintf("hub-%d", i+1)
		at := func(p int) string { return net.JoinHostPort(ip, strconv.Itoa(p)) }
		h := &hubNode{b: b, name: "cluster-" + id, dir: filepath.Join(b.dir, "cluster-"+id),
			ingest: at(ports[0]), raft: at(ports[1]), apiA: at(ports[2])}
		args := []string{"init", "-data", h.dir, "-node-id", id, "-ip", ip,
			"-ingest-addr", h.ingest, "-raft-addr", h.raft, "-api-addr", h.apiA}
		if i > 0 {
			var res api.TokenResponse
			if err := c.nodes[0].client.Do("POST", "/v1/cluster/join-tokens", nil, api.JoinTokenRequest{TTL: "10m"}, &res); err != nil {
				return nil, fmt.Errorf("join token for %s: %w", id, err)
			}
			args = append(args, "-join", c.nodes[0].apiA, "-token", res.Token)
		}
		if out, err := exec.Command(hubBin, args...).CombinedOutput(); err != nil {
			return nil, fmt.Errorf("vigil-hub init %s: %w\n%s", id, err, out)
		}
		node := &clusterNode{hubNode: h, id: id, ip: ip}
		if node.baseYAML, err = os.ReadFile(filepath.Join(h.dir, "hub.yaml")); err != nil {
			return nil, err
		}
		if err := node.writeRaft(raftSection); err != nil {
			return nil, err
		}
		tok, err := os.ReadFile(filepath.Join(h.dir, "admin.token"))
		if err != nil {
			return nil, err
		}
		if h.client, err = api.NewClient("https://"+h.apiA, strings.TrimSpace(string(tok)), filepath.Join(h.dir, "tls", "ca.crt")); err != nil {
			return nil, err
		}
		// Polls of a node that was just killed must not hang.
		h.client.HTTP.Timeout = 5 * time.Second
		c.nodes = append(c.nodes, node)
		if err := node.startProc(); err != nil {
			return nil, err
		}
		if err := c.waitFollowing(node, 30*time.Second); err != nil {
			return nil, err
		}
	}
	if err := c.waitVoters(30 * time.Second); err != nil {
		return nil, err
	}
	return c, nil
}

// writeRaft rewrites hub.yaml as init wrote it plus raftSection.
func (n *clusterNode) writeRaft(raftSection string) error {
	return os.WriteFile(filepath.Join(n.dir, "hub.yaml"), append(slices.Clip(n.baseYAML), raftSection...), 0o600)
}

// startProc starts vigil-hub serve for the node without waiting.
func (n *clusterNode) startProc() error {
	args := []string{"serve", "-data", n.dir}
	if n.b.cfg.profile != "" {
		// Each start overwrites the node's profile: the last run is kept.
		args = append(args, "-cpuprofile", filepath.Join(n.b.cfg.profile, n.name+".pprof"))
	}
	var err error
	n.proc, err = n.b.sup.start(n.name, filepath.Join(n.b.dir, n.name+".log"), filepath.Join(n.b.cfg.binDir, "vigil-hub"), args...)
	return err
}

// waitFollowing waits until n is the leader or follows a known leader.
func (c *hubCluster) waitFollowing(n *clusterNode, timeout time.Duration) error {
	err := waitFor(timeout, 20*time.Millisecond, n.id+" in the cluster", func() bool {
		st, err := n.status()
		return err == nil && st.LeaderID != "" && (st.State == "Leader" || st.State == "Follower")
	})
	if err != nil && n.proc != nil {
		return fmt.Errorf("%w%s", err, n.proc.tail())
	}
	return err
}

// leader returns the live node that says it leads.
func (c *hubCluster) leader(timeout time.Duration) (*clusterNode, hubStatus, error) {
	var found *clusterNode
	var fst hubStatus
	err := waitFor(timeout, 10*time.Millisecond, "a leader", func() bool {
		for _, n := range c.nodes {
			if st, err := n.status(); err == nil && st.State == "Leader" {
				found, fst = n, st
				return true
			}
		}
		return false
	})
	return found, fst, err
}

// waitVoters waits until the leader lists every node as a voter.
func (c *hubCluster) waitVoters(timeout time.Duration) error {
	var last []api.Member
	err := waitFor(timeout, 50*time.Millisecond, fmt.Sprintf("%d voters", len(c.nodes)), func() bool {
		l, _, err := c.leader(5 * time.Second)
		if err != nil {
			return false
		}
		var ms []api.Member
		if l.client.Do("GET", "/v1/members", nil, nil, &ms) != nil {
			return false
		}
		last = ms
		voters := 0
		for _, m := range ms {
			if m.Voter {
				voters++
			}
		}
		return voters == len(c.nodes)
	})
	if err != nil {
		return fmt.Errorf("%w (members: %+v)", err, last)
	}
	return nil
}

func (c *hubCluster) describe() string {
	var parts []string
	for _, n := range c.nodes {
		role := "?"
		if st, err := n.status(); err == nil {
			role = strings.ToLower(st.State)
		}
		parts = append(parts, fmt.Sprintf("%s %s api %s %s", n.id, n.ingest, n.apiA, role))
	}
	return strings.Join(parts, "; ")
}

// stopAll stops every node cleanly, in parallel.
func (c *hubCluster) stopAll() {
	var wg sync.WaitGroup
	for _, n := range c.nodes {
		if n.proc == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			n.proc.stop(15 * time.Second)
		}()
	}
	wg.Wait()
}

// startAll starts every node and waits for a leader with every node
// following it.
func (c *hubCluster) startAll() error {
	for _, n := range c.nodes {
		if err := n.startProc(); err != nil {
			return err
		}
	}
	for _, n := range c.nodes {
		if err := c.waitFollowing(n, 60*time.Second); err != nil {
			return err
		}
	}
	return c.waitVoters(30 * time.Second)
}

// restartWith stops every node, rewrites the raft sections and starts them
// again.
func (c *hubCluster) restartWith(raftSection string) error {
	c.stopAll()
	for _, n := range c.nodes {
		if err := n.writeRaft(raftSection); err != nil {
			return err
		}
	}
	return c.startAll()
}

// clusterAgentView is the part of an agent's /status the cluster figures
// read beyond agentStatus: which hub it is connected to.
type clusterAgentView struct {
	Buffer struct {
		LastSeq  uint64 `json:"last_seq"`
		AckedSeq uint64 `json:"acked_seq"`
	} `json:"buffer"`
	Ship struct {
		State      string   `json:"state"`
		Hub        string   `json:"hub"`
		Hubs       []string `json:"hubs"`
		LastError  string   `json:"last_error"`
		Reconnects uint64   `json:"reconnects_total"`
		Duplicates uint64   `json:"batches_duplicate_total"`
	} `json:"connection"`
}

func (a *agentNode) clusterView() (clusterAgentView, error) {
	var v clusterAgentView
	resp, err := a.http.Get("http://" + a.status + "/status")
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return v, fmt.Errorf("status: HTTP %d", resp.StatusCode)
	}
	return v, json.NewDecoder(resp.Body).Decode(&v)
}

// nodeByIngest names the node whose ingest address is addr.
func (c *hubCluster) nodeByIngest(addr string) string {
	for _, n := range c.nodes {
		if n.ingest == addr {
			return n.id
		}
	}
	if addr == "" {
		return "none"
	}
	return addr
}

// clusterDrain is the replicated ingest figure. It returns the first agent,
// still running, for the failover figures.
func (b *bench) clusterDrain(c *hubCluster) (*agentNode, error) {
	nAgents := max(b.cfg.clusterAgents, 1)
	lines := b.cfg.clusterLines
	agents := make([]*agentNode, nAgents)
	for i := range agents {
		var err error
		if agents[i], err = b.newAgent(c.nodes[i%len(c.nodes)].hubNode, fmt.Sprintf("agent-cluster-%d", i+1)); err != nil {
			return nil, err
		}
	}
	for _, a := range agents {
		if err := a.waitConnected(30 * time.Second); err != nil {
			return nil, err
		}
	}
	if v, err := agents[0].clusterView(); err == nil {
		b.logf("cluster: agents enrolled at nodes 1..%d; agent 1 knows hubs %v", min(nAgents, len(c.nodes)), v.Ship.Hubs)
	}
	// Two sysloggen processes per agent, each with its own slice of the
	// corpus.
	const perAgent = 2
	files := make([][]string, nAgents)
	for i := range files {
		for j := 0; j < perAgent; j++ {
			f := filepath.Join(b.dir, fmt.Sprintf("cluster-%d-%d.lines", i, j))
			from, to := j*lines/perAgent, (j+1)*lines/perAgent
			if err := b.corpus.writeLines(f, i*lines+from, to-from); err != nil {
				return nil, err
			}
			files[i] = append(files[i], f)
		}
	}
	t := time.Now()
	c.stopAll()
	b.logf("cluster: every hub stopped in %s; filling %d agents with %d lines each", time.Since(t).Round(time.Millisecond), nAgents, lines)
	t = time.Now()
	var gens []*proc
	for i, a := range agents {
		for j, f := range files[i] {
			g, err := b.sup.start(fmt.Sprintf("sysloggen-cluster-%d-%d", i+1, j), filepath.Join(b.dir, fmt.Sprintf("sysloggen-cluster-%d-%d.log", i+1, j)),
				filepath.Join(b.cfg.binDir, "sysloggen"), "-tcp", a.tcp, "-octet", "-file", f)
			if err != nil {
				return nil, err
			}
			gens = append(gens, g)
		}
	}
	for _, g := range gens {
		if err := g.wait(180 * time.Second); err != nil {
			return nil, err
		}
	}
	for _, a := range agents {
		var last uint64
		err := waitFor(30*time.Second, 10*time.Millisecond, a.name+" buffer filled", func() bool {
			st, err := a.getStatus()
			last = st.Buffer.LastSeq
			return err == nil && last >= uint64(lines)
		})
		if err != nil {
			return nil, fmt.Errorf("%w: at seq %d", err, last)
		}
	}
	total := uint64(nAgents * lines)
	b.logf("cluster: filled in %s (%.0f lines/s intake); starting the three hubs", time.Since(t).Round(time.Millisecond), float64(total)/time.Since(t).Seconds())

	// Poll from before the hubs start, so the first acknowledgement is seen.
	type sample struct {
		t     time.Time
		acked uint64
	}
	done := make(chan error, 1)
	var first, final sample
	go func() {
		deadline := time.Now().Add(240 * time.Second)
		for {
			var sum uint64
			all := true
			for _, a := range agents {
				st, err := a.getStatus()
				if err != nil {
					all = false
					continue
				}
				sum += st.Buffer.AckedSeq
				if st.Buffer.AckedSeq < uint64(lines) {
					all = false
				}
			}
			now := time.Now()
			if first.t.IsZero() && sum > 0 {
				first = sample{now, sum}
			}
			if all {
				final = sample{now, sum}
				done <- nil
				return
			}
			if now.After(deadline) {
				done <- fmt.Errorf("cluster drain: %d of %d acknowledged after 240s", sum, total)
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	t = time.Now()
	for _, n := range c.nodes {
		if err := n.startProc(); err != nil {
			return nil, err
		}
	}
	cpu0 := map[int]time.Duration{}
	for _, n := range c.nodes {
		cpu0[n.proc.pid()] = procCPU(n.proc.pid())
	}
	for _, a := range agents {
		cpu0[a.proc.pid()] = procCPU(a.proc.pid())
	}
	l, lst, lerr := c.leader(60 * time.Second)
	if lerr == nil {
		b.logf("cluster: %s leads (term %s) %s after the start", l.id, lst.Raft["term"], time.Since(t).Round(time.Millisecond))
	}
	if err := <-done; err != nil {
		return nil, err
	}
	wall := final.t.Sub(first.t)
	if wall <= 0 {
		return nil, errors.New("cluster drain: everything was acknowledged between two samples; use more -cluster-lines")
	}
	rate := float64(final.acked-first.acked) / wall.Seconds()
	b.logf("cluster: drain: %d events acknowledged in %s after the first acknowledgement (%s after the hubs were started): %.0f events/s",
		final.acked-first.acked, wall.Round(time.Millisecond), final.t.Sub(t).Round(time.Millisecond), rate)
	cpuWall := time.Since(t)
	for _, n := range c.nodes {
		b.logClusterCPU(n.id, n.proc.pid(), cpu0, cpuWall)
	}
	for _, a := range agents {
		b.logClusterCPU(a.name, a.proc.pid(), cpu0, cpuWall)
	}
	var conn []string
	for _, a := range agents {
		if v, err := a.clusterView(); err == nil {
			conn = append(conn, fmt.Sprintf("%s->%s (%d reconnects, %d duplicate batches)", a.name, c.nodeByIngest(v.Ship.Hub), v.Ship.Reconnects, v.Ship.Duplicates))
		}
	}
	b.logf("cluster: agents connected: %s", strings.Join(conn, ", "))
	if l, lst2, err := c.leader(10 * time.Second); err == nil {
		b.logf("cluster: after the drain %s leads, term %s (leader changes during the drain show as a higher term than %s), applied index %d",
			l.id, lst2.Raft["term"], lst.Raft["term"], lst2.Applied)
	}
	// Every node holds every event once the cluster settles.
	t = time.Now()
	errs := make([]error, len(c.nodes))
	var wg sync.WaitGroup
	for i, n := range c.nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var counts api.CountsResponse
			err := waitFor(60*time.Second, 100*time.Millisecond, n.id+" holding every event", func() bool {
				return n.counts(true, &counts) == nil && counts.Total == total
			})
			if err != nil {
				errs[i] = fmt.Errorf("%w (it holds %d of %d)", err, counts.Total, total)
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	b.logf("cluster: each of the %d nodes holds the %d events (checked in %s)", len(c.nodes), total, time.Since(t).Round(time.Millisecond))
	b.figure("cluster_replicated_events_per_sec", rate, "events/s")
	// Only the first agent carries on, for the failover figures.
	for _, a := range agents[1:] {
		a.proc.stop(10 * time.Second)
	}
	return agents[0], nil
}

// logClusterCPU reports the CPU a process used since cpu0 was sampled.
func (b *bench) logClusterCPU(name string, pid int, cpu0 map[int]time.Duration, wall time.Duration) {
	c0, ok := cpu0[pid]
	c1 := procCPU(pid)
	if !ok || c0 < 0 || c1 < 0 || wall <= 0 {
		return
	}
	used := c1 - c0
	b.logf("cluster: drain: %s used %.1f CPU-s over %s (%.0f%% of one core)", name, used.Seconds(), wall.Round(time.Millisecond), 100*used.Seconds()/wall.Seconds())
}

// clusterFailover kills the leader kills times while one agent sends at a
// steady rate, and prints the median and largest time from the kill to the
// agent's next acknowledgement.
func (b *bench) clusterFailover(c *hubCluster, a *agentNode, raftSection string, kills int, suffix string) error {
	rate := max(b.cfg.clusterRate, 1)
	// Enough lines for every kill at a few seconds each, with margin.
	n := rate * (20 + kills*8)
	file := filepath.Join(b.dir, "cluster-failover.lines")
	if err := b.corpus.writeLines(file, 0, n); err != nil {
		return err
	}
	if err := a.waitConnected(30 * time.Second); err != nil {
		return err
	}
	gen, err := b.sup.start("sysloggen-failover"+suffix, filepath.Join(b.dir, "sysloggen-failover"+suffix+".log"),
		filepath.Join(b.cfg.binDir, "sysloggen"), "-tcp", a.tcp, "-octet", "-file", file, "-rate", strconv.Itoa(rate))
	if err != nil {
		return err
	}
	defer gen.stop(5 * time.Second)
	b.logf("cluster: failover%s: %s; agent sends %d lines/s; %d leader kills", suffix, clusterRaftSettings(raftSection), rate, kills)
	var times []time.Duration
	var onLeader, onFollower []time.Duration
	for k := 1; k <= kills; k++ {
		if gen.exited() {
			return fmt.Errorf("cluster failover: sysloggen ended early%s", gen.tail())
		}
		// One kill in three with the agent connected to the leader, as
		// for one agent in three of a fleet spread over three nodes.
		wantOnLeader := k%3 == 1
		l, lst, before, err := c.placeLeader(b, a, rate, wantOnLeader)
		if err != nil {
			return fmt.Errorf("kill %d: %w", k, err)
		}
		term0, _ := strconv.ParseUint(lst.Raft["term"], 10, 64)
		// Election watch: the first surviving node to say it leads in a
		// later term.
		elected := make(chan string, 1)
		stopWatch, watchDone := make(chan struct{}), make(chan struct{})
		endWatch := func() { close(stopWatch); <-watchDone }
		killed := time.Now()
		l.proc.kill()
		reaped := time.Since(killed)
		go func() {
			defer close(watchDone)
			for {
				select {
				case <-stopWatch:
					return
				default:
				}
				for _, n := range c.nodes {
					if n == l {
						continue
					}
					st, err := n.status()
					if t, _ := strconv.ParseUint(st.Raft["term"], 10, 64); err == nil && st.State == "Leader" && t > term0 {
						elected <- fmt.Sprintf("%s elected after %s (term %d)", n.id, time.Since(killed).Round(time.Millisecond), t)
						return
					}
				}
				time.Sleep(10 * time.Millisecond)
			}
		}()
		// Acknowledgements already on their way when the leader died may
		// still arrive; the baseline is read once the process is gone.
		v0, err := a.clusterView()
		if err != nil {
			endWatch()
			return err
		}
		var fo time.Duration
		var after clusterAgentView
		err = waitFor(60*time.Second, 10*time.Millisecond, "the agent's acknowledgements to resume", func() bool {
			v, err := a.clusterView()
			fo = time.Since(killed)
			after = v
			return err == nil && v.Buffer.AckedSeq > v0.Buffer.AckedSeq
		})
		if err != nil {
			endWatch()
			return fmt.Errorf("kill %d of %s: %w (agent: %+v)", k, l.id, err, after.Ship)
		}
		election := "no new leader seen yet"
		select {
		case e := <-elected:
			election = e
		case <-time.After(5 * time.Second):
		}
		endWatch()
		times = append(times, fo)
		where := "a follower"
		if c.nodeByIngest(before.Ship.Hub) == l.id {
			where = "the leader"
			onLeader = append(onLeader, fo)
		} else {
			onFollower = append(onFollower, fo)
		}
		// Restart the killed node and wait until it follows with every
		// entry the leader had applied.
		t := time.Now()
		if err := l.startProc(); err != nil {
			return err
		}
		if err := c.waitCaughtUp(l, 60*time.Second); err != nil {
			return err
		}
		b.logf("cluster: failover%s: kill %d: %s (agent on %s, %s) killed (reaped in %s), acked seq %d→%d: acknowledgements resumed after %s via %s; %s; %s back in %s",
			suffix, k, l.id, c.nodeByIngest(before.Ship.Hub), where, reaped.Round(time.Millisecond), v0.Buffer.AckedSeq, after.Buffer.AckedSeq,
			fo.Round(time.Millisecond), c.nodeByIngest(after.Ship.Hub), election, l.id, time.Since(t).Round(time.Millisecond))
	}
	gen.stop(5 * time.Second)
	if err := c.checkExactlyOnce(b, a); err != nil {
		return err
	}
	if v, err := a.clusterView(); err == nil {
		b.logf("cluster: failover%s: agent totals: %d reconnects, %d duplicate batches", suffix, v.Ship.Reconnects, v.Ship.Duplicates)
	}
	sorted := slices.Clone(times)
	slices.Sort(sorted)
	b.logf("cluster: failover%s: all (ms, sorted): %v", suffix, fmtMillis(sorted))
	b.figure("cluster_failover_median_ms"+suffix, durMillis(medianDuration(times)), "ms")
	b.figure("cluster_failover_max_ms"+suffix, durMillis(sorted[len(sorted)-1]), "ms")
	if len(onLeader) > 0 {
		b.figure("cluster_failover_agent_on_leader_median_ms"+suffix, durMillis(medianDuration(onLeader)), "ms")
	}
	if len(onFollower) > 0 {
		b.figure("cluster_failover_agent_on_follower_median_ms"+suffix, durMillis(medianDuration(onFollower)), "ms")
	}
	return nil
}

func durMillis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func medianDuration(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func fmtMillis(ds []time.Duration) string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = strconv.FormatFloat(durMillis(d), 'f', 0, 64)
	}
	return strings.Join(parts, " ")
}

// placeLeader waits until the agent is steady and then, by leadership
// transfers, until the leader is (onLeader) or is not the node the agent is
// connected to. It returns the leader, its status and the agent's view.
func (c *hubCluster) placeLeader(b *bench, a *agentNode, rate int, onLeader bool) (*clusterNode, hubStatus, clusterAgentView, error) {
	var v clusterAgentView
	for attempt := 0; attempt < 10; attempt++ {
		if err := b.clusterSteady(a, rate, 60*time.Second); err != nil {
			return nil, hubStatus{}, v, err
		}
		l, lst, err := c.leader(30 * time.Second)
		if err != nil {
			return nil, lst, v, err
		}
		if v, err = a.clusterView(); err != nil {
			return nil, lst, v, err
		}
		on := c.nodeByIngest(v.Ship.Hub)
		if (on == l.id) == onLeader {
			return l, lst, v, nil
		}
		req := api.TransferRequest{}
		if onLeader {
			req.ID = on
		}
		var res map[string]string
		if err := l.client.Do("POST", "/v1/operator/raft/transfer-leadership", nil, req, &res); err != nil {
			b.logf("cluster: transfer of leadership from %s (for the agent on %s) failed: %v", l.id, on, err)
			time.Sleep(200 * time.Millisecond)
			continue
		}
		// Wait for the new leader to be in place before checking again.
		_ = waitFor(10*time.Second, 20*time.Millisecond, "the new leader", func() bool {
			nl, _, err := c.leader(time.Second)
			return err == nil && nl != l
		})
	}
	return nil, hubStatus{}, v, fmt.Errorf("could not place the leader (agent on the leader: %v) after 10 attempts", onLeader)
}

// checkExactlyOnce waits until the agent has shipped everything and checks
// that the cluster stores exactly as many of its events as it has seqs.
func (c *hubCluster) checkExactlyOnce(b *bench, a *agentNode) error {
	data, err := os.ReadFile(filepath.Join(a.dir, "identity.json"))
	if err != nil {
		return err
	}
	var ident struct {
		AgentID string `json:"agent_id"`
	}
	if err := json.Unmarshal(data, &ident); err != nil {
		return fmt.Errorf("identity.json: %w", err)
	}
	var v clusterAgentView
	err = waitFor(60*time.Second, 20*time.Millisecond, a.name+" drained", func() bool {
		v, err = a.clusterView()
		return err == nil && v.Buffer.AckedSeq == v.Buffer.LastSeq
	})
	if err != nil {
		return fmt.Errorf("%w (acked %d of %d)", err, v.Buffer.AckedSeq, v.Buffer.LastSeq)
	}
	l, _, err := c.leader(30 * time.Second)
	if err != nil {
		return err
	}
	var counts api.CountsResponse
	if err := l.counts(false, &counts); err != nil {
		return err
	}
	if got := counts.ByAgent[ident.AgentID]; got != v.Buffer.LastSeq {
		return fmt.Errorf("the cluster stores %d events of %s, which appended %d: not exactly once", got, a.name, v.Buffer.LastSeq)
	}
	b.logf("cluster: %s's %d events are stored exactly once (cluster total %d)", a.name, v.Buffer.LastSeq, counts.Total)
	return nil
}

// clusterSteady waits until the agent is connected, acknowledging, and less
// than half a second of sending behind.
func (b *bench) clusterSteady(a *agentNode, rate int, timeout time.Duration) error {
	var prev uint64
	var v clusterAgentView
	err := waitFor(timeout, 250*time.Millisecond, a.name+" steady", func() bool {
		var err error
		v, err = a.clusterView()
		if err != nil {
			return false
		}
		ok := v.Ship.State == "connected" && prev > 0 && v.Buffer.AckedSeq > prev &&
			v.Buffer.LastSeq-v.Buffer.AckedSeq < uint64(rate/2)
		prev = v.Buffer.AckedSeq
		return ok
	})
	if err != nil {
		return fmt.Errorf("%w (state %s, acked %d, last %d, last error %q)", err, v.Ship.State, v.Buffer.AckedSeq, v.Buffer.LastSeq, v.Ship.LastError)
	}
	return nil
}

// waitCaughtUp waits until the restarted node n follows the leader, has
// applied everything the leader had applied when n came up, and the leader
// lists it as a voter.
func (c *hubCluster) waitCaughtUp(n *clusterNode, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	if err := c.waitFollowing(n, timeout); err != nil {
		return err
	}
	var target uint64
	var leaderID string
	var st hubStatus
	err := waitFor(time.Until(deadline), 20*time.Millisecond, n.id+" caught up", func() bool {
		if target == 0 {
			l, lst, err := c.leader(time.Second)
			if err != nil || l == n {
				return false
			}
			target, leaderID = lst.Applied, l.id
		}
		var err error
		st, err = n.status()
		return err == nil && st.State == "Follower" && st.LeaderID == leaderID && st.Applied >= target
	})
	if err != nil {
		return fmt.Errorf("%w (applied %d, want %d from %s; state %s)%s", err, st.Applied, target, leaderID, st.State, n.proc.tail())
	}
	return c.waitVoters(time.Until(deadline))
}

// snapshotHelp returns the help text of `vigil-hub snapshot SUB`, or "" when
// the usage does not list the command.
func (b *bench) snapshotHelp(usage, sub string) string {
	if !regexp.MustCompile(`(?m)^\s*snapshot\s+` + sub + `\b`).MatchString(usage) {
		return ""
	}
	out, _ := exec.Command(filepath.Join(b.cfg.binDir, "vigil-hub"), "snapshot", sub, "-h").CombinedOutput()
	return string(out)
}

// helpFlags lists the flag names a Go flag package help text shows.
func helpFlags(help string) []string {
	var fl []string
	for _, m := range regexp.MustCompile(`(?m)^\s+-([A-Za-z][\w-]*)`).FindAllStringSubmatch(help, -1) {
		fl = append(fl, m[1])
	}
	sort.Strings(fl)
	return fl
}

// snapshotArgs builds the arguments of `vigil-hub snapshot SUB` for node n
// and file from its help text: -data for the node when it has the flag, the
// file by whichever flag names it, else as the argument.
func snapshotArgs(help, sub string, n *clusterNode, file string) []string {
	fl := helpFlags(help)
	args := []string{"snapshot", sub}
	if slices.Contains(fl, "data") {
		args = append(args, "-data", n.dir)
	}
	for _, f := range []string{"file", "out", "o", "output", "in", "i", "input", "path", "snapshot"} {
		if slices.Contains(fl, f) {
			return append(args, "-"+f, file)
		}
	}
	return append(args, file)
}

// clusterSnapshot times `vigil-hub snapshot save` and `snapshot restore` on
// the drained cluster, when the commands exist.
func (b *bench) clusterSnapshot(c *hubCluster) error {
	hubBin := filepath.Join(b.cfg.binDir, "vigil-hub")
	usage, _ := exec.Command(hubBin).CombinedOutput()
	saveHelp, restoreHelp := b.snapshotHelp(string(usage), "save"), b.snapshotHelp(string(usage), "restore")
	if saveHelp == "" {
		b.logf("cluster: NOTE: %s has no 'snapshot save' command (its usage does not list it): snapshot_save_mb_per_sec and snapshot_restore_mb_per_sec skipped", hubBin)
		return nil
	}
	l, _, err := c.leader(30 * time.Second)
	if err != nil {
		return err
	}
	file := filepath.Join(b.dir, "cluster.snap")
	args := snapshotArgs(saveHelp, "save", l, file)
	t := time.Now()
	out, err := exec.Command(hubBin, args...).CombinedOutput()
	el := time.Since(t)
	if err != nil {
		b.logf("cluster: NOTE: vigil-hub %s failed (%v): %s; snapshot figures skipped", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		return nil
	}
	fi, err := os.Stat(file)
	if err != nil {
		b.logf("cluster: NOTE: vigil-hub %s wrote no %s (%v): %s; snapshot figures skipped", strings.Join(args, " "), file, err, strings.TrimSpace(string(out)))
		return nil
	}
	mb := float64(fi.Size()) / 1e6
	b.logf("cluster: snapshot save: vigil-hub %s: %.1f MB in %s: %s", strings.Join(args, " "), mb, el.Round(time.Millisecond), oneLine(out))
	b.figure("snapshot_save_mb_per_sec", mb/el.Seconds(), "MB/s")
	if restoreHelp == "" {
		b.logf("cluster: NOTE: no 'snapshot restore' command: snapshot_restore_mb_per_sec skipped")
		return nil
	}
	args = snapshotArgs(restoreHelp, "restore", l, file)
	t = time.Now()
	out, err = exec.Command(hubBin, args...).CombinedOutput()
	el = time.Since(t)
	if err != nil {
		b.logf("cluster: NOTE: vigil-hub %s failed (%v): %s; snapshot_restore_mb_per_sec skipped", strings.Join(args, " "), err, strings.TrimSpace(string(out)))
		return nil
	}
	b.logf("cluster: snapshot restore: vigil-hub %s: %.1f MB in %s: %s", strings.Join(args, " "), mb, el.Round(time.Millisecond), oneLine(out))
	b.figure("snapshot_restore_mb_per_sec", mb/el.Seconds(), "MB/s")
	// The cluster must still take writes after a restore.
	return c.waitVoters(30 * time.Second)
}

// oneLine joins a command's output into one line for the log.
func oneLine(out []byte) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(string(out), "\n", " | ")), " ")
}
