package store_test

import (
	"fmt"
	"reflect"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/hub/store"
	"github.com/vigil-sec/vigil/protocol/agentpb"
	"github.com/vigil-sec/vigil/protocol/raftpb"
)

func TestStore_Events_TimeRange(t *testing.T) {
	s := newStore(t)
	mk := func(ts int64, seq uint64) ev {
		return ev{ts: ts, agent: "a1", branch: "b1", epoch: 1, seq: seq, original: fmt.Sprint("line ", seq)}
	}
	// Stored out of time order on purpose, in two batches.
	e5, e1, e3 := mk(5_000_000_000, 1), mk(-5_000_000_000, 2), mk(0, 3)
	e4, e2, e6 := mk(1, 4), mk(-1, 5), mk(1<<62, 6)
	e0 := mk(-1<<62, 7)
	putEvents(t, s, 1, e5, e1, e3)
	putEvents(t, s, 2, e4, e2, e6, e0)

	cases := []struct {
		name     string
		from, to int64
		want     []ev
	}{
		{"open", 0, 0, []ev{e0, e1, e2, e3, e4, e5, e6}},
		{"negative to zero", -1, 1, []ev{e2, e3}},
		{"half open at To", -5_000_000_000, -1, []ev{e1}},
		{"From inclusive", 1, 5_000_000_001, []ev{e4, e5}},
		{"only To", 0, 1, []ev{e0, e1, e2, e3}},
		{"only To negative", 0, -1, []ev{e0, e1}},
		{"only From", 1, 0, []ev{e4, e5, e6}},
		{"only From negative", -1, 0, []ev{e2, e3, e4, e5, e6}},
		{"empty range", 5, 5, nil},
		{"inverted range", 10, -10, nil},
		{"nothing in range", 2, 4_999_999_999, nil},
	}
	for _, c := range cases {
		// The same range through the primary key, the branch index and the
		// agent index.
		for _, sel := range []struct{ name, branch, agent string }{{"all", "", ""}, {"branch", "b1", ""}, {"agent", "", "a1"}} {
			t.Run(c.name+"/"+sel.name, func(t *testing.T) {
				res := query(t, s, store.EventQuery{From: c.from, To: c.to, Branch: sel.branch, Agent: sel.agent})
				if got, want := ids(res), idsOf(c.want...); !reflect.DeepEqual(got, want) {
					t.Fatalf("got %v\nwant %v", got, want)
				}
				if res.Next != "" {
					t.Fatalf("Next = %q for a complete result", res.Next)
				}
			})
		}
	}

	// The stored event comes back whole.
	res := query(t, s, store.EventQuery{From: -1, To: 1})
	if len(res.Events) != 2 {
		t.Fatalf("got %d events", len(res.Events))
	}
	got := res.Events[0]
	if got.Timestamp != -1 || got.AgentID != "a1" || got.Epoch != 1 || got.Seq != 5 ||
		got.Event.GetOriginal() != "line 5" || got.Event.GetTimestampUnixNano() != -1 || got.Event.GetCreatedUnixNano() != 7 {
		t.Fatalf("stored event = %+v", got)
	}
}

func TestStore_Events_TiesOrderedByAgentEpochSeq(t *testing.T) {
	s := newStore(t)
	evs := []ev{
		{ts: 100, agent: "b", branch: "x", epoch: 1, seq: 1},
		{ts: 100, agent: "a", branch: "x", epoch: 2, seq: 1},
		{ts: 100, agent: "a", branch: "x", epoch: 1, seq: 300},
		{ts: 100, agent: "a", branch: "x", epoch: 1, seq: 2},
		{ts: 99, agent: "z", branch: "x", epoch: 9, seq: 9},
	}
	putEvents(t, s, 1, evs...)
	want := []id{{99, "z", 9, 9}, {100, "a", 1, 2}, {100, "a", 1, 300}, {100, "a", 2, 1}, {100, "b", 1, 1}}
	for _, q := range []store.EventQuery{{}, {Branch: "x"}} {
		if got := ids(query(t, s, q)); !reflect.DeepEqual(got, want) {
			t.Fatalf("%+v: got %v want %v", q, got, want)
		}
	}
}

// indexFixture stores events of agents a1, a2 (branch b1), a3 (branch b2),
// a10 (branch b10) and returns them per agent.
func indexFixture(t *testing.T, s *store.Store) map[string][]ev {
	t.Helper()
	agents := []*raftpb.AgentRecord{
		{Id: "a1", Branch: "b1"}, {Id: "a2", Branch: "b1"}, {Id: "a3", Branch: "b2"}, {Id: "a10", Branch: "b10"},
	}
	per := map[string][]ev{}
	var all []ev
	for i := 0; i < 40; i++ {
		a := agents[i%len(agents)]
		e := ev{ts: int64(1000 - 37*i), agent: a.Id, branch: a.Branch, epoch: 1, seq: uint64(i/len(agents) + 1)}
		per[a.Id] = append(per[a.Id], e)
		all = append(all, e)
	}
	write(t, s, 1, agents, nil, all)
	return per
}

func TestStore_Events_BranchIndex(t *testing.T) {
	s := newStore(t)
	per := indexFixture(t, s)
	cases := []struct {
		branch string
		want   []ev
	}{
		{"b1", append(append([]ev(nil), per["a1"]...), per["a2"]...)},
		{"b2", per["a3"]},
		{"b10", per["a10"]},
		{"b", nil},      // a prefix of b1 and b10 is not a branch
		{"b1\x00", nil}, // nor is a name running into the separator
		{"nope", nil},
	}
	for _, c := range cases {
		res := query(t, s, store.EventQuery{Branch: c.branch, Limit: 1000})
		if got, want := ids(res), sortIDs(idsOf(c.want...)); !reflect.DeepEqual(got, want) {
			t.Errorf("branch %q: got %v\nwant %v", c.branch, got, want)
		}
	}
}

func TestStore_Events_AgentIndex(t *testing.T) {
	s := newStore(t)
	per := indexFixture(t, s)
	for _, agent := range []string{"a1", "a2", "a3", "a10", "a", "a1\x00", "zz"} {
		res := query(t, s, store.EventQuery{Agent: agent, Limit: 1000})
		want := sortIDs(idsOf(per[agent]...))
		if got := ids(res); !reflect.DeepEqual(got, want) {
			t.Errorf("agent %q: got %v\nwant %v", agent, got, want)
		}
		for _, e := range res.Events {
			if e.AgentID != agent {
				t.Errorf("agent %q query returned an event of %q", agent, e.AgentID)
			}
		}
	}
	if len(per["a1"]) != 10 {
		t.Fatalf("fixture: a1 has %d events", len(per["a1"]))
	}
}

func TestStore_Events_BranchAndAgent(t *testing.T) {
	s := newStore(t)
	per := indexFixture(t, s)
	// Events of an agent the store has no record of.
	putEvents(t, s, 2, ev{ts: 5, agent: "ghost", branch: "b1", epoch: 1, seq: 1})

	res := query(t, s, store.EventQuery{Branch: "b1", Agent: "a1", Limit: 1000})
	if got, want := ids(res), sortIDs(idsOf(per["a1"]...)); !reflect.DeepEqual(got, want) {
		t.Fatalf("own branch: got %v\nwant %v", got, want)
	}
	for _, q := range []store.EventQuery{
		{Branch: "b1", Agent: "a3"},  // a3 is in b2
		{Branch: "b2", Agent: "a1"},  // a1 is in b1
		{Branch: "b1", Agent: "a10"}, // a10 is in b10
		{Branch: "b", Agent: "a1"},
		{Branch: "b1", Agent: "ghost"}, // no agent record: no branch to match
		{Branch: "b1", Agent: "a3", From: -1 << 60, To: 1 << 60, Limit: 1},
	} {
		res := query(t, s, q)
		if len(res.Events) != 0 || res.Next != "" {
			t.Errorf("%+v: got %v next %q, want nothing", q, ids(res), res.Next)
		}
	}
	// Without the branch restriction the ghost's event is visible by agent.
	if got := ids(query(t, s, store.EventQuery{Agent: "ghost"})); !reflect.DeepEqual(got, []id{{5, "ghost", 1, 1}}) {
		t.Fatalf("ghost by agent: %v", got)
	}
}

func TestStore_Events_FieldFilters(t *testing.T) {
	s := newStore(t)
	e1 := ev{ts: 1, agent: "a1", branch: "b", epoch: 1, seq: 1, input: "syslog", parser: "rfc5424", original: "o1",
		fields: []field{{"source.ip", "10.0.0.1"}, {"destination.port", int64(443)}, {"event.outcome", "failure"},
			{"process.pid", int64(-7)}, {"ratio", 0.5}, {"tls.established", true}}, tags: []string{"truncated", "vpn"}}
	e2 := ev{ts: 2, agent: "a1", branch: "b", epoch: 1, seq: 2, input: "syslog", parser: "rfc3164", original: "o2",
		fields: []field{{"source.ip", "10.0.0.2"}, {"destination.port", int64(22)}, {"event.outcome", "failure"}}}
	e3 := ev{ts: 3, agent: "a2", branch: "b", epoch: 1, seq: 1, input: "file", parser: "rfc5424", original: "o3",
		fields: []field{{"source.ip", "10.0.0.1"}, {"destination.port", int64(443)}, {"event.outcome", "success"},
			{"empty", ""}}, tags: []string{"vpn"}}
	putEvents(t, s, 1, e1, e2, e3)

	cases := []struct {
		fields map[string]string
		want   []ev
	}{
		{nil, []ev{e1, e2, e3}},
		{map[string]string{}, []ev{e1, e2, e3}},
		{map[string]string{"source.ip": "10.0.0.1"}, []ev{e1, e3}},
		{map[string]string{"source.ip": "10.0.0"}, nil}, // equality, not prefix
		{map[string]string{"destination.port": "443"}, []ev{e1, e3}},
		{map[string]string{"destination.port": "22"}, []ev{e2}},
		{map[string]string{"destination.port": "0x1bb"}, nil}, // decimal only
		{map[string]string{"destination.port": "443.0"}, nil},
		{map[string]string{"destination.port": "+443"}, nil},
		{map[string]string{"process.pid": "-7"}, []ev{e1}},
		{map[string]string{"ratio": "0.5"}, []ev{e1}},
		{map[string]string{"tls.established": "true"}, []ev{e1}},
		{map[string]string{"tls.established": "false"}, nil},
		{map[string]string{"empty": ""}, []ev{e3}},
		{map[string]string{"missing": ""}, nil}, // an absent field never matches
		{map[string]string{"input": "syslog"}, []ev{e1, e2}},
		{map[string]string{"input.type": "file"}, []ev{e3}},
		{map[string]string{"parser": "rfc5424"}, []ev{e1, e3}},
		{map[string]string{"event.original": "o2"}, []ev{e2}},
		{map[string]string{"source.ip": "10.0.0.1", "event.outcome": "failure"}, []ev{e1}},
		{map[string]string{"parser": "rfc5424", "input": "file", "destination.port": "443"}, []ev{e3}},
		{map[string]string{"parser": "rfc5424", "input": "file", "destination.port": "22"}, nil},
		{map[string]string{"tags": "vpn"}, []ev{e1, e3}}, // any of the tags
		{map[string]string{"tags": "truncated"}, []ev{e1}},
		{map[string]string{"tags": "trunc"}, nil},
		{map[string]string{"tags": "vpn", "source.ip": "10.0.0.1", "event.outcome": "success"}, []ev{e3}},
	}
	for _, c := range cases {
		for _, sel := range []store.EventQuery{{}, {Branch: "b"}} {
			q := sel
			q.Fields = c.fields
			if got, want := ids(query(t, s, q)), idsOf(c.want...); !reflect.DeepEqual(got, want) {
				t.Errorf("fields %v branch %q: got %v want %v", c.fields, q.Branch, got, want)
			}
		}
	}
}

// pagingFixture stores n events over three agents and two branches with
// repeated and negative timestamps.
func pagingFixture(t *testing.T, s *store.Store, n int) []ev {
	t.Helper()
	agents := []*raftpb.AgentRecord{{Id: "p1", Branch: "x"}, {Id: "p2", Branch: "x"}, {Id: "p3", Branch: "y"}}
	var all []ev
	for i := 0; i < n; i++ {
		a := agents[i%3]
		e := ev{ts: int64((i*7919)%23) - 11, agent: a.Id, branch: a.Branch, epoch: 1, seq: uint64(i + 1),
			fields: []field{{"n", int64(i)}, {"odd", i%2 == 1}}}
		all = append(all, e)
	}
	write(t, s, 1, agents, nil, all)
	return all
}

func filter(evs []ev, keep func(ev) bool) []ev {
	var out []ev
	for _, e := range evs {
		if keep(e) {
			out = append(out, e)
		}
	}
	return out
}

func TestStore_Events_Paging(t *testing.T) {
	s := newStore(t)
	all := pagingFixture(t, s, 97)
	cases := []struct {
		name string
		q    store.EventQuery
		want []ev
	}{
		{"all", store.EventQuery{}, all},
		{"branch", store.EventQuery{Branch: "x"}, filter(all, func(e ev) bool { return e.branch == "x" })},
		{"agent", store.EventQuery{Agent: "p3"}, filter(all, func(e ev) bool { return e.agent == "p3" })},
		{"branch+agent", store.EventQuery{Branch: "x", Agent: "p2"}, filter(all, func(e ev) bool { return e.agent == "p2" })},
		{"time range", store.EventQuery{From: -3, To: 4}, filter(all, func(e ev) bool { return e.ts >= -3 && e.ts < 4 })},
		{"fields", store.EventQuery{Fields: map[string]string{"odd": "true"}}, filter(all, func(e ev) bool { return e.seq%2 == 0 })},
		{"branch+range+fields", store.EventQuery{Branch: "x", From: -10, To: 1, Fields: map[string]string{"odd": "false"}},
			filter(all, func(e ev) bool { return e.branch == "x" && e.ts >= -10 && e.ts < 1 && e.seq%2 == 1 })},
	}
	for _, c := range cases {
		for _, limit := range []int{1, 7, 10, 1000} {
			t.Run(fmt.Sprintf("%s/limit=%d", c.name, limit), func(t *testing.T) {
				want := sortIDs(idsOf(c.want...))
				if len(want) == 0 {
					t.Fatal("fixture selects nothing")
				}
				q := c.q
				q.Limit = limit
				got, pages := queryAll(t, s, q)
				if !reflect.DeepEqual(storedIDs(got), want) {
					t.Fatalf("paged result differs:\ngot  %v\nwant %v", storedIDs(got), want)
				}
				// Every page but the last is full; at most one empty page at the end.
				if min, max := (len(want)+limit-1)/limit, len(want)/limit+1; pages < min || pages > max {
					t.Fatalf("%d pages for %d events at limit %d", pages, len(want), limit)
				}
			})
		}
	}
}

func TestStore_Events_DefaultLimit(t *testing.T) {
	s := newStore(t)
	var evs []ev
	for i := 0; i < 150; i++ {
		evs = append(evs, ev{ts: int64(i), agent: "a", branch: "b", epoch: 1, seq: uint64(i + 1)})
	}
	putEvents(t, s, 1, evs...)
	res := query(t, s, store.EventQuery{})
	if len(res.Events) != 100 || res.Next == "" {
		t.Fatalf("default limit: %d events, next %q", len(res.Events), res.Next)
	}
	res = query(t, s, store.EventQuery{Limit: -5, Cursor: res.Next})
	if got, want := ids(res), idsOf(evs[100:]...); !reflect.DeepEqual(got, want) || res.Next != "" {
		t.Fatalf("second page: %v next %q", got, res.Next)
	}
}

func TestStore_Events_MaxScan(t *testing.T) {
	s := newStore(t)
	var evs []ev
	for i := 0; i < 30; i++ {
		evs = append(evs, ev{ts: int64(i - 15), agent: "m", branch: "mb", epoch: 1, seq: uint64(i + 1),
			fields: []field{{"every5", i%5 == 0}}})
	}
	write(t, s, 1, []*raftpb.AgentRecord{{Id: "m", Branch: "mb"}}, nil, evs)
	match := filter(evs, func(e ev) bool { return (e.seq-1)%5 == 0 })

	for _, sel := range []store.EventQuery{{}, {Branch: "mb"}, {Agent: "m"}, {Agent: "m", Branch: "mb"}} {
		q := sel
		q.Fields = map[string]string{"every5": "true"}
		q.MaxScan = 7
		q.Limit = 1000

		// First page: exactly 7 entries examined, the matches among them
		// (seq 1 and 6), and a cursor to resume.
		res := query(t, s, q)
		if res.Scanned != 7 || res.Next == "" {
			t.Fatalf("%+v: scanned %d next %q", sel, res.Scanned, res.Next)
		}
		if got, want := ids(res), idsOf(match[0], match[1]); !reflect.DeepEqual(got, want) {
			t.Fatalf("%+v: first partial page %v want %v", sel, got, want)
		}
		// Second page resumes after the 7th entry.
		q2 := q
		q2.Cursor = res.Next
		res2 := query(t, s, q2)
		if res2.Scanned != 7 {
			t.Fatalf("second page scanned %d", res2.Scanned)
		}
		if got, want := ids(res2), idsOf(match[2]); !reflect.DeepEqual(got, want) {
			t.Fatalf("%+v: second partial page %v want %v", sel, got, want)
		}
		// All pages together: every match exactly once; 30 entries in pages of 7.
		got, pages := queryAll(t, s, q)
		if !reflect.DeepEqual(storedIDs(got), idsOf(match...)) {
			t.Fatalf("%+v: resumed scan %v want %v", sel, storedIDs(got), idsOf(match...))
		}
		if pages != 5 {
			t.Fatalf("%+v: %d pages for 30 entries at MaxScan 7", sel, pages)
		}
	}

	// Without a filter MaxScan bounds the page like a limit.
	res := query(t, s, store.EventQuery{MaxScan: 4, Limit: 100})
	if res.Scanned != 4 || len(res.Events) != 4 || res.Next == "" {
		t.Fatalf("unfiltered: scanned %d, %d events, next %q", res.Scanned, len(res.Events), res.Next)
	}
}

func TestStore_Events_InvalidCursor(t *testing.T) {
	s := newStore(t)
	putEvents(t, s, 1, ev{ts: 1, agent: "a", branch: "b", epoch: 1, seq: 1}, ev{ts: 2, agent: "a", branch: "b", epoch: 1, seq: 2})
	for _, c := range []string{"zz", "not hex at all", "abc", "00", strings.Repeat("00", 24)} {
		_, err := s.Events(store.EventQuery{Cursor: c})
		if err == nil || !strings.Contains(err.Error(), "invalid cursor") {
			t.Errorf("cursor %q: err = %v, want invalid cursor", c, err)
		}
	}
	res := query(t, s, store.EventQuery{Limit: 1})
	if res.Next == "" {
		t.Fatal("no cursor after a full page")
	}
	if got := ids(query(t, s, store.EventQuery{Limit: 1, Cursor: res.Next})); !reflect.DeepEqual(got, []id{{2, "a", 1, 2}}) {
		t.Fatalf("valid cursor: %v", got)
	}
	if got := ids(query(t, s, store.EventQuery{Limit: 1, Cursor: strings.ToUpper(res.Next)})); !reflect.DeepEqual(got, []id{{2, "a", 1, 2}}) {
		t.Fatalf("upper-case cursor: %v", got)
	}
}

// An agent id or branch too long for PutChunk's stack buffers must still work.
func TestStore_Events_LongNames(t *testing.T) {
	s := newStore(t)
	agent := strings.Repeat("A", 300)
	branch := strings.Repeat("B", 300)
	write(t, s, 1, []*raftpb.AgentRecord{{Id: agent, Branch: branch}}, nil, []ev{
		{ts: -3, agent: agent, branch: branch, epoch: 1, seq: 1, original: "x"},
		{ts: 3, agent: "short", branch: "s", epoch: 1, seq: 1},
	})
	want := []id{{-3, agent, 1, 1}}
	for _, q := range []store.EventQuery{{Agent: agent}, {Branch: branch}, {Branch: branch, Agent: agent}, {From: -10, To: 1}} {
		res := query(t, s, q)
		if got := ids(res); !reflect.DeepEqual(got, want) {
			t.Fatalf("query %d/%d: got %d events", len(q.Agent), len(q.Branch), len(got))
		}
		if res.Events[0].Event.GetOriginal() != "x" {
			t.Fatalf("event body lost")
		}
	}
}

func TestStore_CountEvents(t *testing.T) {
	s := newStore(t)
	c, err := s.CountEvents()
	if err != nil || len(c) != 0 {
		t.Fatalf("empty store: %v, %v", c, err)
	}
	var evs []ev
	for i := 0; i < 12; i++ {
		evs = append(evs, ev{ts: int64(i) - 6, agent: "a1", branch: "b", epoch: uint64(i%2 + 1), seq: uint64(i)})
	}
	for i := 0; i < 5; i++ {
		evs = append(evs, ev{ts: 0, agent: "a2", branch: "b", epoch: 1, seq: uint64(i + 1)})
	}
	evs = append(evs, ev{ts: 9, agent: "a", branch: "c", epoch: 1, seq: 1})
	putEvents(t, s, 1, evs...)
	c, err = s.CountEvents()
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]uint64{"a1": 12, "a2": 5, "a": 1}; !reflect.DeepEqual(c, want) {
		t.Fatalf("CountEvents = %v, want %v", c, want)
	}
}

// The events a query returns decode to what was stored.
func TestStore_Events_RoundTripFields(t *testing.T) {
	s := newStore(t)
	e := ev{ts: 42, agent: "a", branch: "b", epoch: 3, seq: 9, input: "syslog", parser: "p", original: "raw line",
		fields: []field{{"s", "v"}, {"i", int64(-12)}, {"f", 1.25}, {"b", true}}}
	putEvents(t, s, 1, e)
	res := query(t, s, store.EventQuery{Agent: "a"})
	if len(res.Events) != 1 {
		t.Fatalf("%d events", len(res.Events))
	}
	got := res.Events[0].Event
	if got.GetInput() != "syslog" || got.GetParser() != "p" || got.GetOriginal() != "raw line" || got.GetTimestampUnixNano() != 42 {
		t.Fatalf("event = %v", got)
	}
	var kinds []string
	for _, f := range got.GetFields() {
		switch v := f.Value.(type) {
		case *agentpb.Field_Str:
			kinds = append(kinds, f.Key+"=str:"+v.Str)
		case *agentpb.Field_Int:
			kinds = append(kinds, fmt.Sprintf("%s=int:%d", f.Key, v.Int))
		case *agentpb.Field_Float:
			kinds = append(kinds, fmt.Sprintf("%s=float:%g", f.Key, v.Float))
		case *agentpb.Field_Bool:
			kinds = append(kinds, fmt.Sprintf("%s=bool:%t", f.Key, v.Bool))
		}
	}
	if want := []string{"s=str:v", "i=int:-12", "f=float:1.25", "b=bool:true"}; !reflect.DeepEqual(kinds, want) {
		t.Fatalf("fields %v want %v", kinds, want)
	}
}
