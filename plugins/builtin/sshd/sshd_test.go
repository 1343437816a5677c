package sshd

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

var refNow = time.Date(2025, 6, 15, 12, 0, 0, 0, time.UTC)

func newTestParser() *Parser {
	return New(Options{Now: func() time.Time { return refNow }})
}

func TestParser_ID(t *testing.T) {
	if got := newTestParser().ID(); got != "parser.sshd" {
		t.Fatalf("ID() = %q", got)
	}
}

// TestParser_Fixtures checks every field of every record of
// testdata/fixtures.log, in file order.
func TestParser_Fixtures(t *testing.T) {
	recs := fixtures(t)
	// bsd holds the header fields of the BSD records: host bastion, the
	// program and pid, and the message (the record from the tag on).
	bsd := func(prog string, pid int64, kv ...any) func(string) map[string]any {
		return func(rec string) map[string]any {
			m := map[string]any{"host.name": "bastion", "process.name": prog, "process.pid": pid,
				"message": rec[strings.Index(rec, "]: ")+3:]}
			for i := 0; i < len(kv); i += 2 {
				m[kv[i].(string)] = kv[i+1]
			}
			return m
		}
	}
	src := func(ip string) []any { return []any{"source.ip", ip, "source.address", ip} }
	cat := func(parts ...[]any) []any {
		var out []any
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	at := func(s int) time.Time { return time.Date(2025, 1, 12, 10, 0, s, 0, time.UTC) }
	tests := []struct {
		has     string // a part of the record, guarding the order
		outcome int
		ts      time.Time
		want    func(rec string) map[string]any
	}{
		{has: "Accepted publickey", ts: at(1), want: bsd("sshd", 1201, cat([]any{"event.action", "ssh-login",
			"event.outcome", "success", "user.name", "deploy", "source.port", i64(50022)}, src("198.51.100.7"))...)},
		{has: "invalid user admin", ts: at(2), want: bsd("sshd", 1202, cat([]any{"event.action", "ssh-login",
			"event.outcome", "failure", "user.name", "admin", "source.port", i64(50023)}, src("198.51.100.8"))...)},
		{has: "Failed publickey", ts: at(3), want: bsd("sshd", 1202, cat([]any{"event.action", "ssh-login",
			"event.outcome", "failure", "user.name", "root", "source.port", i64(50024)}, src("2001:db8::9"))...)},
		{has: "test user", ts: at(4), want: bsd("sshd", 1203, cat([]any{"event.action", "invalid-user",
			"event.outcome", "failure", "user.name", "test user", "source.port", i64(50025)}, src("198.51.100.10"))...)},
		{has: "maximum", ts: at(5), want: bsd("sshd", 1203, cat([]any{"event.action", "max-auth-attempts",
			"event.outcome", "failure", "user.name", "oracle", "source.port", i64(50026)}, src("198.51.100.11"))...)},
		{has: "rhost=scanner", ts: at(6), want: bsd("sshd", 1204, "event.action", "authentication-failure",
			"event.outcome", "failure", "source.address", "scanner.example.net", "user.name", "root")},
		{has: "user git", ts: at(7), want: bsd("sshd", 1205, cat([]any{"event.action", "connection-closed",
			"event.outcome", "failure", "user.name", "git", "source.port", i64(50027)}, src("198.51.100.12"))...)},
		{has: "reset by", ts: at(8), want: bsd("sshd", 1206, cat([]any{"event.action", "connection-reset",
			"source.port", i64(50028)}, src("198.51.100.13"))...)},
		{has: "Disconnected from user", ts: at(9), want: bsd("sshd", 1207, cat([]any{"event.action", "disconnected",
			"user.name", "deploy", "source.port", i64(50022)}, src("198.51.100.7"))...)},
		{has: "session opened", ts: at(10), want: bsd("sshd", 1207, "event.action", "session-opened", "user.name", "deploy")},
		{has: "BREAK-IN", ts: at(11), want: bsd("sshd", 1208, cat([]any{"event.action", "possible-break-in"},
			src("198.51.100.14"))...)},
		{
			has: "Received disconnect", ts: time.Date(2024, 1, 12, 10, 0, 12, 0, time.UTC),
			want: func(rec string) map[string]any {
				return map[string]any{"log.syslog.priority": i64(38), "log.syslog.facility.code": i64(4),
					"log.syslog.severity.code": i64(6), "log.syslog.version": i64(1), "host.name": "bastion",
					"log.syslog.appname": "sshd", "process.name": "sshd", "process.pid": i64(1209),
					"message": rec[strings.Index(rec, "Received"):], "event.action": "disconnect-received",
					"source.ip": "198.51.100.15", "source.address": "198.51.100.15", "source.port": i64(50029)}
			},
		},
		{has: "Server listening", ts: at(13), want: bsd("sshd-session", 1210)},
		{has: "sudo:", outcome: notMatched},
		{
			has: "alice",
			want: func(rec string) map[string]any {
				return map[string]any{"message": rec, "event.action": "ssh-login", "event.outcome": "success",
					"user.name": "alice", "source.ip": "198.51.100.16", "source.address": "198.51.100.16",
					"source.port": i64(50030)}
			},
		},
		{has: "hello world", outcome: notMatched},
		{has: "AllowGroups", ts: at(15), want: bsd("sshd", 1211, cat([]any{"event.action", "user-not-allowed",
			"event.outcome", "failure", "user.name", "bob"}, src("198.51.100.17"))...)},
		{has: "illegal user guest", ts: at(16), want: bsd("sshd", 1212, cat([]any{"event.action", "authentication-failure",
			"event.outcome", "failure", "user.name", "guest"}, src("198.51.100.18"))...)},
		{has: "(sudo:session)", outcome: notMatched},
		{
			has: "(sshd:session)",
			want: func(rec string) map[string]any {
				return map[string]any{"message": rec, "event.action": "session-closed", "user.name": "deploy"}
			},
		},
	}
	if len(tests) != len(recs) {
		t.Fatalf("%d cases for %d records", len(tests), len(recs))
	}
	p := newTestParser()
	for i, tc := range tests {
		rec := recs[i]
		if !strings.Contains(rec, tc.has) {
			t.Fatalf("record %d %q does not contain %q: cases out of order", i+1, rec, tc.has)
		}
		var ev sdk.Event
		err := p.Parse([]byte(rec), &ev)
		wantOutcome(t, fmt.Sprintf("record %d", i+1), err, tc.outcome, "")
		if cerr := check([]byte(rec), &ev, err); cerr != nil {
			t.Errorf("record %d: %v", i+1, cerr)
		}
		if !ev.Timestamp.Equal(tc.ts) {
			t.Errorf("record %d: timestamp %v, want %v", i+1, ev.Timestamp, tc.ts)
		}
		want := map[string]any{}
		if tc.want != nil {
			want = tc.want(rec)
		}
		if got := parsertest.Fields(t, &ev); !reflect.DeepEqual(got, want) {
			t.Errorf("record %d fields:\n got %v\nwant %v", i+1, got, want)
		}
	}
}

func TestParser_Allocs(t *testing.T) {
	p := newTestParser()
	raw := []byte("Jan 12 10:00:02 bastion sshd[1202]: Failed password for invalid user admin from 198.51.100.8 port 50023 ssh2")
	var ev sdk.Event
	allocs := testing.AllocsPerRun(100, func() {
		ev.Reset()
		if err := p.Parse(raw, &ev); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > 1 {
		t.Errorf("%v allocations per record, want at most 1 (the Original string)", allocs)
	}
}
