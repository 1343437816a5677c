package scanners_test

import (
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/plugins/sdk"
)

// maxEvidence is the longest Evidence a parser may produce: the 32 KiB
// bound plus the truncation note.
const maxEvidence = 32<<10 + 64

// problem returns what is wrong with a finding any parser emitted, whatever
// the input: the invariants the fuzz targets check.
func problem(f *sdk.Finding) error {
	switch {
	case f.Scanner == "":
		return fmt.Errorf("no Scanner")
	case f.Severity > sdk.SeverityCritical:
		return fmt.Errorf("severity %d out of range", f.Severity)
	case f.CVSS < 0 || f.CVSS > 10:
		return fmt.Errorf("CVSS %v out of range", f.CVSS)
	case f.Asset.Port < 0 || f.Asset.Port > 65535:
		return fmt.Errorf("port %d out of range", f.Asset.Port)
	case len(f.Evidence) > maxEvidence:
		return fmt.Errorf("evidence of %d bytes", len(f.Evidence))
	case f.Asset.Protocol != strings.ToLower(f.Asset.Protocol):
		return fmt.Errorf("protocol %q not lower case", f.Asset.Protocol)
	case !f.Time.IsZero() && f.Time.Location().String() != "UTC":
		return fmt.Errorf("time %v not in UTC", f.Time)
	}
	seen := map[string]bool{}
	for _, c := range f.CVEs {
		if seen[c] || !strings.HasPrefix(c, "CVE-") {
			return fmt.Errorf("CVE list %v", f.CVEs)
		}
		seen[c] = true
	}
	for _, c := range f.CWEs {
		if !strings.HasPrefix(c, "CWE-") || c == "CWE-0" {
			return fmt.Errorf("CWE list %v", f.CWEs)
		}
	}
	for name, s := range map[string]string{
		"RuleID": f.RuleID, "Title": f.Title, "Description": f.Description, "Solution": f.Solution,
		"Evidence": f.Evidence, "IP": f.Asset.IP, "Hostname": f.Asset.Hostname, "URL": f.Asset.URL,
		"Package": f.Asset.Package, "Target": f.Asset.Target, "SeverityRaw": f.SeverityRaw,
	} {
		if !utf8.ValidString(s) {
			return fmt.Errorf("%s is not UTF-8: %q", name, s)
		}
	}
	return nil
}

// checkFinding applies problem and, for real reports, asks for what every
// report gives: a rule, a title and something identifying the asset.
func checkFinding(t *testing.T, f sdk.Finding) {
	t.Helper()
	if err := problem(&f); err != nil {
		t.Errorf("%s/%s: %v", f.Scanner, f.RuleID, err)
	}
	a := f.Asset
	if f.RuleID == "" || f.Title == "" {
		t.Errorf("%s finding without rule id or title: %+v", f.Scanner, f)
	}
	if a.IP == "" && a.Hostname == "" && a.URL == "" && a.Package == "" && a.Target == "" {
		t.Errorf("%s/%s: no asset", f.Scanner, f.RuleID)
	}
}
