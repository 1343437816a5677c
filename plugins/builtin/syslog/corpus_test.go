package syslog

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// corpusDir returns the shared development log corpus, ../shared/corpus/logs
// relative to the repository root, skipping the test when it is absent (the
// repository must test without it).
func corpusDir(t *testing.T) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		t.Fatal("runtime.Caller failed")
	}
	dir := filepath.Join(filepath.Dir(file), "..", "..", "..", "..", "shared", "corpus", "logs")
	if _, err := os.Stat(dir); err != nil {
		t.Skip("../shared/corpus not present: corpus test skipped")
	}
	return dir
}

// corpusFiles lists every record file of the development corpus with the
// outcome of parser.syslog on each record, verified by reading the files:
// ok parsed without error, notMatched returned sdk.ErrNotMatched, and
// malformed (an error of any other kind) never happens on this corpus.
//
// names, when set, is the exact count of each process.name over the file;
// hosts the exact number of distinct host.name values.
var corpusFiles = []struct {
	file                      string
	ok, notMatched, malformed int
	names                     map[string]int
	hosts                     int
}{
	// Syslog files: every record parses.
	{file: "linux-syslog/crowdsec-mysql-bf.log", ok: 7, names: map[string]int{"mysql": 7}, hosts: 1},
	{file: "linux-syslog/crowdsec-pam-logs.log", ok: 2, names: map[string]int{"sudo": 2}, hosts: 1},
	{file: "linux-syslog/crowdsec-proftpd-bf.log", ok: 6, names: map[string]int{"proftpd": 6}, hosts: 1},
	{file: "linux-syslog/crowdsec-smb-bf.log", ok: 6, names: map[string]int{"smb": 6}, hosts: 1},
	{file: "linux-syslog/crowdsec-syslog-logs.log", ok: 3, names: map[string]int{"sshd": 3}, hosts: 1},
	{file: "linux-syslog/loghub-Mac_2k.log", ok: 2000, hosts: 38}, // names: see TestCorpus_MacLoghubGroundTruth
	{file: "sshd/beats-system-auth-test.log", ok: 10, names: map[string]int{"sshd": 5, "sudo": 3, "groupadd": 1, "useradd": 1}, hosts: 3},
	{file: "sshd/crowdsec-ssh-bf.log", ok: 6, names: map[string]int{"sshd": 5, "sshd-session": 1}, hosts: 1},
	{file: "sshd/crowdsec-sshd-invalid-bf.log", ok: 6, names: map[string]int{"sshd": 6}, hosts: 1},
	{file: "sshd/crowdsec-sshd-logs.log", ok: 24, names: map[string]int{"sshd": 23, "sshd-session": 1}, hosts: 12},
	{file: "iptables/crowdsec-iptables-logs.log", ok: 4, names: map[string]int{"kernel": 4}, hosts: 2},
	{file: "iptables/crowdsec-pfsense-rfc5424-filterlog.log", ok: 4, names: map[string]int{"filterlog": 4}, hosts: 1},
	{file: "iptables/wazuh-firewalld.log", ok: 3, names: map[string]int{"firewalld": 3}, hosts: 1},
	{file: "web-access/crowdsec-http-bf-wordpress-bf.log", ok: 9, names: map[string]int{"nginx": 9}, hosts: 1},
	{file: "paloalto/crowdsec-palo-alto-threat.log", ok: 2, names: map[string]int{}, hosts: 1},
	// FortiGate: "<PRI>key=value", no header; the whole rest is the message.
	{file: "fortigate/beats-fortinet-firewall-utm.log", ok: 28, names: map[string]int{}, hosts: 0},
	// Cisco IOS: 8 records carry a BSD header ("Sep  1 10:25:29 10.10.10.1
	// %IPS-...", "Apr 30 15:10:58: %DOT1X-...", "Oct 6 03:32:02 mng: %SEC-...");
	// the others start with a sequence number or uptime. "mng:" and "gmt:"
	// read as tags.
	{file: "cisco-ios/wazuh-cisco_ios.log", ok: 8, notMatched: 9, names: map[string]int{"mng": 1, "gmt": 1}, hosts: 1},
	{file: "cisco-ios/sigma-regression-cisco_cli_dot1x_disabled.raw", notMatched: 1},
	// One CEF record behind a BSD header.
	{file: "cef/crowdsec-cef-logs.log", ok: 1, notMatched: 3, names: map[string]int{"CEF": 1}, hosts: 1},

	// Not syslog: no record matches, none is reported malformed.
	{file: "cisco-asa/wazuh-pix.log", notMatched: 22},
	{file: "linux-syslog/crowdsec-vsftpd-bf.log", notMatched: 6},
	{file: "iptables/crowdsec-proxmox-iptables.log", notMatched: 10},
	{file: "apache-error/wazuh-apache.log", notMatched: 12},
	{file: "auditd/crowdsec-auditd-logs.log", notMatched: 4},
	{file: "waf-modsecurity/crowdsec-modsecurity-logs.log", notMatched: 13},
	{file: "web-access/crowdsec-http-cve-probing.log", notMatched: 3},
	{file: "web-access/crowdsec-ipv6-postoverflow.log", notMatched: 2},
	{file: "web-access/crowdsec-nginx-http-sensitive-files.log", notMatched: 9},
	{file: "web-access/elastic-examples-apache_logs.part3.log", notMatched: 2000},
}

// corpusNow is the reference clock for year inference: the corpus lines
// without a year are then placed in 2025 or 2024, never in the future.
var corpusNow = time.Date(2025, 12, 31, 0, 0, 0, 0, time.UTC)

// TestCorpus_Outcomes parses every record of every corpus file and checks
// the exact outcome counts, the invariants of each result, and the record
// counts against manifest.json.
func TestCorpus_Outcomes(t *testing.T) {
	dir := corpusDir(t)
	manifest := readManifest(t, dir)
	p := New(Options{Now: func() time.Time { return corpusNow }})
	for _, cf := range corpusFiles {
		t.Run(cf.file, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join(dir, cf.file))
			if err != nil {
				t.Fatal(err)
			}
			recs := parsertest.Records(data)
			if n, ok := manifest[cf.file]; !ok || n != len(recs) {
				t.Fatalf("%d records, manifest.json says %d (listed: %v)", len(recs), n, ok)
			}
			if total := cf.ok + cf.notMatched + cf.malformed; total != len(recs) {
				t.Fatalf("table counts %d records, file has %d", total, len(recs))
			}
			var okN, nm, bad int
			names := map[string]int{}
			hosts := map[string]bool{}
			var ev sdk.Event
			for i, rec := range recs {
				ev.Reset()
				err := p.Parse([]byte(rec), &ev)
				switch {
				case err == nil:
					okN++
				case errors.Is(err, sdk.ErrNotMatched):
					nm++
				default:
					bad++
					t.Logf("record %d: %v", i+1, err)
				}
				if cerr := parsertest.Check([]byte(rec), &ev, err); cerr != nil {
					t.Errorf("record %d: %v", i+1, cerr)
				}
				if err != nil {
					continue
				}
				if f, ok := ev.Get("process.name"); ok {
					names[f.Str]++
				}
				if f, ok := ev.Get("host.name"); ok {
					hosts[f.Str] = true
				}
				if ev.Timestamp.After(corpusNow.Add(31 * 24 * time.Hour)) {
					t.Errorf("record %d: timestamp %v in the future", i+1, ev.Timestamp)
				}
			}
			if okN != cf.ok || nm != cf.notMatched || bad != cf.malformed {
				t.Errorf("ok %d, not matched %d, malformed %d; want %d, %d, %d",
					okN, nm, bad, cf.ok, cf.notMatched, cf.malformed)
			}
			if cf.names != nil && !reflect.DeepEqual(names, cf.names) {
				t.Errorf("process.name counts %v, want %v", names, cf.names)
			}
			if len(hosts) != cf.hosts {
				t.Errorf("%d distinct host.name values %v, want %d", len(hosts), keys(hosts), cf.hosts)
			}
		})
	}
}

// TestCorpus_SSH checks the sshd files record by record: every record has
// the host and program the line names, and a timestamp.
func TestCorpus_SSH(t *testing.T) {
	dir := corpusDir(t)
	p := New(Options{Now: func() time.Time { return corpusNow }})
	for _, tc := range []struct {
		file, host string
		pids       []int64
	}{
		{"sshd/crowdsec-ssh-bf.log", "sd-126005", []int64{16378, 16378, 16378, 16378, 16378, 16379}},
		{"sshd/crowdsec-sshd-invalid-bf.log", "server", []int64{2651912, 2654543, 2657307, 2660116, 2662890, 2665707}},
	} {
		data, err := os.ReadFile(filepath.Join(dir, tc.file))
		if err != nil {
			t.Fatal(err)
		}
		recs := parsertest.Records(data)
		if len(recs) != len(tc.pids) {
			t.Fatalf("%s: %d records, want %d", tc.file, len(recs), len(tc.pids))
		}
		for i, rec := range recs {
			var ev sdk.Event
			if err := p.Parse([]byte(rec), &ev); err != nil {
				t.Fatalf("%s record %d: %v", tc.file, i+1, err)
			}
			m := parsertest.Fields(t, &ev)
			name := m["process.name"]
			if name != "sshd" && name != "sshd-session" || m["host.name"] != tc.host || m["process.pid"] != tc.pids[i] {
				t.Errorf("%s record %d: fields %v", tc.file, i+1, m)
			}
			if !strings.HasSuffix(rec, m["message"].(string)) || ev.Timestamp.IsZero() {
				t.Errorf("%s record %d: message %q, timestamp %v", tc.file, i+1, m["message"], ev.Timestamp)
			}
		}
	}
}

// TestCorpus_MacLoghubGroundTruth compares host, program, pid and message of
// all 2000 macOS records with loghub's own structured parse of the same file
// (loghub-Mac_2k.log_structured.csv). Loghub splits a "(sender)" after the
// tag into a separate Address column; the parser keeps it in the message.
func TestCorpus_MacLoghubGroundTruth(t *testing.T) {
	dir := corpusDir(t)
	data, err := os.ReadFile(filepath.Join(dir, "linux-syslog", "loghub-Mac_2k.log"))
	if err != nil {
		t.Fatal(err)
	}
	recs := parsertest.Records(data)
	fh, err := os.Open(filepath.Join(dir, "linux-syslog", "loghub-Mac_2k.log_structured.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	rows, err := csv.NewReader(fh).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != len(recs)+1 || len(recs) != 2000 {
		t.Fatalf("%d csv rows for %d records", len(rows), len(recs))
	}
	// LineId,Month,Date,Time,User,Component,PID,Address,Content,...
	p := New(Options{Now: func() time.Time { return time.Date(2017, 7, 9, 0, 0, 0, 0, time.UTC) }})
	names := map[string]int{}
	withAddr := 0
	var ev sdk.Event
	for i, rec := range recs {
		row := rows[i+1]
		ev.Reset()
		if err := p.Parse([]byte(rec), &ev); err != nil {
			t.Fatalf("record %d: %v", i+1, err)
		}
		m := parsertest.Fields(t, &ev)
		pid, _ := strconv.ParseInt(row[6], 10, 64)
		msg := row[8]
		if row[7] != "" {
			msg = "(" + row[7] + "): " + row[8]
			withAddr++
		}
		want := map[string]any{"host.name": row[4], "process.name": row[5], "process.pid": pid, "message": msg}
		if !reflect.DeepEqual(m, want) {
			t.Errorf("record %d:\n got %v\nwant %v", i+1, m, want)
		}
		day, _ := strconv.Atoi(row[2])
		wantTS := row[1] + " " + strconv.Itoa(day) + " " + row[3]
		if got := ev.Timestamp.Format("Jan 2 15:04:05"); got != wantTS || ev.Timestamp.Year() != 2017 {
			t.Errorf("record %d: timestamp %v, want %s 2017", i+1, ev.Timestamp, wantTS)
		}
		names[m["process.name"].(string)]++
	}
	if withAddr != 54 {
		t.Errorf("%d records with a (sender) after the tag, want 54", withAddr)
	}
	for name, n := range map[string]int{"kernel": 775, "com.apple.cts": 166, "corecaptured": 158, "QQ": 75, "Microsoft Word": 72} {
		if names[name] != n {
			t.Errorf("process.name %q: %d records, want %d (MANIFEST.md)", name, names[name], n)
		}
	}
}

// TestCorpus_FortiGate checks the PRI of every FortiGate record: all are
// facility local7 (23); 1 warning, 21 notice, 6 informational.
func TestCorpus_FortiGate(t *testing.T) {
	dir := corpusDir(t)
	data, err := os.ReadFile(filepath.Join(dir, "fortigate", "beats-fortinet-firewall-utm.log"))
	if err != nil {
		t.Fatal(err)
	}
	p := New(Options{})
	sev := map[int64]int{}
	var ev sdk.Event
	for i, rec := range parsertest.Records(data) {
		ev.Reset()
		if err := p.Parse([]byte(rec), &ev); err != nil {
			t.Fatalf("record %d: %v", i+1, err)
		}
		fac, _ := ev.Get("log.syslog.facility.code")
		s, _ := ev.Get("log.syslog.severity.code")
		msg, _ := ev.Get("message")
		if fac.Int != 23 || !strings.HasPrefix(msg.Str, "date=") || !ev.Timestamp.IsZero() {
			t.Errorf("record %d: facility %d, message %.20q, timestamp %v", i+1, fac.Int, msg.Str, ev.Timestamp)
		}
		sev[s.Int]++
	}
	if want := map[int64]int{4: 1, 5: 21, 6: 6}; !reflect.DeepEqual(sev, want) {
		t.Errorf("severity counts %v, want %v", sev, want)
	}
}

func readManifest(t *testing.T, dir string) map[string]int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Files []struct {
			File    string `json:"file"`
			Records int    `json:"records"`
		} `json:"files"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		t.Fatal(err)
	}
	out := make(map[string]int, len(m.Files))
	for _, f := range m.Files {
		out[f.File] = f.Records
	}
	return out
}

func keys(m map[string]bool) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
