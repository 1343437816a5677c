package sshd

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
)

type i64 = int64

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
	// bsd holds the header fields of the BSD records: host bastion, the
	// program and pid, and the message (the record from the tag on).
	bsd := func(prog string, pid int64, kv ...any) func(string) map[string]any {
		return func(rec string) map[string]any {
			return parsertest.With(map[string]any{"host.name": "bastion", "process.name": prog, "process.pid": pid,
				"message": rec[strings.Index(rec, "]: ")+3:]}, kv...)
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
	tests := []parsertest.Fixture{
		{Has: "Accepted publickey", TS: at(1), WantOf: bsd("sshd", 1201, cat([]any{"event.action", "ssh-login",
			"event.outcome", "success", "user.name", "deploy", "source.port", i64(50022)}, src("198.51.100.7"))...)},
		{Has: "invalid user admin", TS: at(2), WantOf: bsd("sshd", 1202, cat([]any{"event.action", "ssh-login",
			"event.outcome", "failure", "user.name", "admin", "source.port", i64(50023)}, src("198.51.100.8"))...)},
		{Has: "Failed publickey", TS: at(3), WantOf: bsd("sshd", 1202, cat([]any{"event.action", "ssh-login",
			"event.outcome", "failure", "user.name", "root", "source.port", i64(50024)}, src("2001:db8::9"))...)},
		{Has: "test user", TS: at(4), WantOf: bsd("sshd", 1203, cat([]any{"event.action", "invalid-user",
			"event.outcome", "failure", "user.name", "test user", "source.port", i64(50025)}, src("198.51.100.10"))...)},
		{Has: "maximum", TS: at(5), WantOf: bsd("sshd", 1203, cat([]any{"event.action", "max-auth-attempts",
			"event.outcome", "failure", "user.name", "oracle", "source.port", i64(50026)}, src("198.51.100.11"))...)},
		{Has: "rhost=scanner", TS: at(6), WantOf: bsd("sshd", 1204, "event.action", "authentication-failure",
			"event.outcome", "failure", "source.address", "scanner.example.net", "user.name", "root")},
		{Has: "user git", TS: at(7), WantOf: bsd("sshd", 1205, cat([]any{"event.action", "connection-closed",
			"event.outcome", "failure", "user.name", "git", "source.port", i64(50027)}, src("198.51.100.12"))...)},
		{Has: "reset by", TS: at(8), WantOf: bsd("sshd", 1206, cat([]any{"event.action", "connection-reset",
			"source.port", i64(50028)}, src("198.51.100.13"))...)},
		{Has: "Disconnected from user", TS: at(9), WantOf: bsd("sshd", 1207, cat([]any{"event.action", "disconnected",
			"user.name", "deploy", "source.port", i64(50022)}, src("198.51.100.7"))...)},
		{Has: "session opened", TS: at(10), WantOf: bsd("sshd", 1207, "event.action", "session-opened", "user.name", "deploy")},
		{Has: "BREAK-IN", TS: at(11), WantOf: bsd("sshd", 1208, cat([]any{"event.action", "possible-break-in"},
			src("198.51.100.14"))...)},
		{
			Has: "Received disconnect", TS: time.Date(2024, 1, 12, 10, 0, 12, 0, time.UTC),
			WantOf: func(rec string) map[string]any {
				return map[string]any{"log.syslog.priority": i64(38), "log.syslog.facility.code": i64(4),
					"log.syslog.severity.code": i64(6), "log.syslog.version": i64(1), "host.name": "bastion",
					"log.syslog.appname": "sshd", "process.name": "sshd", "process.pid": i64(1209),
					"message": rec[strings.Index(rec, "Received"):], "event.action": "disconnect-received",
					"source.ip": "198.51.100.15", "source.address": "198.51.100.15", "source.port": i64(50029)}
			},
		},
		{Has: "Server listening", TS: at(13), WantOf: bsd("sshd-session", 1210)},
		{Has: "sudo:", Outcome: parsertest.NotMatched},
		{
			Has: "alice",
			WantOf: func(rec string) map[string]any {
				return map[string]any{"message": rec, "event.action": "ssh-login", "event.outcome": "success",
					"user.name": "alice", "source.ip": "198.51.100.16", "source.address": "198.51.100.16",
					"source.port": i64(50030)}
			},
		},
		{Has: "hello world", Outcome: parsertest.NotMatched},
		{Has: "AllowGroups", TS: at(15), WantOf: bsd("sshd", 1211, cat([]any{"event.action", "user-not-allowed",
			"event.outcome", "failure", "user.name", "bob"}, src("198.51.100.17"))...)},
		{Has: "illegal user guest", TS: at(16), WantOf: bsd("sshd", 1212, cat([]any{"event.action", "authentication-failure",
			"event.outcome", "failure", "user.name", "guest"}, src("198.51.100.18"))...)},
		{Has: "(sudo:session)", Outcome: parsertest.NotMatched},
		{
			Has: "(sshd:session)",
			WantOf: func(rec string) map[string]any {
				return map[string]any{"message": rec, "event.action": "session-closed", "user.name": "deploy"}
			},
		},
	}
	device.CheckFixtures(t, newTestParser(), tests)
}

func TestParser_Allocs(t *testing.T) {
	p := newTestParser()
	raw := []byte("Jan 12 10:00:02 bastion sshd[1202]: Failed password for invalid user admin from 198.51.100.8 port 50023 ssh2")
	parsertest.CheckAllocs(t, p, raw, 1, "the Original string")
}
