package scanners_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/scanners"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

var update = flag.Bool("update", false, "rewrite testdata/*/*.golden.json (one per fixture, named after it) from the parsers' output (review the diff before committing)")

// golden is a finding as written in a .golden.json file: every field, empty
// ones left out, severity by name and time in RFC 3339, so that a fixture's
// expected findings read as a reviewable document.
type golden struct {
	Scanner     string   `json:"scanner"`
	RuleID      string   `json:"rule_id,omitempty"`
	Title       string   `json:"title,omitempty"`
	Severity    string   `json:"severity"`
	SeverityRaw string   `json:"severity_raw,omitempty"`
	CVSS        float64  `json:"cvss,omitempty"`
	CVSSVector  string   `json:"cvss_vector,omitempty"`
	CVEs        []string `json:"cves,omitempty"`
	CWEs        []string `json:"cwes,omitempty"`
	Description string   `json:"description,omitempty"`
	Solution    string   `json:"solution,omitempty"`
	Evidence    string   `json:"evidence,omitempty"`
	References  []string `json:"references,omitempty"`
	Asset       struct {
		IP             string `json:"ip,omitempty"`
		Hostname       string `json:"hostname,omitempty"`
		Port           int    `json:"port,omitempty"`
		Protocol       string `json:"protocol,omitempty"`
		Service        string `json:"service,omitempty"`
		URL            string `json:"url,omitempty"`
		Package        string `json:"package,omitempty"`
		PackageVersion string `json:"package_version,omitempty"`
		FixedVersion   string `json:"fixed_version,omitempty"`
		Target         string `json:"target,omitempty"`
	} `json:"asset"`
	Time string `json:"time,omitempty"`
}

func toGolden(f sdk.Finding) golden {
	g := golden{
		Scanner: f.Scanner, RuleID: f.RuleID, Title: f.Title,
		Severity: f.Severity.String(), SeverityRaw: f.SeverityRaw,
		CVSS: f.CVSS, CVSSVector: f.CVSSVector, CVEs: f.CVEs, CWEs: f.CWEs,
		Description: f.Description, Solution: f.Solution, Evidence: f.Evidence, References: f.References,
	}
	a := f.Asset
	g.Asset.IP, g.Asset.Hostname, g.Asset.Port, g.Asset.Protocol = a.IP, a.Hostname, a.Port, a.Protocol
	g.Asset.Service, g.Asset.URL, g.Asset.Package = a.Service, a.URL, a.Package
	g.Asset.PackageVersion, g.Asset.FixedVersion, g.Asset.Target = a.PackageVersion, a.FixedVersion, a.Target
	if !f.Time.IsZero() {
		g.Time = f.Time.Format(time.RFC3339Nano)
	}
	return g
}

func marshalGolden(t *testing.T, fs []sdk.Finding) []byte {
	t.Helper()
	gs := make([]golden, len(fs))
	for i, f := range fs {
		gs[i] = toGolden(f)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(gs); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestFixtures_Golden parses every hand-written report under
// testdata/<parser name>/ and compares all fields of all findings with the
// .golden.json next to it. Detect must pick the directory's parser.
func TestFixtures_Golden(t *testing.T) {
	for _, p := range scanners.All() {
		name := strings.TrimPrefix(p.ID(), scanners.IDPrefix)
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join("testdata", name)
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatalf("every parser needs fixtures: %v", err)
			}
			n := 0
			for _, e := range entries {
				if e.IsDir() || strings.HasSuffix(e.Name(), ".golden.json") {
					continue
				}
				n++
				path := filepath.Join(dir, e.Name())
				t.Run(e.Name(), func(t *testing.T) {
					raw, err := os.ReadFile(path)
					if err != nil {
						t.Fatal(err)
					}
					got, err := scanners.Detect(raw)
					if err != nil || got.ID() != p.ID() {
						t.Fatalf("Detect = %v, %v; want %s", got, err, p.ID())
					}
					findings := parseFile(t, p, path)
					for _, f := range findings {
						checkFinding(t, f)
					}
					out := marshalGolden(t, findings)
					gpath := path + ".golden.json"
					if *update {
						if err := os.WriteFile(gpath, out, 0o644); err != nil {
							t.Fatal(err)
						}
						return
					}
					want, err := os.ReadFile(gpath)
					if err != nil {
						t.Fatalf("%v (run with -update to create it, then review it)", err)
					}
					if !bytes.Equal(out, want) {
						t.Errorf("findings differ from %s:\n%s", gpath, diff(string(want), string(out)))
					}
				})
			}
			if n == 0 {
				t.Fatalf("no fixtures in %s", dir)
			}
		})
	}
}

// diff shows the first differing line of two documents.
func diff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := 0; i < len(w) || i < len(g); i++ {
		var wl, gl string
		if i < len(w) {
			wl = w[i]
		}
		if i < len(g) {
			gl = g[i]
		}
		if wl != gl {
			return "line " + strconv.Itoa(i+1) + ":\n- " + wl + "\n+ " + gl
		}
	}
	return "(same lines)"
}
