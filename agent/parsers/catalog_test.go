package parsers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/agent/parsers"
	"github.com/vigil-sec/vigil/plugins/builtin/accesslog"
	"github.com/vigil-sec/vigil/plugins/builtin/cef"
	"github.com/vigil-sec/vigil/plugins/builtin/ciscoasa"
	"github.com/vigil-sec/vigil/plugins/builtin/iptables"
	"github.com/vigil-sec/vigil/plugins/builtin/jsonlines"
	"github.com/vigil-sec/vigil/plugins/builtin/kv"
	"github.com/vigil-sec/vigil/plugins/builtin/leef"
	"github.com/vigil-sec/vigil/plugins/builtin/raw"
	"github.com/vigil-sec/vigil/plugins/builtin/rfc3164"
	"github.com/vigil-sec/vigil/plugins/builtin/rfc5424"
	"github.com/vigil-sec/vigil/plugins/builtin/sshd"
	"github.com/vigil-sec/vigil/plugins/builtin/syslog"
)

func TestCatalog_NewByNameAndID(t *testing.T) {
	cases := []struct {
		name, wantID string
	}{
		{"syslog", syslog.ID},
		{"parser.syslog", syslog.ID},
		{"rfc3164", rfc3164.ID},
		{"parser.syslog_rfc3164", rfc3164.ID},
		{"syslog_rfc3164", rfc3164.ID},
		{"rfc5424", rfc5424.ID},
		{"parser.syslog_rfc5424", rfc5424.ID},
		{"raw", raw.ID},
		{"parser.raw", raw.ID},
		{"cef", cef.ID},
		{"parser.cef", cef.ID},
		{"leef", leef.ID},
		{"parser.leef", leef.ID},
		{"json", jsonlines.ID},
		{"parser.json", jsonlines.ID},
		{"kv", kv.ID},
		{"parser.kv", kv.ID},
		{"cisco_asa", ciscoasa.ID},
		{"parser.cisco_asa", ciscoasa.ID},
		{"iptables", iptables.ID},
		{"parser.iptables", iptables.ID},
		{"sshd", sshd.ID},
		{"parser.sshd", sshd.ID},
		{"accesslog", accesslog.ID},
		{"parser.accesslog", accesslog.ID},
	}
	for _, c := range cases {
		p, err := parsers.New(c.name)
		if err != nil {
			t.Errorf("New(%q): %v", c.name, err)
			continue
		}
		if p.ID() != c.wantID {
			t.Errorf("New(%q).ID() = %q, want %q", c.name, p.ID(), c.wantID)
		}
	}
}

func TestCatalog_NewReturnsFreshParsers(t *testing.T) {
	a, err := parsers.New("rfc5424")
	if err != nil {
		t.Fatal(err)
	}
	b, err := parsers.New("rfc5424")
	if err != nil {
		t.Fatal(err)
	}
	if a == b {
		t.Fatal("New returned the same parser twice; parsers are not safe to share between inputs")
	}
}

func TestCatalog_UnknownNameListsKnown(t *testing.T) {
	const known = "accesslog, cef, cisco_asa, iptables, json, kv, leef, raw, rfc3164, rfc5424, sshd, syslog"
	for _, name := range []string{"xml", "parser.nessus_xml", "", "Syslog", "CEF"} {
		p, err := parsers.New(name)
		if err == nil {
			t.Errorf("New(%q) = %v, want an error", name, p.ID())
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, "unknown parser") {
			t.Errorf("New(%q) error %q does not say unknown parser", name, msg)
		}
		if !strings.Contains(msg, "known: "+known) {
			t.Errorf("New(%q) error %q does not list the known names", name, msg)
		}
	}
	if got, want := strings.Join(parsers.Names(), ", "), known; got != want {
		t.Errorf("Names() = %s, want %s", got, want)
	}
}

func TestCatalog_DefaultParserHandlesBothSyslogFormats(t *testing.T) {
	p, err := parsers.New("syslog")
	if err != nil {
		t.Fatal(err)
	}
	proc := parsers.NewProcessor("in", p, 0)
	ev := decode(t, proc.Process([]byte("<34>1 2003-10-11T22:14:15.003Z mymachine su - ID47 - hi"), time.Unix(1, 0)))
	if got := fieldMap(t, ev); got["log.syslog.version"] != int64(1) || got["message"] != "hi" || got["host.name"] != "mymachine" {
		t.Errorf("rfc5424 record: fields %v", got)
	}
	want := time.Date(2003, 10, 11, 22, 14, 15, 3e6, time.UTC)
	if ev.TimestampUnixNano != want.UnixNano() {
		t.Errorf("timestamp = %d, want %d", ev.TimestampUnixNano, want.UnixNano())
	}
	if ev.Parser != syslog.ID {
		t.Errorf("parser = %q, want %q", ev.Parser, syslog.ID)
	}
}
