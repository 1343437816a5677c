package api_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/vigil-sec/vigil/hub/api"
	"github.com/vigil-sec/vigil/hub/fsm"
	"github.com/vigil-sec/vigil/hub/pki"
	"github.com/vigil-sec/vigil/hub/store"
	"github.com/vigil-sec/vigil/protocol/event"
	"github.com/vigil-sec/vigil/protocol/identity"
	"github.com/vigil-sec/vigil/protocol/raftpb"
	"google.golang.org/protobuf/proto"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// backend is api.Backend over a real store and state machine; commands are
// applied directly with consecutive log indexes instead of through Raft.
type backend struct {
	st *store.Store
	f  *fsm.FSM
	ca *pki.CA

	mu    sync.Mutex
	index uint64
	heads map[string]uint64

	barriers   atomic.Int64
	barrierErr error
}

func newBackend(t *testing.T) *backend {
	t.Helper()
	st, err := store.Open(t.TempDir(), quiet)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	f, err := fsm.New(st, quiet)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := pki.CreateCA(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return &backend{st: st, f: f, ca: ca, heads: map[string]uint64{}}
}

func (b *backend) Store() *store.Store { return b.st }
func (b *backend) CA() *pki.CA         { return b.ca }
func (b *backend) Status() map[string]any {
	return map[string]any{"node_id": "hub-test", "state": "Leader"}
}

func (b *backend) HeadSeq(agent string) (uint64, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.heads[agent]
	return v, ok
}

func (b *backend) ReadBarrier() error {
	b.barriers.Add(1)
	return b.barrierErr
}

func (b *backend) Apply(t fsm.MessageType, m proto.Message) (any, error) {
	cmd, err := fsm.Encode(t, m)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.index++
	res := b.f.Apply(&raft.Log{Index: b.index, Term: 1, Type: raft.LogCommand, Data: cmd})
	if se, ok := res.(*fsm.StoreError); ok {
		return nil, se
	}
	return res, nil
}

// register enrolls an agent the way the enrollment handler does.
func (b *backend) register(t *testing.T, agentID, branch string) {
	t.Helper()
	tok, err := identity.NewToken(rand.Reader, b.ca.Fingerprint())
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UnixNano()
	if _, err := b.Apply(fsm.TokenCreateType, &raftpb.TokenCreate{TokenId: tok.ID, SecretHash: tok.SecretHash(), Branch: branch,
		ExpiresAt: now + int64(time.Hour), Now: now}); err != nil {
		t.Fatal(err)
	}
	res, err := b.Apply(fsm.TokenConsumeType, &raftpb.TokenConsume{TokenId: tok.ID, SecretHash: tok.SecretHash(), AgentId: agentID,
		Hostname: agentID + "-host", AgentVersion: "1.0", Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if tr := res.(*fsm.TokenResult); tr.Err != nil {
		t.Fatal(tr.Err)
	}
}

type testEvent struct {
	ts   time.Time
	host string
}

// ingest stores events for an agent as one batch starting at seq first.
func (b *backend) ingest(t *testing.T, agentID, branch string, first uint64, evs ...testEvent) {
	t.Helper()
	var enc event.Encoder
	var payload []byte
	for i, e := range evs {
		seq := first + uint64(i)
		enc.Begin(e.ts.UnixNano(), e.ts.UnixNano(), "syslog_udp", "parser.syslog", fmt.Sprintf("%s seq %d", agentID, seq))
		enc.String("host.name", e.host)
		enc.Int("seq.copy", int64(seq))
		payload = event.AppendRecord(payload, enc.Bytes())
	}
	res, err := b.Apply(fsm.IngestBatchType, &raftpb.IngestBatch{AgentId: agentID, Branch: branch, Epoch: 1,
		FirstSeq: first, LastSeq: first + uint64(len(evs)) - 1, RawBytes: uint32(len(payload)), Payload: payload, Now: time.Now().UnixNano()})
	if err != nil {
		t.Fatal(err)
	}
	if r := res.(*fsm.IngestResult); r.Status != fsm.IngestStored {
		t.Fatalf("ingest: %+v", r)
	}
}

const (
	adminSecret = "admin-secret"
	northSecret = "north-secret"
)

type fixture struct {
	b   *backend
	srv *httptest.Server
	now time.Time
}

// newFixture: agents agt-n1 (north, 3 events) and agt-s1 (south, 1 event).
func newFixture(t *testing.T) *fixture {
	t.Helper()
	b := newBackend(t)
	now := time.Now()
	b.register(t, "agt-n1", "north")
	b.register(t, "agt-s1", "south")
	b.ingest(t, "agt-n1", "north", 1,
		testEvent{now.Add(-2 * time.Hour), "web-1"},
		testEvent{now.Add(-30 * time.Minute), "web-2"},
		testEvent{now.Add(-5 * time.Minute), "web-1"})
	b.ingest(t, "agt-s1", "south", 1, testEvent{now.Add(-10 * time.Minute), "db-1"})
	b.heads["agt-n1"] = 10
	metrics := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "vigil_test_metric 1\n") })
	h := api.New(b, map[string]api.Scope{
		adminSecret: {Name: "admin", Branch: api.AllBranches},
		northSecret: {Name: "north-ops", Branch: "north"},
	}, metrics, quiet)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &fixture{b: b, srv: srv, now: now}
}

type response struct {
	code   int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

func (r response) errorText(t *testing.T) string {
	t.Helper()
	var eb api.ErrorBody
	r.json(t, &eb)
	return eb.Error
}

func (f *fixture) do(t *testing.T, method, path, auth string, body []byte) response {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{code: resp.StatusCode, header: resp.Header, body: b}
}

func (f *fixture) get(t *testing.T, secret, path string) response {
	t.Helper()
	return f.do(t, "GET", path, "Bearer "+secret, nil)
}

func (f *fixture) events(t *testing.T, secret string, q url.Values) api.EventsResponse {
	t.Helper()
	r := f.get(t, secret, "/v1/events?"+q.Encode())
	if r.code != http.StatusOK {
		t.Fatalf("GET /v1/events?%s = %d %s", q.Encode(), r.code, r.body)
	}
	var out api.EventsResponse
	r.json(t, &out)
	return out
}

func originals(er api.EventsResponse) []string {
	out := make([]string, len(er.Events))
	for i, e := range er.Events {
		out[i], _ = e["event.original"].(string)
	}
	return out
}

func TestServer_AuthenticationRequired(t *testing.T) {
	f := newFixture(t)
	routes := [][2]string{
		{"GET", "/v1/events"}, {"GET", "/v1/events/counts"}, {"GET", "/v1/agents"},
		{"POST", "/v1/enroll-tokens"}, {"GET", "/v1/enroll-tokens"}, {"GET", "/v1/status"}, {"GET", "/metrics"},
	}
	for _, rt := range routes {
		for _, auth := range []string{"", "Bearer ", "Basic " + adminSecret, "bearer " + adminSecret, adminSecret} {
			r := f.do(t, rt[0], rt[1], auth, []byte(`{"branch":"north"}`))
			if r.code != http.StatusUnauthorized || r.errorText(t) != "missing bearer token" {
				t.Errorf("%s %s with Authorization %q = %d %s, want 401", rt[0], rt[1], auth, r.code, r.body)
			}
		}
		r := f.do(t, rt[0], rt[1], "Bearer not-a-token", []byte(`{"branch":"north"}`))
		if r.code != http.StatusForbidden || r.errorText(t) != "invalid token" {
			t.Errorf("%s %s with a wrong token = %d %s, want 403", rt[0], rt[1], r.code, r.body)
		}
		r = f.do(t, rt[0], rt[1], "Bearer "+adminSecret+"x", []byte(`{"branch":"north"}`))
		if r.code != http.StatusForbidden {
			t.Errorf("%s %s with a token sharing a prefix = %d, want 403", rt[0], rt[1], r.code)
		}
	}
	if r := f.do(t, "GET", "/v1/health", "", nil); r.code != http.StatusOK || !strings.Contains(string(r.body), `"ok"`) {
		t.Errorf("health = %d %s", r.code, r.body)
	}
	if r := f.get(t, adminSecret, "/metrics"); r.code != http.StatusOK || string(r.body) != "vigil_test_metric 1\n" {
		t.Errorf("metrics = %d %s", r.code, r.body)
	}
	if r := f.get(t, adminSecret, "/v1/status"); r.code != http.StatusOK || !strings.Contains(string(r.body), "hub-test") {
		t.Errorf("status = %d %s", r.code, r.body)
	}
}

func TestServer_BranchTokenSeesOnlyItsBranch(t *testing.T) {
	f := newFixture(t)

	// Events.
	er := f.events(t, northSecret, nil)
	if got, want := originals(er), []string{"agt-n1 seq 1", "agt-n1 seq 2", "agt-n1 seq 3"}; strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("north events = %q, want %q", got, want)
	}
	for _, e := range er.Events {
		if e["vigil.branch"] != "north" || e["agent.id"] != "agt-n1" {
			t.Errorf("north token saw %v", e)
		}
	}
	if r := f.get(t, northSecret, "/v1/events?branch=south"); r.code != http.StatusForbidden || r.errorText(t) != "token is scoped to branch north" {
		t.Errorf("north token, branch=south = %d %s, want 403", r.code, r.body)
	}
	if er := f.events(t, northSecret, url.Values{"agent": {"agt-s1"}}); len(er.Events) != 0 {
		t.Errorf("north token read south agent's events: %v", er.Events)
	}
	if er := f.events(t, northSecret, url.Values{"branch": {"north"}, "agent": {"agt-n1"}}); len(er.Events) != 3 {
		t.Errorf("north token, own agent = %d events, want 3", len(er.Events))
	}
	if er := f.events(t, adminSecret, nil); len(er.Events) != 4 {
		t.Errorf("admin sees %d events, want 4", len(er.Events))
	}
	if er := f.events(t, adminSecret, url.Values{"branch": {"south"}}); len(er.Events) != 1 || er.Events[0]["agent.id"] != "agt-s1" {
		t.Errorf("admin, branch=south = %v", er.Events)
	}

	// Counts.
	var counts api.CountsResponse
	f.get(t, northSecret, "/v1/events/counts").json(t, &counts)
	if counts.Total != 3 || counts.ByAgent["agt-n1"] != 3 || len(counts.ByAgent) != 1 || counts.ByInput["syslog_udp"] != 3 {
		t.Errorf("north counts = %+v", counts)
	}
	f.get(t, adminSecret, "/v1/events/counts").json(t, &counts)
	if counts.Total != 4 || counts.ByAgent["agt-s1"] != 1 {
		t.Errorf("admin counts = %+v", counts)
	}

	// Agents.
	var agents []api.Agent
	r := f.get(t, northSecret, "/v1/agents")
	r.json(t, &agents)
	if len(agents) != 1 || agents[0].ID != "agt-n1" || agents[0].Branch != "north" {
		t.Fatalf("north agents = %+v", agents)
	}
	a := agents[0]
	if a.AckedSeq != 3 || a.Events != 3 || a.Batches != 1 || a.HeadSeq != 10 || a.LagEvents != 7 || a.Hostname != "agt-n1-host" || a.EnrolledAt == "" {
		t.Errorf("agent = %+v", a)
	}
	if r := f.get(t, northSecret, "/v1/agents?branch=south"); r.code != http.StatusForbidden {
		t.Errorf("north token, agents of south = %d, want 403", r.code)
	}
	f.get(t, adminSecret, "/v1/agents").json(t, &agents)
	if len(agents) != 2 {
		t.Errorf("admin agents = %+v", agents)
	}

	// Cluster status needs an all-branches token.
	if r := f.get(t, northSecret, "/v1/status"); r.code != http.StatusForbidden {
		t.Errorf("north token, status = %d, want 403", r.code)
	}

	// Tokens: create only for its own branch, list only its own.
	if r := f.do(t, "POST", "/v1/enroll-tokens", "Bearer "+northSecret, []byte(`{"branch":"south"}`)); r.code != http.StatusForbidden {
		t.Errorf("north token creating a south token = %d %s, want 403", r.code, r.body)
	}
	if r := f.do(t, "POST", "/v1/enroll-tokens", "Bearer "+northSecret, []byte(`{"branch":"north"}`)); r.code != http.StatusCreated {
		t.Errorf("north token creating a north token = %d %s, want 201", r.code, r.body)
	}
	var toks []api.TokenInfo
	f.get(t, northSecret, "/v1/enroll-tokens").json(t, &toks)
	for _, tk := range toks {
		if tk.Branch != "north" {
			t.Errorf("north token listed %+v", tk)
		}
	}
	if len(toks) != 2 { // the fixture's registration token and the new one
		t.Errorf("north tokens = %d, want 2", len(toks))
	}
	f.get(t, adminSecret, "/v1/enroll-tokens").json(t, &toks)
	if len(toks) != 3 {
		t.Errorf("admin tokens = %d, want 3", len(toks))
	}
}

func TestServer_TokenCreateValidation(t *testing.T) {
	f := newFixture(t)
	bad := []struct {
		body, want string
	}{
		{`{"branch":""}`, "branch: name is empty"},
		{`{"branch":"has space"}`, "branch: name \"has space\" contains a character outside [A-Za-z0-9._-]"},
		{`{"branch":"-lead"}`, "must start with a letter or digit"},
		{`{"branch":"` + strings.Repeat("b", 65) + `"}`, "at most 64 allowed"},
		{`{"branch":"north","ttl":"721h"}`, "ttl must be a positive duration of at most 720h"},
		{`{"branch":"north","ttl":"0s"}`, "ttl must be a positive duration"},
		{`{"branch":"north","ttl":"-1h"}`, "ttl must be a positive duration"},
		{`{"branch":"north","ttl":"forever"}`, "ttl must be a positive duration"},
		{`not json`, "body: "},
		{`{"branch":` + strings.Repeat(" ", 70<<10) + `"north"}`, "body: "},
	}
	for _, c := range bad {
		r := f.do(t, "POST", "/v1/enroll-tokens", "Bearer "+adminSecret, []byte(c.body))
		if r.code != http.StatusBadRequest || !strings.Contains(r.errorText(t), c.want) {
			t.Errorf("POST %.40q = %d %s, want 400 containing %q", c.body, r.code, r.body, c.want)
		}
	}

	before := time.Now()
	r := f.do(t, "POST", "/v1/enroll-tokens", "Bearer "+adminSecret, []byte(`{"branch":"east","description":"new site"}`))
	if r.code != http.StatusCreated {
		t.Fatalf("create = %d %s", r.code, r.body)
	}
	var tr api.TokenResponse
	r.json(t, &tr)
	tok, err := identity.ParseToken(tr.Token)
	if err != nil {
		t.Fatalf("returned token does not parse: %v", err)
	}
	if tok.ID != tr.ID || tok.CAPin != f.b.ca.Fingerprint() || tr.CAPin != tok.CAPin || tr.Branch != "east" {
		t.Errorf("response = %+v", tr)
	}
	exp, err := time.Parse(time.RFC3339Nano, tr.ExpiresAt)
	if err != nil || exp.Before(before.Add(time.Hour)) || exp.After(time.Now().Add(time.Hour)) {
		t.Errorf("expires_at = %s, want one hour from now (default ttl)", tr.ExpiresAt)
	}
	rec, err := f.b.st.Token(tok.ID)
	if err != nil || rec == nil {
		t.Fatalf("stored token: %v %v", rec, err)
	}
	if rec.SecretHash != tok.SecretHash() || rec.Branch != "east" || rec.Description != "new site" || rec.UsedAt != 0 {
		t.Errorf("stored token = %v", rec)
	}
	// The secret is never listed.
	list := f.get(t, adminSecret, "/v1/enroll-tokens")
	if bytes.Contains(list.body, []byte(tok.Secret)) || bytes.Contains(list.body, []byte(rec.SecretHash)) {
		t.Errorf("token listing leaks the secret or its hash: %s", list.body)
	}
	if !bytes.Contains(list.body, []byte(`"description": "new site"`)) {
		t.Errorf("token listing lacks the new token: %s", list.body)
	}

	r = f.do(t, "POST", "/v1/enroll-tokens", "Bearer "+adminSecret, []byte(`{"branch":"east","ttl":"720h"}`))
	if r.code != http.StatusCreated {
		t.Fatalf("ttl 720h = %d %s, want 201", r.code, r.body)
	}
	r.json(t, &tr)
	exp, _ = time.Parse(time.RFC3339Nano, tr.ExpiresAt)
	if d := time.Until(exp); d < 719*time.Hour || d > 720*time.Hour {
		t.Errorf("ttl 720h expires in %s", d)
	}
}

func TestServer_EventsTimeRange(t *testing.T) {
	f := newFixture(t)
	q := func(kv ...string) url.Values {
		v := url.Values{"agent": {"agt-n1"}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	cases := []struct {
		name string
		q    url.Values
		want []string
	}{
		{"no range", q(), []string{"agt-n1 seq 1", "agt-n1 seq 2", "agt-n1 seq 3"}},
		{"relative from", q("from", "-1h"), []string{"agt-n1 seq 2", "agt-n1 seq 3"}},
		{"relative from minutes", q("from", "-10m"), []string{"agt-n1 seq 3"}},
		{"rfc3339 from", q("from", f.now.Add(-45*time.Minute).UTC().Format(time.RFC3339)), []string{"agt-n1 seq 2", "agt-n1 seq 3"}},
		{"rfc3339 with offset", q("from", f.now.Add(-45*time.Minute).In(time.FixedZone("x", 5*3600)).Format(time.RFC3339Nano)), []string{"agt-n1 seq 2", "agt-n1 seq 3"}},
		{"unix ns from", q("from", fmt.Sprint(f.now.Add(-45*time.Minute).UnixNano())), []string{"agt-n1 seq 2", "agt-n1 seq 3"}},
		{"relative to", q("to", "-20m"), []string{"agt-n1 seq 1", "agt-n1 seq 2"}},
		{"from and to", q("from", "-1h", "to", "-10m"), []string{"agt-n1 seq 2"}},
		{"empty range", q("from", "-1m"), nil},
	}
	for _, c := range cases {
		er := f.events(t, adminSecret, c.q)
		if got := originals(er); strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("%s: events = %q, want %q", c.name, got, c.want)
		}
	}
	for _, p := range []string{"from=yesterday", "from=2024-13-01T00:00:00Z", "from=-1x", "from=12abc", "to=1.5", "from=0x10", "from=+5"} {
		r := f.get(t, adminSecret, "/v1/events?"+p)
		want := strings.SplitN(p, "=", 2)[0] + ": time must be RFC 3339, Unix nanoseconds, or -DURATION"
		if r.code != http.StatusBadRequest || r.errorText(t) != want {
			t.Errorf("%s = %d %s, want 400 %q", p, r.code, r.body, want)
		}
	}
}

func TestServer_EventsFieldsLimitCursor(t *testing.T) {
	f := newFixture(t)
	er := f.events(t, adminSecret, url.Values{"field.host.name": {"web-1"}})
	if got := originals(er); strings.Join(got, "|") != "agt-n1 seq 1|agt-n1 seq 3" {
		t.Errorf("field.host.name=web-1 = %q", got)
	}
	er = f.events(t, adminSecret, url.Values{"field.host.name": {"web-1"}, "field.seq.copy": {"3"}})
	if got := originals(er); strings.Join(got, "|") != "agt-n1 seq 3" {
		t.Errorf("two field filters = %q", got)
	}
	er = f.events(t, northSecret, url.Values{"field.host.name": {"db-1"}})
	if len(er.Events) != 0 {
		t.Errorf("north token found the south host through a field filter: %v", er.Events)
	}

	// Page through all four events one at a time, in event-time order.
	var pages []string
	q := url.Values{"limit": {"1"}}
	for i := 0; i < 10; i++ {
		er := f.events(t, adminSecret, q)
		if len(er.Events) > 1 {
			t.Fatalf("limit=1 returned %d events", len(er.Events))
		}
		pages = append(pages, originals(er)...)
		if er.Next == "" {
			break
		}
		q.Set("cursor", er.Next)
	}
	if got, want := strings.Join(pages, "|"), "agt-n1 seq 1|agt-n1 seq 2|agt-s1 seq 1|agt-n1 seq 3"; got != want {
		t.Errorf("paged events = %s, want %s", got, want)
	}

	// The rendered event.
	er = f.events(t, adminSecret, url.Values{"agent": {"agt-s1"}})
	if len(er.Events) != 1 {
		t.Fatalf("agt-s1 events = %v", er.Events)
	}
	e := er.Events[0]
	want := map[string]any{
		"@timestamp": f.now.Add(-10 * time.Minute).UTC().Format(time.RFC3339Nano), "event.original": "agt-s1 seq 1",
		"agent.id": "agt-s1", "vigil.branch": "south", "vigil.epoch": "1", "vigil.seq": float64(1),
		"input.type": "syslog_udp", "vigil.parser": "parser.syslog", "host.name": "db-1", "seq.copy": float64(1),
	}
	for k, v := range want {
		if e[k] != v {
			t.Errorf("rendered %s = %#v, want %#v", k, e[k], v)
		}
	}

	for _, p := range []string{"limit=0", "limit=-3", "limit=ten"} {
		if r := f.get(t, adminSecret, "/v1/events?"+p); r.code != http.StatusBadRequest || r.errorText(t) != "limit must be a positive integer" {
			t.Errorf("%s = %d %s, want 400", p, r.code, r.body)
		}
	}
	for _, c := range []string{"zz", "00", strings.Repeat("ab", 4)} {
		if r := f.get(t, adminSecret, "/v1/events?cursor="+c); r.code != http.StatusBadRequest || r.errorText(t) != "invalid cursor" {
			t.Errorf("cursor=%s = %d %s, want 400 invalid cursor", c, r.code, r.body)
		}
	}
}

func TestServer_StaleAndLinearizableReads(t *testing.T) {
	f := newFixture(t)
	for _, path := range []string{"/v1/events", "/v1/events/counts", "/v1/agents", "/v1/enroll-tokens"} {
		before := f.b.barriers.Load()
		r := f.get(t, adminSecret, path+"?stale")
		if r.code != http.StatusOK || r.header.Get("X-Vigil-Consistency") != "stale" {
			t.Errorf("%s?stale = %d, consistency %q", path, r.code, r.header.Get("X-Vigil-Consistency"))
		}
		if f.b.barriers.Load() != before {
			t.Errorf("%s?stale ran the read barrier", path)
		}
		r = f.get(t, adminSecret, path)
		if r.code != http.StatusOK || r.header.Get("X-Vigil-Consistency") != "linearizable" {
			t.Errorf("%s = %d, consistency %q", path, r.code, r.header.Get("X-Vigil-Consistency"))
		}
		if f.b.barriers.Load() != before+1 {
			t.Errorf("%s did not run the read barrier once", path)
		}
	}
	// Without a leader a consistent read fails, a stale one still answers.
	f.b.barrierErr = errors.New("no cluster leader after 5s")
	r := f.get(t, adminSecret, "/v1/events")
	if r.code != http.StatusServiceUnavailable || r.errorText(t) != "consistent read unavailable: no cluster leader after 5s" {
		t.Errorf("events without a leader = %d %s, want 503", r.code, r.body)
	}
	if r := f.get(t, adminSecret, "/v1/events?stale=1"); r.code != http.StatusOK {
		t.Errorf("stale events without a leader = %d %s", r.code, r.body)
	}
}

func TestServer_InvalidUTF8OriginalRendered(t *testing.T) {
	f := newFixture(t)
	var enc event.Encoder
	ts := time.Now().Add(-time.Minute)
	enc.Begin(ts.UnixNano(), ts.UnixNano(), "in", "parser.raw", "")
	enc.OriginalBytes([]byte("bad \xff byte"))
	enc.Tag("invalid_utf8")
	payload := event.AppendRecord(nil, enc.Bytes())
	if _, err := f.b.Apply(fsm.IngestBatchType, &raftpb.IngestBatch{AgentId: "agt-s1", Branch: "south", Epoch: 1,
		FirstSeq: 2, LastSeq: 2, RawBytes: uint32(len(payload)), Payload: payload, Now: time.Now().UnixNano()}); err != nil {
		t.Fatal(err)
	}
	er := f.events(t, adminSecret, url.Values{"agent": {"agt-s1"}, "from": {"-2m"}})
	if len(er.Events) != 1 {
		t.Fatalf("events = %v", er.Events)
	}
	if got := er.Events[0]["event.original"]; got != "bad \uFFFD byte" {
		t.Errorf("event.original = %q", got)
	}
	tags, _ := er.Events[0]["tags"].([]any)
	if len(tags) != 1 || tags[0] != "invalid_utf8" {
		t.Errorf("tags = %v", tags)
	}
}

func TestClient_RoundTrip(t *testing.T) {
	// The CLI's client against a TLS test server that trusts a file CA.
	f := newFixture(t)
	tlsSrv := httptest.NewUnstartedServer(f.srv.Config.Handler)
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below is expected
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	caFile := t.TempDir() + "/ca.pem"
	writePEM(t, caFile, tlsSrv.Certificate().Raw)

	c, err := api.NewClient(tlsSrv.URL, northSecret, caFile)
	if err != nil {
		t.Fatal(err)
	}
	var agents []api.Agent
	if err := c.Do("GET", "/v1/agents", nil, nil, &agents); err != nil || len(agents) != 1 {
		t.Fatalf("agents = %+v, %v", agents, err)
	}
	var tr api.TokenResponse
	if err := c.Do("POST", "/v1/enroll-tokens", nil, api.TokenRequest{Branch: "north", TTL: "2h"}, &tr); err != nil || tr.Branch != "north" {
		t.Fatalf("create token = %+v, %v", tr, err)
	}
	err = c.Do("GET", "/v1/events", url.Values{"branch": {"south"}}, nil, nil)
	if !api.IsStatus(err, http.StatusForbidden) || !strings.Contains(err.Error(), "hub answered 403: token is scoped to branch north") {
		t.Errorf("forbidden query error = %v", err)
	}
	bad, err := api.NewClient(tlsSrv.URL, "wrong", caFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := bad.Do("GET", "/v1/agents", nil, nil, nil); !api.IsStatus(err, http.StatusForbidden) {
		t.Errorf("wrong token error = %v", err)
	}
	if _, err := api.NewClient(tlsSrv.URL, "x", t.TempDir()+"/missing.pem"); err == nil {
		t.Error("NewClient with a missing CA file succeeded")
	}
	// A server whose certificate is not from the CA file is refused.
	foreign, err := pki.CreateCA(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	foreignFile := t.TempDir() + "/foreign.pem"
	writePEM(t, foreignFile, foreign.Cert().Raw)
	c2, err := api.NewClient(tlsSrv.URL, northSecret, foreignFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := c2.Do("GET", "/v1/agents", nil, nil, nil); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Errorf("untrusted server error = %v", err)
	}
}

func writePEM(t *testing.T, path string, der []byte) {
	t.Helper()
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
