package command_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse_DetectsLineFormatAndPrintsJSON(t *testing.T) {
	f := filepath.Join(t.TempDir(), "auth.log")
	lines := "Dec  2 10:00:01 gw sshd[411]: Failed password for invalid user admin from 203.0.113.7 port 50122 ssh2\n" +
		"Dec  2 10:00:03 gw sshd[411]: Accepted publickey for ops from 198.51.100.4 port 40022 ssh2\n" +
		"not an sshd line at all\n"
	if err := os.WriteFile(f, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := run("parse", f)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var evs []map[string]any
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		evs = append(evs, m)
	}
	if len(evs) != 3 {
		t.Fatalf("%d objects, want 3:\n%s", len(evs), out)
	}
	if evs[0]["vigil.parser"] != "parser.sshd" || evs[0]["source.ip"] != "203.0.113.7" || evs[0]["event.outcome"] != "failure" {
		t.Errorf("first event: %v", evs[0])
	}
	if evs[1]["user.name"] != "ops" || evs[1]["event.outcome"] != "success" {
		t.Errorf("second event: %v", evs[1])
	}
	if evs[2]["event.parse_error"] == nil || evs[2]["event.original"] != "not an sshd line at all" {
		t.Errorf("third event: %v", evs[2])
	}
	if want := "parser.sshd: 3 records, 2 parsed, 1 not in the format, 0 parse errors"; strings.TrimSpace(errOut) != want {
		t.Errorf("summary %q, want %q", errOut, want)
	}
}

func TestParse_ScannerReport(t *testing.T) {
	matches, _ := filepath.Glob("../../plugins/builtin/scanners/testdata/nmap/*.xml")
	if len(matches) == 0 {
		t.Fatal("no nmap fixture")
	}
	code, out, errOut := run("parse", matches[0])
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	n := 0
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("line %q: %v", l, err)
		}
		if m["vigil.parser"] != "scanner.nmap" || m["event.kind"] != "finding" || m["host.ip"] == nil || m["vulnerability.scanner.vendor"] != "nmap" {
			t.Errorf("finding %v", m)
		}
		n++
	}
	if !strings.Contains(errOut, "scanner.nmap") || !strings.Contains(errOut, " findings") || n == 0 {
		t.Errorf("summary %q after %d findings", errOut, n)
	}
	// A report cut in the middle: one error naming the file and where.
	b, _ := os.ReadFile(matches[0])
	cut := filepath.Join(t.TempDir(), "cut.xml")
	os.WriteFile(cut, b[:len(b)*2/3], 0o644)
	code, _, errOut = run("parse", "-parser", "scanner.nmap", cut)
	if code == 0 || !strings.Contains(errOut, "cut.xml") || !strings.Contains(errOut, "byte") {
		t.Errorf("cut report: exit %d, %q", code, errOut)
	}
}
