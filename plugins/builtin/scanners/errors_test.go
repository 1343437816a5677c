package scanners_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/plugins/builtin/scanners"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

func mustParser(t *testing.T, id string) sdk.ReportParser {
	t.Helper()
	p, ok := scanners.ByID(id)
	if !ok {
		t.Fatalf("no parser %q", id)
	}
	return p
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", filepath.FromSlash(name)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// parseBytes runs p over b and returns the findings emitted and the error.
func parseBytes(p sdk.ReportParser, b []byte, lim sdk.Limits) ([]sdk.Finding, error) {
	var out []sdk.Finding
	err := p.Parse(bytes.NewReader(b), lim, collect(&out))
	return out, err
}

// cutAfter returns b up to and including the first occurrence of marker.
func cutAfter(t *testing.T, b []byte, marker string) []byte {
	t.Helper()
	i := bytes.Index(b, []byte(marker))
	if i < 0 {
		t.Fatalf("marker %q not in fixture", marker)
	}
	return b[:i+len(marker)]
}

// TestParse_Malformed_ReportError cuts fixtures (or corrupts them) after
// some findings: the parse must fail with a *sdk.ReportError that locates
// the damage, and the findings before it must have been emitted.
func TestParse_Malformed_ReportError(t *testing.T) {
	cases := []struct {
		parser, fixture, marker string
		garbage                 string // appended after the cut; "" leaves it truncated
		before                  int
	}{
		{"nmap", "nmap/two_hosts.xml", `<address addr="fd00::2"`, "", 2},
		{"nmap", "nmap/two_hosts.xml", "</host>", "<host><ports></host>", 2},
		{"nessus", "nessus/two_hosts.nessus", `<ReportHost name="198.51.100.7">`, "", 2},
		{"openvas", "openvas/gmp.xml", `<result id="res-2">`, "", 1},
		{"zap", "zap/report.xml", "<pluginid>10020</pluginid>", "", 2},
		{"burp", "burp/issues.xml", "<serialNumber>112</serialNumber>", "", 1},
		{"qualys", "qualys/scan.xml", `<PRACTICE number="38173"`, "", 1},
		{"nikto", "nikto/scan.xml", `<item id="000390"`, "", 1},
		{"dependency_check", "dependency_check/report.xml", `<dependency isVirtual="true">`, "", 1},
		{"cyclonedx", "cyclonedx/bom14.xml", "</vulnerability>", "", 1},
		{"trivy", "trivy/image.json", `"Target": "Dockerfile",`, "", 1},
		{"trivy", "trivy/image.json", `"Target": "Dockerfile",`, `"Class": config}`, 1},
		{"grype", "grype/matches.json", `"artifact": {"name": "tar"`, "", 1},
		{"cyclonedx", "cyclonedx/bom.json", `"id": "INTERNAL-42",`, "", 2},
		{"nuclei", "nuclei/results.jsonl", "\n\n", "{\"templateID\": tru}\n", 1},
		{"nikto", "nikto/scan.json", `{"id":"600050"`, "", 1},
		{"dependency_check", "dependency_check/report.json", `{"isVirtual":false`, "", 1},
		{"zap_json", "zap_json/traditional.json", `"site": [`, "{]", 0},
		{"nessus_csv", "nessus_csv/pro_default.csv", "\"Version : 2.2.31\"\r\n", "\"1\",\"x\"y\",\"z\"\r\n", 2},
		{"openvas_csv", "openvas_csv/results.csv", "https://example.org/pg2\"\n", "192.0.2.31,\"unterminated\n", 1},
	}
	for _, c := range cases {
		t.Run(c.parser+"/"+c.marker, func(t *testing.T) {
			b := cutAfter(t, fixture(t, c.fixture), c.marker)
			b = append(append([]byte(nil), b...), c.garbage...)
			findings, err := parseBytes(mustParser(t, c.parser), b, sdk.Limits{})
			var re *sdk.ReportError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v (%T), want *sdk.ReportError", err, err)
			}
			if re.Offset <= 0 || re.Offset > int64(len(b)) || re.Line <= 0 {
				t.Errorf("error at offset %d line %d, input %d bytes", re.Offset, re.Line, len(b))
			}
			if len(findings) != c.before {
				t.Errorf("%d findings emitted before the error, want %d", len(findings), c.before)
			}
			if errors.Is(err, sdk.ErrLimit) {
				t.Errorf("malformed input reported as a limit: %v", err)
			}
		})
	}
}

// TestParse_Malformed_Position checks exact positions where they are known.
func TestParse_Malformed_Position(t *testing.T) {
	cases := []struct {
		parser, input string
		line          int
		offset        int64
	}{
		// The 'x' that is not a value is byte 76, on line 3.
		{"nuclei", "{\"template-id\":\"a\",\"info\":{}}\n{\"template-id\":\"b\",\"info\":{}}\n{\"template-id\": x}\n", 3, 76},
		// The stray end tag is on line 4; encoding/xml stops at its end,
		// byte 33.
		{"nmap", "<nmaprun>\n<host>\n</host>\n</ports>\n</nmaprun>\n", 4, 33},
		// The bare quote is byte 32, in the second data row on line 3.
		{"openvas_csv", "IP,NVT OID\n1.2.3.4,1.1\n1.2.3.5,1\"2\n", 3, 32},
	}
	for _, c := range cases {
		t.Run(c.parser, func(t *testing.T) {
			_, err := parseBytes(mustParser(t, c.parser), []byte(c.input), sdk.Limits{})
			var re *sdk.ReportError
			if !errors.As(err, &re) {
				t.Fatalf("err = %v, want *sdk.ReportError", err)
			}
			if re.Line != c.line || re.Offset != c.offset {
				t.Errorf("error %q at line %d offset %d, want line %d offset %d", err, re.Line, re.Offset, c.line, c.offset)
			}
		})
	}
}

// TestParse_Deferred_NoPartialEmit documents the formats that emit only
// once their definitions are read: cut before them, they emit nothing.
func TestParse_Deferred_NoPartialEmit(t *testing.T) {
	for _, c := range []struct{ parser, fixture, marker string }{
		{"nexpose", "nexpose/export.xml", "</nodes>"},
		{"qualys", "qualys/was.xml", "</RESULTS>"},
		{"qualys", "qualys/asset_data.xml", "</HOST_LIST>"},
	} {
		b := cutAfter(t, fixture(t, c.fixture), c.marker)
		findings, err := parseBytes(mustParser(t, c.parser), b, sdk.Limits{})
		var re *sdk.ReportError
		if !errors.As(err, &re) || len(findings) != 0 {
			t.Errorf("%s cut after %s: %d findings, err %v; want none and a ReportError", c.fixture, c.marker, len(findings), err)
		}
	}
}

// xmlRoots gives each XML parser a document element it walks into.
var xmlRoots = map[string]string{
	"nmap": "nmaprun", "nessus": "NessusClientData_v2", "openvas": "report", "zap": "OWASPZAPReport",
	"qualys": "SCAN", "burp": "issues", "nexpose": "NexposeReport", "dependency_check": "analysis",
	"cyclonedx": `bom xmlns="http://cyclonedx.org/schema/bom/1.4"`, "nikto": "niktoscan",
}

var jsonParsers = []string{"nuclei", "trivy", "zap_json", "grype", "cyclonedx", "nikto", "dependency_check"}

func TestLimits_DepthBomb(t *testing.T) {
	for name, root := range xmlRoots {
		t.Run("xml/"+name, func(t *testing.T) {
			doc := "<?xml version=\"1.0\"?><" + root + ">" + strings.Repeat("<a>", 100)
			_, err := parseBytes(mustParser(t, name), []byte(doc), sdk.Limits{})
			if !errors.Is(err, sdk.ErrLimit) {
				t.Fatalf("err = %v, want ErrLimit", err)
			}
		})
	}
	for _, name := range jsonParsers {
		t.Run("json/"+name, func(t *testing.T) {
			doc := `{"x":` + strings.Repeat("[", 100)
			_, err := parseBytes(mustParser(t, name), []byte(doc), sdk.Limits{})
			if !errors.Is(err, sdk.ErrLimit) {
				t.Fatalf("err = %v, want ErrLimit", err)
			}
		})
	}
	t.Run("record", func(t *testing.T) {
		// Deep nesting inside a record read whole is caught as well.
		doc := "<nmaprun><host>" + strings.Repeat("<x>", 70) + strings.Repeat("</x>", 70) + "</host></nmaprun>"
		_, err := parseBytes(mustParser(t, "nmap"), []byte(doc), sdk.Limits{})
		if !errors.Is(err, sdk.ErrLimit) {
			t.Fatalf("err = %v, want ErrLimit", err)
		}
	})
}

func TestLimits_OversizedValue(t *testing.T) {
	lim := sdk.Limits{MaxField: 1024}
	big := strings.Repeat("A", 2048)
	cases := map[string]struct{ parser, doc string }{
		"xml text in a list item": {"zap", "<OWASPZAPReport><site><alerts><alertitem><desc>" + big + "</desc></alertitem></alerts></site></OWASPZAPReport>"},
		"xml text in a record":    {"nessus", "<NessusClientData_v2><Report><ReportHost name=\"h\"><ReportItem><description>" + big + "</description></ReportItem></ReportHost></Report></NessusClientData_v2>"},
		"xml attribute":           {"nmap", "<nmaprun><host><address addr=\"" + big + "\"/></host></nmaprun>"},
		"json string streamed":    {"trivy", `{"SchemaVersion":2,"ArtifactName":"` + big + `"}`},
		"json string in a record": {"grype", `{"matches":[{"vulnerability":{"description":"` + big + `"}}]}`},
		"json key":                {"nuclei", `{"` + big + `":1}`},
		"csv cell":                {"openvas_csv", "IP,NVT OID,Summary\n1.2.3.4,1.1," + big + "\n"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := parseBytes(mustParser(t, c.parser), []byte(c.doc), lim)
			if !errors.Is(err, sdk.ErrLimit) {
				t.Fatalf("err = %v, want ErrLimit", err)
			}
			var re *sdk.ReportError
			if !errors.As(err, &re) || re.Offset <= 0 {
				t.Errorf("limit error %v does not say where", err)
			}
		})
	}
}

// TestLimits_SkippedValues: text in parts of a report no parser reads is
// bounded by MaxBytes only; the decoders have read it whole before it could
// be refused, and real reports have such values near 1 MiB (Nessus policy
// plugin sets).
func TestLimits_SkippedValues(t *testing.T) {
	lim := sdk.Limits{MaxField: 1024}
	big := strings.Repeat("1;", 2048)
	cases := map[string]struct{ parser, doc string }{
		"nessus policy": {"nessus", "<NessusClientData_v2><Policy><Preferences><preference><name>plugin_set</name><value>" + big +
			"</value></preference></Preferences></Policy><Report><ReportHost name=\"10.0.0.1\"><ReportItem pluginID=\"1\" severity=\"1\"/></ReportHost></Report></NessusClientData_v2>"},
		"trivy metadata": {"trivy", `{"SchemaVersion":2,"Metadata":{"ImageConfig":"` + big + `"},"Results":[{"Target":"t","Vulnerabilities":[{"VulnerabilityID":"CVE-2024-0001"}]}]}`},
	}
	for name, c := range cases {
		fs, err := parseBytes(mustParser(t, c.parser), []byte(c.doc), lim)
		if err != nil || len(fs) != 1 {
			t.Errorf("%s: %d findings, %v", name, len(fs), err)
		}
	}
}

// TestLimits_EvidenceCut: evidence is the one value cut rather than
// rejected, and the cut is stated in the evidence.
func TestLimits_EvidenceCut(t *testing.T) {
	lim := sdk.Limits{MaxField: 4096}
	t.Run("nessus plugin_output", func(t *testing.T) {
		out := strings.Repeat("x", 10000)
		doc := `<NessusClientData_v2><Report><ReportHost name="10.0.0.1"><ReportItem pluginID="1" severity="1"><plugin_output>` + out + `</plugin_output></ReportItem></ReportHost></Report></NessusClientData_v2>`
		fs, err := parseBytes(mustParser(t, "nessus"), []byte(doc), lim)
		if err != nil || len(fs) != 1 {
			t.Fatalf("%d findings, err %v", len(fs), err)
		}
		want := strings.Repeat("x", 4096) + "\n[evidence truncated: 5904 bytes omitted]"
		if fs[0].Evidence != want {
			t.Errorf("evidence = %.60q… (%d bytes), want 4096 x and the note", fs[0].Evidence, len(fs[0].Evidence))
		}
	})
	t.Run("burp base64 response", func(t *testing.T) {
		body := "HTTP/1.1 200 OK\r\n\r\n" + strings.Repeat("<p>page</p>", 20000) // 220 kB
		enc := base64.StdEncoding.EncodeToString([]byte(body))
		doc := `<issues burpVersion="2"><issue><type>1</type><name>n</name><host>http://h</host><path>/</path><severity>Low</severity><requestresponse><response base64="true">` + enc + `</response></requestresponse></issue></issues>`
		fs, err := parseBytes(mustParser(t, "burp"), []byte(doc), sdk.Limits{})
		if err != nil || len(fs) != 1 {
			t.Fatalf("%d findings, err %v", len(fs), err)
		}
		ev := fs[0].Evidence
		if len(ev) > maxEvidence || !strings.HasPrefix(ev, "response:\nHTTP/1.1 200 OK") || !strings.Contains(ev, "[evidence truncated: ") {
			t.Errorf("evidence %d bytes: %.80q … %q", len(ev), ev, ev[max(0, len(ev)-60):])
		}
	})
	t.Run("nuclei response over MaxField", func(t *testing.T) {
		doc := `{"template-id":"t","info":{"name":"n","severity":"low"},"host":"h","response":"` + strings.Repeat("r", 9000) + `"}`
		fs, err := parseBytes(mustParser(t, "nuclei"), []byte(doc), lim)
		if err != nil || len(fs) != 1 {
			t.Fatalf("%d findings, err %v", len(fs), err)
		}
		if ev := fs[0].Evidence; len(ev) > 4096+64 || !strings.Contains(ev, "[evidence truncated: ") {
			t.Errorf("evidence %d bytes, ends %q", len(ev), ev[max(0, len(ev)-60):])
		}
	})
}

func TestLimits_MaxBytes(t *testing.T) {
	for _, name := range []string{"nmap/two_hosts.xml", "trivy/image.json", "nessus_csv/tenable_sc.csv"} {
		t.Run(name, func(t *testing.T) {
			b := fixture(t, name)
			p, err := scanners.Detect(b)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := parseBytes(p, b, sdk.Limits{MaxBytes: int64(len(b))}); err != nil {
				t.Errorf("report of exactly MaxBytes: %v", err)
			}
			_, err = parseBytes(p, b, sdk.Limits{MaxBytes: int64(len(b)) - 1})
			var re *sdk.ReportError
			if !errors.Is(err, sdk.ErrLimit) || !errors.As(err, &re) {
				t.Errorf("report one byte over MaxBytes: %v, want a located ErrLimit", err)
			}
		})
	}
}

func TestLimits_MaxFindings(t *testing.T) {
	for _, c := range []struct{ parser, fixture string }{
		{"nmap", "nmap/two_hosts.xml"},
		{"nexpose", "nexpose/export.xml"}, // findings held until the definitions
		{"qualys", "qualys/was.xml"},
	} {
		t.Run(c.parser, func(t *testing.T) {
			fs, err := parseBytes(mustParser(t, c.parser), fixture(t, c.fixture), sdk.Limits{MaxFindings: 1})
			if !errors.Is(err, sdk.ErrLimit) {
				t.Fatalf("err = %v, want ErrLimit", err)
			}
			if len(fs) > 1 {
				t.Errorf("%d findings emitted past MaxFindings 1", len(fs))
			}
		})
	}
}

// TestParse_EmitError: an error from emit stops the parse and comes back
// unchanged, from every parser.
func TestParse_EmitError(t *testing.T) {
	stop := errors.New("stop here")
	for _, p := range scanners.All() {
		name := strings.TrimPrefix(p.ID(), scanners.IDPrefix)
		t.Run(name, func(t *testing.T) {
			entries, err := os.ReadDir(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			calls := 0
			err = p.Parse(bytes.NewReader(fixture(t, name+"/"+entries[0].Name())), sdk.Limits{}, func(*sdk.Finding) error {
				calls++
				return stop
			})
			if err != stop || calls != 1 {
				t.Errorf("Parse = %v after %d calls, want the emit error itself after 1", err, calls)
			}
		})
	}
}

// TestParse_Empty: only Nuclei, whose output is empty when nothing matched,
// accepts an empty report; for every other format it is malformed.
func TestParse_Empty(t *testing.T) {
	for _, p := range scanners.All() {
		fs, err := parseBytes(p, nil, sdk.Limits{})
		var re *sdk.ReportError
		switch {
		case p.ID() == "scanner.nuclei":
			if err != nil || len(fs) != 0 {
				t.Errorf("nuclei on an empty report: %d findings, %v", len(fs), err)
			}
		case !errors.As(err, &re):
			t.Errorf("%s on an empty report: %v, want *sdk.ReportError", p.ID(), err)
		}
	}
}
