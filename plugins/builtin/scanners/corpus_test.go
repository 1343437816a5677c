package scanners_test

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/plugins/builtin/scanners"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// corpusEntry is the part of ../shared/corpus/scanners/manifest.json the
// test asserts on.
type corpusEntry struct {
	Format         string                    `json:"format"`
	File           string                    `json:"file"`
	NativeFindings int                       `json:"native_findings"`
	CVEs           []string                  `json:"cves"`
	Severity       map[string]map[string]int `json:"severity"`
	Targets        map[string]int            `json:"targets"`
}

// corpusDeviation records where a parser's unit deliberately differs from
// the manifest's, with the exact figures the parser must produce instead.
type corpusDeviation struct {
	findings int      // 0: the manifest's native_findings
	cves     []string // nil: the manifest's cves
}

var corpusDeviations = map[string]corpusDeviation{
	// nmap emits, DefectDojo-style, one finding per open port plus one per
	// CVE the vulners script lists on it: 1 port + 2 CVEs.
	"nmap/nmap_script_vulners.xml": {findings: 3},
	// The manifest's 110 CVEs are every id in the file; 95 of them appear
	// only in the host's patch-summary tags (CVEs of the host's missing
	// patches, not of a plugin). The one ReportItem lists these 15.
	"nessus/nessus_with_cwe-.nessus": {cves: []string{
		"CVE-2006-1015", "CVE-2006-1549", "CVE-2006-2660", "CVE-2006-4486", "CVE-2006-4625",
		"CVE-2006-4812", "CVE-2006-5465", "CVE-2006-5706", "CVE-2006-7205", "CVE-2007-0448",
		"CVE-2007-1381", "CVE-2007-1584", "CVE-2007-1888", "CVE-2007-2844", "CVE-2007-5424",
	}},
	// ZAP findings are per alert instance (each affected URL is an asset):
	// the 4 alertitems hold 12 and 13 instances.
	"zap/0_zap_sample.xml":                    {findings: 12},
	"zap/2_zap_sample_0_and_new_endpoint.xml": {findings: 13},
	// Same unit for ZAP JSON: 1 + 3 instances, and 1 + 4 legacy Items.
	"zap-json/devops-intro_zap-report.json":          {findings: 4},
	"zap-json/vulnerable-app_legacy_zap-report.json": {findings: 5},
	// Of the manifest's three ids, only CVE-2018-7489 is the
	// vulnerability's (its references[].id). CVE-2019-9997 appears only in
	// that reference's URL (an error in the spec example) and CVE-2017-7525
	// is named in the description as the earlier flaw this one bypasses.
	"cyclonedx/valid-vulnerability-1.4.json": {cves: []string{"CVE-2018-7489"}},
}

// repoRoot walks up from the package directory to the directory holding
// go.mod.
func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("go.mod not found above the package directory")
		}
		dir = parent
	}
}

// corpusDir returns ../shared/corpus/scanners relative to the repository
// root, skipping the test when it is absent (a plain clone has no corpus).
func corpusDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(repoRoot(t), "..", "shared", "corpus", "scanners")
	if _, err := os.Stat(filepath.Join(dir, "manifest.json")); err != nil {
		t.Skip("../shared/corpus not present: corpus test skipped")
	}
	return dir
}

// parserID maps a manifest format directory ("nessus-csv") to a parser id.
func parserID(format string) string {
	return scanners.IDPrefix + strings.ReplaceAll(format, "-", "_")
}

func TestCorpus_Manifest(t *testing.T) {
	dir := corpusDir(t)
	raw, err := os.ReadFile(filepath.Join(dir, "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []corpusEntry
	if err := json.Unmarshal(raw, &entries); err != nil {
		t.Fatalf("manifest.json: %v", err)
	}
	if len(entries) == 0 {
		t.Fatal("manifest.json lists no files")
	}
	seen := map[string]bool{}
	for _, e := range entries {
		name := e.Format + "/" + e.File
		seen[name] = true
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(dir, e.Format, e.File)
			want, ok := scanners.ByID(parserID(e.Format))
			if !ok {
				t.Fatalf("no parser for format %q", e.Format)
			}

			head := make([]byte, scanners.HeadSize)
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			n, err := io.ReadFull(f, head)
			f.Close()
			if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
				t.Fatal(err)
			}
			got, err := scanners.Detect(head[:n])
			switch {
			case n == 0:
				// An empty report names no format: Detect must refuse it
				// and the importer names the parser.
				if !errors.Is(err, scanners.ErrUnknownFormat) {
					t.Errorf("Detect(empty) = %v, %v; want ErrUnknownFormat", got, err)
				}
			case err != nil:
				t.Fatalf("Detect: %v", err)
			case got.ID() != want.ID():
				t.Fatalf("Detect = %s, want %s", got.ID(), want.ID())
			}

			findings := parseFile(t, want, path)

			dev := corpusDeviations[name]
			wantN := e.NativeFindings
			if dev.findings != 0 {
				wantN = dev.findings
			}
			if len(findings) != wantN {
				t.Errorf("%d findings, want %d", len(findings), wantN)
			}

			wantCVEs := e.CVEs
			if dev.cves != nil {
				wantCVEs = dev.cves
				for _, c := range wantCVEs {
					if !slices.Contains(e.CVEs, c) {
						t.Errorf("deviation lists %s, which the manifest does not", c)
					}
				}
			}
			if got, want := cveSet(findings), sorted(wantCVEs); !slices.Equal(got, want) {
				t.Errorf("CVEs\n got %v\nwant %v", got, want)
			}

			// Where the finding is the manifest's unit, the scanner's own
			// severity words must be distributed as the manifest counts them.
			if dev.findings == 0 {
				for key, dist := range e.Severity {
					got := map[string]int{}
					for _, f := range findings {
						got[f.SeverityRaw]++
					}
					if !equalDist(got, dist) {
						t.Errorf("severity %s = %v, want %v", key, got, dist)
					}
				}
			}
			if hosts, ok := e.Targets["hosts"]; ok {
				if got := hostCount(findings); got != hosts {
					t.Errorf("%d distinct hosts, want %d", got, hosts)
				}
			}
			for _, f := range findings {
				checkFinding(t, f)
			}
		})
	}
	for name := range corpusDeviations {
		if !seen[name] {
			t.Errorf("deviation for %s, which the manifest does not list", name)
		}
	}
}

// parseFile parses a whole report with default limits, failing on error.
func parseFile(t *testing.T, p sdk.ReportParser, path string) []sdk.Finding {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []sdk.Finding
	if err := p.Parse(f, sdk.Limits{}, collect(&out)); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return out
}

// collect returns an emit function that deep-copies each finding into out
// (emit must not retain the finding it is given).
func collect(out *[]sdk.Finding) func(*sdk.Finding) error {
	return func(f *sdk.Finding) error {
		c := *f
		c.CVEs = slices.Clone(f.CVEs)
		c.CWEs = slices.Clone(f.CWEs)
		c.References = slices.Clone(f.References)
		*out = append(*out, c)
		return nil
	}
}

func cveSet(fs []sdk.Finding) []string {
	set := map[string]bool{}
	for _, f := range fs {
		for _, c := range f.CVEs {
			set[c] = true
		}
	}
	out := make([]string, 0, len(set))
	for c := range set {
		out = append(out, c)
	}
	return sorted(out)
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	if s == nil {
		s = []string{}
	}
	return s
}

func equalDist(got, want map[string]int) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if got[k] != v {
			return false
		}
	}
	return true
}

// hostCount counts distinct hosts, a host being its name when the report
// gives one, else its address.
func hostCount(fs []sdk.Finding) int {
	set := map[string]bool{}
	for _, f := range fs {
		h := f.Asset.Hostname
		if h == "" {
			h = f.Asset.IP
		}
		if h != "" {
			set[h] = true
		}
	}
	return len(set)
}
