// Package grype is the report parser for Anchore Grype JSON output (-o
// json), component id "scanner.grype".
//
// # Dialects
//
// The JSON document of Grype 0.1x to 0.8x: {"matches": [{"vulnerability",
// "relatedVulnerabilities", "matchDetails", "artifact"}], "source",
// "distro", "descriptor"}. Detection: a top-level "matches" key whose
// elements have vulnerability or artifact keys, or a descriptor named
// grype.
//
// # Findings
//
// One finding per match (vulnerability × artifact):
//
//   - RuleID the vulnerability id (CVE, GHSA, ALAS, …); Title
//     "ID in NAME@VERSION".
//   - Severity from the vulnerability's severity ("Negligible" is info),
//     kept in SeverityRaw.
//   - CVSS: the highest-version CVSS entry of the vulnerability, else of
//     the related vulnerabilities (usually NVD's record).
//   - CVEs: the id when it is a CVE, and the ids of relatedVulnerabilities
//     that are (a GHSA match names its CVE there).
//   - Description: the vulnerability's, else the first related one's.
//     Solution "Upgrade to V1, V2" when fix.state is "fixed". References:
//     dataSource and urls.
//   - Evidence: fix state, matcher and the artifact's locations.
//   - Asset: Package the artifact name, PackageVersion its version,
//     FixedVersion the fix versions (comma separated), Target the first
//     location path.
//
// Grype writes source and descriptor (with the scan time) after matches, so
// findings carry no Time and no scan target beyond the artifact location.
package grype

import (
	"fmt"
	"io"
	"strings"

	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/jsonstream"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/report"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// ID is the component id.
const ID = "scanner.grype"

// Parser parses Grype JSON reports. The zero value is ready to use.
type Parser struct{}

// New returns a Parser.
func New() *Parser { return &Parser{} }

// ID implements sdk.ReportParser.
func (*Parser) ID() string { return ID }

// Detect implements sdk.ReportParser.
func (*Parser) Detect(head []byte) bool {
	h, ok := jsonstream.Sniff(head)
	return ok && !h.Array && (h.Has("matches/vulnerability", "matches/artifact", "matches/matchDetails") ||
		h.Has("matches") && h.Has("descriptor/name") && strings.Contains(string(head), `"grype"`))
}

// Parse implements sdk.ReportParser.
func (*Parser) Parse(r io.Reader, lim sdk.Limits, emit func(*sdk.Finding) error) error {
	d := jsonstream.Open("Grype", r, lim)
	return d.Err(parse(d, report.NewEmitter("grype", lim, emit)))
}

func parse(d *jsonstream.Decoder, em *report.Emitter) error {
	if _, err := d.Start(); err != nil {
		return err
	}
	err := d.Object(func(key string) error {
		if key != "matches" {
			return d.Skip()
		}
		return d.Array(func() error {
			v, err := d.Value()
			if err != nil {
				return err
			}
			if v.Kind != jsonstream.Object {
				return fmt.Errorf("match object expected")
			}
			return emitMatch(v, d.Limits(), em)
		})
	})
	if err != nil {
		return err
	}
	return d.Finish()
}

func emitMatch(m *jsonstream.Value, lim sdk.Limits, em *report.Emitter) error {
	v, art := m.Get("vulnerability"), m.Get("artifact")
	related := m.Get("relatedVulnerabilities").Items()
	f := em.Next()
	id := v.Get("id").Str()
	name, version := art.Get("name").Str(), art.Get("version").Str()
	f.RuleID = id
	f.Title = id + " in " + name
	if version != "" {
		f.Title += "@" + version
	}
	report.Severity(f, v.Get("severity").Str())
	if !setCVSS(f, v) {
		for _, r := range related {
			if setCVSS(f, r) {
				break
			}
		}
	}
	f.AddCVE(id)
	for _, r := range related {
		f.AddCVE(r.Get("id").Str())
	}
	f.Description = v.Get("description").Str()
	for _, r := range related {
		if f.Description == "" {
			f.Description = r.Get("description").Str()
		}
	}
	fix := v.Get("fix")
	fixed := strings.Join(fix.Get("versions").Strings(), ", ")
	state := fix.Get("state").Str()
	if state == "fixed" && fixed != "" {
		f.Solution = "Upgrade to " + fixed + "."
	}
	f.AddReference(v.Get("dataSource").Str())
	for _, u := range v.Get("urls").Strings() {
		f.AddReference(u)
	}
	ev := report.NewEvidence(lim)
	ev.Add("fix state", state, 0)
	var matchers, paths []string
	for _, md := range m.Get("matchDetails").Items() {
		if s := md.Get("matcher").Str(); s != "" {
			matchers = append(matchers, s)
		}
	}
	for _, l := range art.Get("locations").Items() {
		if s := l.Get("path").Str(); s != "" {
			paths = append(paths, s)
		}
	}
	ev.Add("matcher", strings.Join(matchers, ", "), 0)
	ev.Add("locations", strings.Join(paths, "\n"), 0)
	f.Evidence = ev.String()
	f.Asset.Package = name
	f.Asset.PackageVersion = version
	f.Asset.FixedVersion = fixed
	if len(paths) > 0 {
		f.Asset.Target = paths[0]
	}
	return em.Emit(f)
}

// setCVSS sets the score of v's highest-version CVSS entry and reports
// whether there was one.
func setCVSS(f *sdk.Finding, v *jsonstream.Value) bool {
	best, bestVer := (*jsonstream.Value)(nil), -1.0
	for _, c := range v.Get("cvss").Items() {
		ver, _ := c.Get("version").Float()
		if s, ok := c.Path("metrics", "baseScore").Float(); ok && s > 0 && ver > bestVer {
			best, bestVer = c, ver
		}
	}
	if best == nil {
		return false
	}
	s, _ := best.Path("metrics", "baseScore").Float()
	report.SetCVSS(f, s, best.Get("vector").Str())
	return true
}
