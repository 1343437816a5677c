package e2e

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/vigil-sec/vigil/agent/enroll"
	"github.com/vigil-sec/vigil/hub/api"
)

// tokenOp is one operation on an enrollment token: a consume (an agent
// enrolls with it) or a read of who used it.
type tokenOp struct {
	Token   string
	Consume bool
}

// tokenOut is the outcome: for a consume, whether it was accepted and the
// agent ID the hub gave; for a read, the agent the token was used by.
type tokenOut struct {
	OK      bool
	UsedBy  string
	Unknown bool // the outcome is not known (the call failed in transit)
}

// tokenModel: a token is a register that goes once from "" to the ID of the
// one agent that consumed it.
var tokenModel = porcupine.Model{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		by := map[string][]porcupine.Operation{}
		var keys []string
		for _, op := range h {
			k := op.Input.(tokenOp).Token
			if _, ok := by[k]; !ok {
				keys = append(keys, k)
			}
			by[k] = append(by[k], op)
		}
		out := make([][]porcupine.Operation, 0, len(keys))
		for _, k := range keys {
			out = append(out, by[k])
		}
		return out
	},
	Init: func() any { return "" },
	Step: func(state, input, output any) (bool, any) {
		st, in, out := state.(string), input.(tokenOp), output.(tokenOut)
		if out.Unknown {
			if in.Consume && st == "" && out.UsedBy != "" {
				return true, out.UsedBy
			}
			return true, st
		}
		if in.Consume {
			if out.OK {
				return st == "", out.UsedBy
			}
			return st != "", st
		}
		return out.UsedBy == st, st
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(tokenOp), output.(tokenOut)
		if in.Consume {
			return fmt.Sprintf("consume(%s) -> ok=%v %s", in.Token, out.OK, out.UsedBy)
		}
		return fmt.Sprintf("read(%s) -> %q", in.Token, out.UsedBy)
	},
}

// TestE2E_ClusterTokenConsumptionLinearizable has concurrent clients enroll
// with the same single-use tokens through different nodes of a three-node
// cluster while others read the tokens' state through different nodes, kills
// the leader part way, and checks the recorded history with porcupine: every
// token is consumed at most once and every (consistent) read agrees with a
// single order of the operations.
func TestE2E_ClusterTokenConsumptionLinearizable(t *testing.T) {
	nodes := startCluster(t, 3)
	const tokens, consumers, readers = 12, 4, 3
	start := time.Now()
	now := func() int64 { return int64(time.Since(start)) }
	var mu sync.Mutex
	var history []porcupine.Operation
	record := func(client int, in tokenOp, call int64, out tokenOut) {
		ret := now()
		if out.Unknown {
			ret = math.MaxInt64 // may take effect at any time after the call
		}
		mu.Lock()
		history = append(history, porcupine.Operation{ClientId: client, Input: in, Call: call, Output: out, Return: ret})
		mu.Unlock()
	}
	killed := false
	for k := 0; k < tokens; k++ {
		if k == tokens/2 && !killed {
			l := leader(t, nodes)
			l.kill9()
			killed = true
			defer l.startAndWait()
		}
		live := []*clusterNode{}
		for _, n := range nodes {
			if n.cmd != nil {
				live = append(live, n)
			}
		}
		var tok api.TokenResponse
		waitFor(t, 20*time.Second, "a token", func() bool {
			return live[k%len(live)].client.Do("POST", "/v1/enroll-tokens", nil, api.TokenRequest{Branch: "lin", TTL: "10m"}, &tok) == nil
		})
		var wg sync.WaitGroup
		for c := 0; c < consumers; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := live[c%len(live)]
				dir := filepath.Join(t.TempDir(), "a")
				call := now()
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				id, err := enroll.Enroll(ctx, enroll.Request{Hub: n.ingestAddr(), Token: tok.Token, Hostname: "lin", Paths: enroll.Paths{
					Key: filepath.Join(dir, "k"), Cert: filepath.Join(dir, "c"), CA: filepath.Join(dir, "ca"), Identity: filepath.Join(dir, "id")}})
				switch {
				case err == nil:
					record(c, tokenOp{tok.ID, true}, call, tokenOut{OK: true, UsedBy: id.AgentID})
				case strings.Contains(err.Error(), "already used"):
					record(c, tokenOp{tok.ID, true}, call, tokenOut{})
				default:
					t.Logf("token %d consumer %d via %s: %v", k, c, n.ip, err)
					record(c, tokenOp{tok.ID, true}, call, tokenOut{Unknown: true})
				}
			}()
		}
		for r := 0; r < readers; r++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n := live[(r+1)%len(live)]
				for i := 0; i < 3; i++ {
					call := now()
					var toks []api.TokenInfo
					if err := n.client.Do("GET", "/v1/enroll-tokens", nil, nil, &toks); err != nil {
						continue // a failed read has no effect to check
					}
					for _, ti := range toks {
						if ti.ID == tok.ID {
							record(consumers+r, tokenOp{tok.ID, false}, call, tokenOut{UsedBy: ti.UsedBy})
						}
					}
				}
			}()
		}
		wg.Wait()
	}
	res, info := porcupine.CheckOperationsVerbose(tokenModel, history, time.Minute)
	if res != porcupine.Ok {
		path := filepath.Join(t.TempDir(), "history.html")
		_ = porcupine.VisualizePath(tokenModel, info, path)
		t.Fatalf("history of %d operations is not linearizable (%s); visualization in %s", len(history), res, path)
	}
	used := 0
	for _, op := range history {
		if op.Input.(tokenOp).Consume && op.Output.(tokenOut).OK {
			used++
		}
	}
	t.Logf("%d operations on %d tokens linearizable; %d consumes accepted", len(history), tokens, used)
	if used > tokens {
		t.Fatalf("%d consumes accepted for %d single-use tokens", used, tokens)
	}
}
