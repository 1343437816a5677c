package sshd

import (
	"reflect"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// corpusNow places the year-less corpus timestamps in 2025 (or early 2026).
var corpusNow = time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)

// TestCorpus_Matches parses the whole corpus: exactly the records logged by
// sshd or sshd-session parse (grep ' sshd\(-[a-z]*\)\?\[' finds 44 of
// them, in five files); the sudo, groupadd and useradd lines of the auth.log
// sample and every other file are not matched.
func TestCorpus_Matches(t *testing.T) {
	device.CheckMatches(t, New(Options{Now: func() time.Time { return corpusNow }}), map[string]int{
		"sshd/beats-system-auth-test.log":       5,
		"sshd/crowdsec-ssh-bf.log":              6,
		"sshd/crowdsec-sshd-invalid-bf.log":     6,
		"sshd/crowdsec-sshd-logs.log":           24,
		"linux-syslog/crowdsec-syslog-logs.log": 3,
	})
}

type row struct {
	action, outcome, user, ip string
	port                      int64
}

func rowOf(m map[string]any) row {
	return row{action: parsertest.Str(m["event.action"]), outcome: parsertest.Str(m["event.outcome"]), user: parsertest.Str(m["user.name"]),
		ip: parsertest.Str(m["source.ip"]), port: parsertest.Num(m["source.port"])}
}

// parseFile parses every record of a corpus file, all of which must parse,
// and returns their fields and timestamps.
func parseFile(t *testing.T, file string) ([]map[string]any, []time.Time) {
	t.Helper()
	return parsertest.ParseCorpusFile(t, New(Options{Now: func() time.Time { return corpusNow }}), file)
}

// TestCorpus_SSHDLogs checks the 24 records of the CrowdSec sshd torture
// file one by one, read by hand. 15 are failures: 4 "Invalid user", 2 PAM
// authentication failures, 1 failed password, 1 not allowed, 2 refused
// connections, and 5 peers that left during authentication
// ("authenticating user" or "invalid user"). "Magic value check failed",
// "ssh_dispatch_run_fatal" and the odd "totobad user" have no action, only
// the address.
func TestCorpus_SSHDLogs(t *testing.T) {
	const pascal, bad = "35.188.49.176", "206.81.24.125"
	want := []row{
		{"invalid-user", "failure", "pascal", pascal, 53502},
		{"invalid-user", "failure", "pascal", pascal, 53502},
		{"invalid-user", "failure", "pascal", pascal, 53502},
		{"authentication-failure", "failure", "workshop", "5.33.63.160", 0},
		{"authentication-failure", "failure", "", "5.33.63.161", 0},
		{"connection-closed", "failure", "root", bad, 45362},
		{"disconnected", "failure", "ftp", "92.255.85.135", 26138},
		{"disconnected", "failure", "ftp", "92.255.85.135", 26138},
		{"disconnected", "", "", "92.255.85.135", 26138},
		{"", "", "", "94.232.46.213", 62730},
		{"", "", "", "94.232.46.213", 62730},
		{"connection-closed", "failure", "root", bad, 45362},
		{"negotiation-failed", "", "", "123.57.135.134", 45626},
		{"negotiation-failed", "", "", "206.189.59.169", 34386},
		{"negotiation-failed", "", "", "123.123.123.123", 45296},
		{"connection-reset", "failure", "root", "80.94.92.63", 49115},
		{"user-not-allowed", "failure", "root", "192.168.1.1", 0},
		{"ssh-login", "failure", "root", "192.168.1.2", 51182},
		{"auth-timeout", "", "", "192.168.9.212", 47056},
		{"", "", "", "192.168.9.213", 48680},
		{"invalid-user", "failure", "pascal5", "192.168.1.3", 53502},
		{"connection-closed", "", "", "118.27.24.104", 33594},
		{"connection-refused", "failure", "", "::ffff:192.168.1.1", 0},
		{"connection-refused", "failure", "", "192.168.1.1", 0},
	}
	ms, ts := parseFile(t, "sshd/crowdsec-sshd-logs.log")
	if len(ms) != len(want) {
		t.Fatalf("%d records, want %d", len(ms), len(want))
	}
	failures := 0
	for i, m := range ms {
		if got := rowOf(m); got != want[i] {
			t.Errorf("record %d:\n got %+v\nwant %+v", i+1, got, want[i])
		}
		if m["event.outcome"] == "failure" {
			failures++
		}
		if ts[i].IsZero() {
			t.Errorf("record %d: no timestamp", i+1)
		}
	}
	if failures != 15 {
		t.Errorf("%d failures, want 15", failures)
	}
	// The one RFC 3339 header keeps its offset.
	if want := time.Date(2023, 11, 13, 23, 20, 42, 738197000, time.UTC); !ts[16].Equal(want) {
		t.Errorf("record 17: timestamp %v, want %v", ts[16], want)
	}
}

// TestCorpus_BruteForce checks what the correlation rules of the corpus
// group on (MANIFEST.md): in crowdsec-ssh-bf.log, six invalid-user failures
// from 35.188.49.176 with six distinct user names within four seconds (the
// value_count rule fires); in crowdsec-sshd-invalid-bf.log, six
// authentication-time disconnects of root from 179.43.183.98, which are not
// "Invalid user" records.
func TestCorpus_BruteForce(t *testing.T) {
	ms, ts := parseFile(t, "sshd/crowdsec-ssh-bf.log")
	users := map[string]bool{}
	for i, m := range ms {
		if got := rowOf(m); got.action != "invalid-user" || got.outcome != "failure" || got.ip != "35.188.49.176" || got.port != 53502 {
			t.Errorf("ssh-bf record %d: %+v", i+1, got)
		}
		users[parsertest.Str(m["user.name"])] = true
	}
	if len(ms) != 6 || len(users) != 6 || ts[5].Sub(ts[0]) != 3*time.Second {
		t.Errorf("ssh-bf: %d records, %d user names, spanning %v; want 6, 6, 3s", len(ms), len(users), ts[5].Sub(ts[0]))
	}
	if ms[5]["process.name"] != "sshd-session" {
		t.Errorf("ssh-bf record 6: process.name %v, want sshd-session", ms[5]["process.name"])
	}

	ms, _ = parseFile(t, "sshd/crowdsec-sshd-invalid-bf.log")
	for i, m := range ms {
		if got := rowOf(m); got.action != "disconnected" || got.outcome != "failure" || got.user != "root" || got.ip != "179.43.183.98" {
			t.Errorf("sshd-invalid-bf record %d: %+v", i+1, got)
		}
	}
	if len(ms) != 6 {
		t.Errorf("sshd-invalid-bf: %d records, want 6", len(ms))
	}
}

// TestCorpus_AuthLog checks the five sshd lines of the Beats auth.log
// sample. The accepted login from 10.0.2.2 (21:54:44) comes 88 s before
// the invalid user from the same address (21:56:12): the ordering the
// temporal_ordered correlation of the corpus relies on.
func TestCorpus_AuthLog(t *testing.T) {
	p := New(Options{Now: func() time.Time { return corpusNow }})
	var got []row
	at := map[string]time.Time{}
	for i, rec := range parsertest.CorpusRecords(t, parsertest.CorpusDir(t), "sshd/beats-system-auth-test.log") {
		var ev sdk.Event
		if err := p.Parse([]byte(rec), &ev); err != nil {
			if !parsertest.IsNotMatched(err) {
				t.Errorf("record %d: %v", i+1, err)
			}
			continue
		}
		r := rowOf(parsertest.Fields(t, &ev))
		got = append(got, r)
		if r.ip == "10.0.2.2" {
			at[r.action] = ev.Timestamp
		}
	}
	want := []row{
		{"ssh-login", "success", "vagrant", "10.0.2.2", 63673},
		{"ssh-login", "success", "vagrant", "192.168.33.1", 58803},
		{"invalid-user", "failure", "test", "10.0.2.2", 0},
		{"ssh-login", "failure", "root", "216.160.83.57", 29160},
		{"no-identification", "", "", "2.125.160.217", 0},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("sshd records:\n got %+v\nwant %+v", got, want)
	}
	if d := at["invalid-user"].Sub(at["ssh-login"]); d != 88*time.Second {
		t.Errorf("invalid user %v after the accepted login from 10.0.2.2, want 88s", d)
	}
}
