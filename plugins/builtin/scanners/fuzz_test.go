package scanners_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/plugins/builtin/scanners"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// fuzzLimits are tight so that the fuzzer reaches the limit paths often.
var fuzzLimits = sdk.Limits{MaxBytes: 1 << 20, MaxDepth: 24, MaxFindings: 500, MaxField: 8 << 10}

// seed adds every fixture of the named parsers to f.
func seed(f *testing.F, names ...string) {
	for _, n := range names {
		files, _ := filepath.Glob(filepath.Join("testdata", n, "*"))
		for _, file := range files {
			if strings.HasSuffix(file, ".golden.json") {
				continue
			}
			if b, err := os.ReadFile(file); err == nil {
				f.Add(b)
			}
		}
	}
}

// fuzzParsers runs each named parser over input and checks that it neither
// panics nor returns anything but success, a located *sdk.ReportError or a
// limit error, and that every finding it emits is well formed.
func fuzzParsers(t *testing.T, input []byte, names ...string) {
	for _, n := range names {
		p, ok := scanners.ByID(n)
		if !ok {
			t.Fatalf("no parser %s", n)
		}
		err := p.Parse(bytes.NewReader(input), fuzzLimits, func(f *sdk.Finding) error {
			if perr := problem(f); perr != nil {
				t.Fatalf("%s emitted a bad finding: %v", n, perr)
			}
			return nil
		})
		if err == nil {
			continue
		}
		var re *sdk.ReportError
		if !errors.As(err, &re) && !errors.Is(err, sdk.ErrLimit) {
			t.Fatalf("%s: error %v (%T) is neither a ReportError nor a limit", n, err, err)
		}
		if re != nil && (re.Offset < 0 || re.Offset > int64(len(input))) {
			t.Fatalf("%s: error offset %d outside the %d-byte input", n, re.Offset, len(input))
		}
	}
	_, _ = scanners.Detect(input)
}

var xmlFamily = []string{"nmap", "nessus", "openvas", "zap", "qualys", "burp", "nexpose", "nikto", "dependency_check", "cyclonedx"}

func FuzzXML(f *testing.F) {
	seed(f, xmlFamily...)
	f.Add([]byte(`<?xml version="1.0" encoding="ISO-8859-1"?><nmaprun><host><ports><port portid="1"><state state="open"/></port></ports></host></nmaprun>`))
	f.Add([]byte("<NexposeReport><nodes><node address=\"1.1.1.1\"><tests><test id=\"x\" status=\"vulnerable\"/></tests></node></nodes></NexposeReport>"))
	f.Fuzz(func(t *testing.T, input []byte) {
		fuzzParsers(t, input, xmlFamily...)
	})
}

var jsonFamily = []string{"nuclei", "trivy", "zap_json", "grype", "cyclonedx", "nikto", "dependency_check"}

func FuzzJSON(f *testing.F) {
	seed(f, jsonFamily...)
	f.Add([]byte(`{"Report":{"Sites":[{"Alerts":{"AlertItem":{"Item":[{"URI":"GET : http://x/"}]}}}]}}`))
	f.Add([]byte(`{"template-id":"a"}{"template-id":"b"}`))
	f.Fuzz(func(t *testing.T, input []byte) {
		fuzzParsers(t, input, jsonFamily...)
	})
}

var csvFamily = []string{"nessus_csv", "openvas_csv"}

func FuzzCSV(f *testing.F) {
	seed(f, csvFamily...)
	f.Add([]byte("Plugin ID,Risk,Host\n1,High,\xff\xfe\n"))
	f.Fuzz(func(t *testing.T, input []byte) {
		fuzzParsers(t, input, csvFamily...)
	})
}
