package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func goldenCount(t *testing.T, fixture string) int {
	t.Helper()
	b, err := os.ReadFile(fixture + ".golden.json")
	if err != nil {
		t.Fatal(err)
	}
	var g []json.RawMessage
	if err := json.Unmarshal(b, &g); err != nil {
		t.Fatal(err)
	}
	return len(g)
}

// TestE2E_ScannerReports drops an nmap report into a scanner input's
// directory and imports a Nessus report with `vigil-agent import`: the hub
// receives every finding once with the ECS vulnerability fields and one
// import record per report; a re-import is a duplicate; a report cut short
// is imported up to the error with an explicit partial-import record.
func TestE2E_ScannerReports(t *testing.T) {
	h := startHub(t)
	drop := filepath.Join(t.TempDir(), "scans")
	a := startAgent(t, h, agentOpts{extraYAML: fmt.Sprintf("  - id: scans\n    type: scanner\n    dir: %s\n    poll_interval: 100ms\n", drop)})
	nmap := filepath.Join("..", "..", "plugins/builtin/scanners/testdata/nmap/two_hosts.xml")
	nessus := filepath.Join("..", "..", "plugins/builtin/scanners/testdata/nessus/two_hosts.nessus")
	nNmap, nNessus := goldenCount(t, nmap), goldenCount(t, nessus)
	b, _ := os.ReadFile(nmap)
	if err := os.WriteFile(filepath.Join(drop, "weekly.xml"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the dropped report moved to done/", func() bool {
		_, err := os.Stat(filepath.Join(drop, "done", "weekly.xml"))
		return err == nil
	})

	imp := func(args ...string) (string, error) {
		out, err := command(nil, "vigil-agent", append([]string{"import", "-addr", a.status}, args...)...).CombinedOutput()
		return string(out), err
	}
	out, err := imp(nessus)
	if err != nil || !strings.Contains(out, fmt.Sprintf("%d findings imported (scanner.nessus)", nNessus)) {
		t.Fatalf("import: %v\n%s", err, out)
	}
	if out, err := imp(nessus); err != nil || !strings.Contains(out, "already imported") {
		t.Fatalf("second import: %v\n%s", err, out)
	}
	nb, _ := os.ReadFile(nessus)
	cut := filepath.Join(t.TempDir(), "cut.nessus")
	os.WriteFile(cut, nb[:len(nb)*2/3], 0o644)
	out, err = imp(cut)
	if err == nil || !strings.Contains(out, "PARTIAL") {
		t.Fatalf("cut report: %v\n%s", err, out)
	}
	var partial int
	fmt.Sscanf(out[strings.Index(out, "PARTIAL: ")+len("PARTIAL: "):], "%d", &partial)

	a.drained(30 * time.Second)
	findings := map[string]int{}
	records := map[string]float64{}
	for _, e := range h.events(a.id) {
		switch {
		case e["event.kind"] == "finding":
			findings[fmt.Sprint(e["vigil.parser"])]++
			if e["vulnerability.id"] == nil || e["vulnerability.severity"] == nil || e["vulnerability.scanner.vendor"] == nil {
				t.Errorf("finding without ECS vulnerability fields: %v", e)
			}
		case e["event.dataset"] == "vigil.report_import":
			var n float64
			fmt.Sscan(fmt.Sprint(e["vigil.import.findings"]), &n)
			records[fmt.Sprint(e["event.action"], " ", e["file.name"])] = n
		}
	}
	if findings["scanner.nmap"] != nNmap || findings["scanner.nessus"] != nNessus+partial {
		t.Errorf("findings at the hub %v, want nmap %d, nessus %d + %d from the cut copy", findings, nNmap, nNessus, partial)
	}
	want := map[string]float64{
		"report-imported weekly.xml":       float64(nNmap),
		"report-imported two_hosts.nessus": float64(nNessus),
		"report-import-partial cut.nessus": float64(partial),
	}
	for k, v := range want {
		if got, ok := records[k]; !ok || got != v {
			t.Errorf("import record %q = %v (present %v), want %v; all: %v", k, got, ok, v, records)
		}
	}
	if len(records) != len(want) {
		t.Errorf("import records %v", records)
	}
}
