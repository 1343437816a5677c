package fsm_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/vigil-sec/vigil/hub/fsm"
	"github.com/vigil-sec/vigil/protocol/agentpb"
	"github.com/vigil-sec/vigil/protocol/raftpb"
)

// mixedLog generates n entries of every kind from a fixed seed: token
// creates and consumes (good, refused, expired, duplicate), ingest batches
// (in order, duplicate, overlapping, gapped, new and stale epochs, corrupt,
// zero timestamps, unknown agents), ignorable unknown commands and
// non-command entries.
func mixedLog(t *testing.T, n int) []*raft.Log {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	type agentModel struct {
		id    string
		epoch uint64
		acked uint64
	}
	type tokenModel struct {
		id, secret string
		expires    int64
	}
	var agents []*agentModel
	var tokens []tokenModel
	var logs []*raft.Log
	now := int64(1000)
	add := func(typ raft.LogType, data []byte) {
		logs = append(logs, &raft.Log{Index: uint64(len(logs) + 1), Term: 1, Type: typ, Data: data})
	}
	for len(logs) < n {
		now += int64(rng.IntN(20))
		k := rng.IntN(100)
		switch {
		case k < 10 || len(agents) == 0:
			id := fmt.Sprintf("tok-%d", len(tokens))
			if len(tokens) > 0 && rng.IntN(8) == 0 {
				id = tokens[rng.IntN(len(tokens))].id // duplicate id
			}
			tk := tokenModel{id: id, secret: fmt.Sprintf("s%d", rng.IntN(1000)), expires: now + int64(rng.IntN(400))}
			tokens = append(tokens, tk)
			add(raft.LogCommand, cmd(t, fsm.TokenCreateType, &raftpb.TokenCreate{
				TokenId: tk.id, SecretHash: tk.secret, Branch: fmt.Sprintf("br%d", rng.IntN(3)), ExpiresAt: tk.expires, Now: now}))
			if len(agents) == 0 || rng.IntN(2) == 0 {
				// Enroll with it at once, usually successfully.
				agent := fmt.Sprintf("ag-%d", len(logs))
				secret := tk.secret
				if rng.IntN(6) == 0 {
					secret = "wrong"
				} else if tk.expires > now {
					agents = append(agents, &agentModel{id: agent})
				}
				add(raft.LogCommand, cmd(t, fsm.TokenConsumeType, &raftpb.TokenConsume{
					TokenId: tk.id, SecretHash: secret, AgentId: agent, Hostname: "h", AgentVersion: "1", Now: now}))
			}
		case k < 18:
			// Consumes that are mostly refused: reused, expired or unknown tokens.
			tk := tokens[rng.IntN(len(tokens))]
			if rng.IntN(4) == 0 {
				tk.id = "no-such-token"
			}
			agent := agents[rng.IntN(len(agents))].id
			if rng.IntN(2) == 0 {
				agent = fmt.Sprintf("late-%d", len(logs))
			}
			add(raft.LogCommand, cmd(t, fsm.TokenConsumeType, &raftpb.TokenConsume{
				TokenId: tk.id, SecretHash: tk.secret, AgentId: agent, Now: now + int64(rng.IntN(800))}))
		case k < 90:
			a := agents[rng.IntN(len(agents))]
			size := uint64(1 + rng.IntN(30))
			first, epoch := a.acked+1, max(a.epoch, 1)
			var m *raftpb.IngestBatch
			switch v := rng.IntN(20); {
			case v < 10:
				m = seqBatch(a.id, epoch, first, first+size-1, now)
			case v < 12 && a.acked > 0: // duplicate
				f := 1 + rng.Uint64N(a.acked)
				m = seqBatch(a.id, epoch, f, min(f+size, a.acked), now)
			case v < 14 && a.acked > 0: // overlap
				f := 1 + rng.Uint64N(a.acked)
				m = seqBatch(a.id, epoch, f, a.acked+size, now)
			case v < 15: // gap
				m = seqBatch(a.id, epoch, first+1+rng.Uint64N(5), first+10, now)
			case v < 16: // new epoch
				m = seqBatch(a.id, epoch+1, 1, size, now)
			case v < 17 && epoch > 1: // stale epoch
				m = seqBatch(a.id, epoch-1, 1, size, now)
			case v < 18: // corrupt
				m = seqBatch(a.id, epoch, first, first+size-1, now)
				if rng.IntN(2) == 0 {
					m.Payload = m.Payload[:len(m.Payload)/2]
				} else {
					m.LastSeq++
				}
			case v < 19: // zero timestamps, uncompressed
				evs := eventsFor(a.id, epoch, first, first+size-1, "")
				for i := range evs {
					if i%2 == 0 {
						evs[i].ts = 0
					}
				}
				m = batchOf(a.id, epoch, first, first+size-1, now, evs)
				m.Payload, m.Compression = rawPayload(evs), uint32(agentpb.Compression_COMPRESSION_NONE)
			default:
				m = seqBatch("stranger", 1, 1, size, now)
			}
			add(raft.LogCommand, cmd(t, fsm.IngestBatchType, m))
			// Follow what the state machine will do.
			switch {
			case m.AgentId != a.id || m.Epoch < epoch || m.LastSeq < m.FirstSeq:
			case m.Epoch > epoch && m.FirstSeq == 1 && int(m.LastSeq-m.FirstSeq+1) == countRecords(t, m):
				a.epoch, a.acked = m.Epoch, m.LastSeq
			case m.Epoch == epoch && m.FirstSeq <= a.acked+1 && m.LastSeq > a.acked && int(m.LastSeq-m.FirstSeq+1) == countRecords(t, m):
				a.epoch, a.acked = epoch, m.LastSeq
			}
		case k < 95:
			add(raft.LogCommand, []byte{byte(fsm.IgnoreUnknownTypeFlag) | byte(100+rng.IntN(27)), 1, 2})
		default:
			add(raft.LogNoop, nil)
		}
	}
	return logs[:n]
}

// countRecords returns how many records a batch holds, or -1 if it does not
// decode.
func countRecords(t *testing.T, m *raftpb.IngestBatch) int {
	t.Helper()
	raw := m.Payload
	if m.Compression == uint32(agentpb.Compression_COMPRESSION_ZSTD) {
		dec, err := zdec.DecodeAll(m.Payload, nil)
		if err != nil {
			return -1
		}
		raw = dec
	}
	n := 0
	for len(raw) > 0 {
		l, w := uvarint(raw)
		if w <= 0 || int(l) > len(raw)-w {
			return -1
		}
		raw = raw[w+int(l):]
		n++
	}
	return n
}

// TestFSM_Deterministic applies the same log to three state machines, each
// over its own store and each batching the entries differently, and
// requires identical results and identical stores.
func TestFSM_Deterministic(t *testing.T) {
	logs := mixedLog(t, 200)

	a, b, c := newHarness(t), newHarness(t), newHarness(t)
	var ra, rb, rc []string
	chunks := rand.New(rand.NewPCG(3, 5))
	for i := 0; i < len(logs); {
		j := min(len(logs), i+1+chunks.IntN(25))
		for _, r := range a.f.ApplyBatch(logs[i:j]) {
			ra = append(ra, describe(r))
		}
		i = j
	}
	for _, l := range logs {
		rb = append(rb, describe(b.f.Apply(l)))
	}
	for _, r := range c.f.ApplyBatch(logs) {
		rc = append(rc, describe(r))
	}

	for i := range logs {
		if ra[i] != rb[i] || ra[i] != rc[i] {
			t.Fatalf("entry %d: results differ:\n%s\n%s\n%s", i+1, ra[i], rb[i], rc[i])
		}
	}
	ha, hb, hc := a.hash(), b.hash(), c.hash()
	if ha != hb || ha != hc {
		t.Fatalf("store hashes differ: %s %s %s", ha, hb, hc)
	}
	// The applied index is that of the last command (no-ops are not applied).
	var lastCmd uint64
	for _, l := range logs {
		if l.Type == raft.LogCommand {
			lastCmd = l.Index
		}
	}
	if lastCmd < 190 || a.applied() != lastCmd || b.applied() != lastCmd || c.applied() != lastCmd {
		t.Fatalf("applied %d %d %d, last command %d", a.applied(), b.applied(), c.applied(), lastCmd)
	}

	// The log really is mixed: every outcome occurs.
	seen := map[string]int{}
	for _, r := range ra {
		switch {
		case r == "nil":
			seen["nil"]++
		case len(r) > 6 && r[:6] == "ingest":
			var st fsm.IngestStatus
			fmt.Sscanf(r, "ingest {Status:%d", &st)
			seen[fmt.Sprint("ingest-", st)]++
		default:
			seen["token"]++
		}
	}
	for _, k := range []string{"nil", "token", "ingest-0", "ingest-1", "ingest-2"} {
		if seen[k] < 5 {
			t.Errorf("only %d results of kind %s in the mixed log: %v", seen[k], k, seen)
		}
	}
	if n := a.totalEvents(); n < 500 {
		t.Errorf("only %d events stored", n)
	}
	agents, _ := a.st.Agents("")
	if len(agents) < 5 {
		t.Errorf("only %d agents", len(agents))
	}
}
