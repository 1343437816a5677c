package scanners_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/plugins/builtin/scanners"
)

func TestAll_IDs(t *testing.T) {
	all := scanners.All()
	if len(all) != 16 {
		t.Errorf("%d parsers, want 16", len(all))
	}
	seen := map[string]bool{}
	for _, p := range all {
		id := p.ID()
		if !strings.HasPrefix(id, scanners.IDPrefix) || strings.ToLower(id) != id || seen[id] {
			t.Errorf("bad or duplicate id %q", id)
		}
		seen[id] = true
	}
	all[0] = nil
	if scanners.All()[0] == nil {
		t.Error("All returned the registry's own slice")
	}
}

func TestByID(t *testing.T) {
	for _, id := range []string{"nmap", "scanner.nmap", " Scanner.NMAP ", "nessus_csv", "scanner.dependency_check"} {
		if _, ok := scanners.ByID(id); !ok {
			t.Errorf("ByID(%q) not found", id)
		}
	}
	if p, _ := scanners.ByID("zap"); p.ID() != "scanner.zap" {
		t.Errorf("ByID(zap) = %s", p.ID())
	}
	for _, id := range []string{"", "scanner.", "nessus-csv", "scanner.syslog", "parser.nmap"} {
		if p, ok := scanners.ByID(id); ok {
			t.Errorf("ByID(%q) = %s, want none", id, p.ID())
		}
	}
}

func TestDetect_Unknown(t *testing.T) {
	for _, head := range []string{"", "  \n", "hello world", "<html><body/></html>", `{"foo": 1}`, "a,b\n1,2\n", "[1,2,3]"} {
		p, err := scanners.Detect([]byte(head))
		if !errors.Is(err, scanners.ErrUnknownFormat) {
			t.Errorf("Detect(%q) = %v, %v; want ErrUnknownFormat", head, p, err)
			continue
		}
		if !strings.Contains(err.Error(), "nmap") || !strings.Contains(err.Error(), "dependency_check") {
			t.Errorf("error %q does not list the known formats", err)
		}
	}
}

// TestDetect_Unambiguous: every fixture is accepted by exactly one parser,
// so detection does not depend on the registry order.
func TestDetect_Unambiguous(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	if dir := corpusDirIfPresent(); dir != "" {
		more, _ := filepath.Glob(filepath.Join(dir, "*", "*"))
		files = append(files, more...)
	}
	for _, f := range files {
		if strings.HasSuffix(f, ".golden.json") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil || len(b) == 0 {
			continue
		}
		if len(b) > scanners.HeadSize {
			b = b[:scanners.HeadSize]
		}
		var ids []string
		for _, p := range scanners.All() {
			if p.Detect(b) {
				ids = append(ids, p.ID())
			}
		}
		if len(ids) != 1 {
			t.Errorf("%s: accepted by %v, want exactly one parser", f, ids)
		}
	}
}

// TestDetect_ShortHead: detection works on a head cut short, as when the
// report is still being written or its first record is long.
func TestDetect_ShortHead(t *testing.T) {
	for _, c := range []struct{ file, want string }{
		{"nessus/two_hosts.nessus", "scanner.nessus"},
		{"trivy/image.json", "scanner.trivy"},
		{"grype/matches.json", "scanner.grype"},
		{"nuclei/results.jsonl", "scanner.nuclei"},
		{"cyclonedx/bom.json", "scanner.cyclonedx"},
		{"zap_json/traditional.json", "scanner.zap_json"},
		{"nessus_csv/tenable_sc.csv", "scanner.nessus_csv"},
	} {
		b := fixture(t, c.file)
		head := b[:min(len(b), 400)]
		p, err := scanners.Detect(head)
		if err != nil || p.ID() != c.want {
			t.Errorf("%s cut to %d bytes: %v, %v; want %s", c.file, len(head), p, err, c.want)
		}
	}
}

func corpusDirIfPresent() string {
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			c := filepath.Join(dir, "..", "shared", "corpus", "scanners")
			if _, err := os.Stat(c); err == nil {
				return c
			}
			return ""
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}
