// Package dependencycheck is the report parser for OWASP Dependency-Check
// reports, component id "scanner.dependency_check".
//
// # Dialects
//
//   - XML, schema 1.x to 4.x (<analysis xmlns="…dependency-check.N.xsd">):
//     <dependencies>/<dependency> with <vulnerabilities>/<vulnerability>;
//     old schemas give cvssScore and cvssAccessVector-style fields, new
//     ones <cvssV2>/<cvssV3> blocks and <cwes>;
//   - JSON (reportSchema 1.x): "dependencies" with "vulnerabilities" and
//     cvssv2/cvssv3 objects.
//
// Suppressed vulnerabilities are not findings. A report whose dependencies
// have no vulnerabilities is valid and has none. Detection: an XML
// <analysis> in a DependencyCheck namespace (or followed by
// <dependencies>), or JSON with reportSchema, or with scanInfo and
// dependencies.
//
// # Findings
//
// One finding per vulnerability of a dependency (vulnerability × file):
//
//   - RuleID the vulnerability name (a CVE, GHSA, OSS Index id, …); Title
//     "NAME in PACKAGE@VERSION".
//   - Severity from severity ("Moderate" is medium), else the CVSS v3
//     baseSeverity, else the score; the word kept in SeverityRaw.
//   - CVSS: the v3 base score, else v2 (cvssScore in schema 1.x);
//     CVSSVector rebuilt from the metric fields when all are present.
//   - CVEs: the name when it is a CVE. CWEs: cwe / cwes.
//   - Description; References: the reference URLs. Dependency-Check gives
//     no solution.
//   - Evidence: notes and the vulnerable software entries.
//   - Asset: Package and PackageVersion from the dependency's package URL
//     (packages, identifiers) or Maven identifier "group:artifact:version",
//     else the file name; Target the file path.
//   - Time: projectInfo reportDate.
package dependencycheck

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/jsonstream"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/report"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/xmlstream"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// ID is the component id.
const ID = "scanner.dependency_check"

// Parser parses Dependency-Check XML and JSON reports. The zero value is
// ready to use.
type Parser struct{}

// New returns a Parser.
func New() *Parser { return &Parser{} }

// ID implements sdk.ReportParser.
func (*Parser) ID() string { return ID }

// Detect implements sdk.ReportParser.
func (*Parser) Detect(head []byte) bool {
	if root, ok := xmlstream.Sniff(head); ok {
		return root.Name.Local == "analysis" && (strings.Contains(strings.ToLower(root.Name.Space), "dependencycheck") ||
			strings.Contains(string(head), "<dependencies"))
	}
	h, ok := jsonstream.Sniff(head)
	return ok && !h.Array && (h.Has("reportSchema") || h.Has("scanInfo") && h.Has("dependencies", "projectInfo"))
}

// Parse implements sdk.ReportParser.
func (*Parser) Parse(r io.Reader, lim sdk.Limits, emit func(*sdk.Finding) error) error {
	em := report.NewEmitter("dependency-check", lim, emit)
	br, isXML := report.IsXML(r)
	if isXML {
		d := xmlstream.Open("Dependency-Check", br, lim)
		p := &parser{em: em, lim: d.Limits()}
		return d.Err(p.parseXML(d))
	}
	d := jsonstream.Open("Dependency-Check", br, lim)
	p := &parser{em: em, lim: d.Limits()}
	return d.Err(p.parseJSON(d))
}

type parser struct {
	em   *report.Emitter
	lim  sdk.Limits
	time time.Time
}

// dep and vuln are the encoding-neutral forms both decoders fill.
type dep struct {
	fileName, filePath string
	purls, gavs        []string
	vulns              []vuln
}

type vuln struct {
	name, severity, description, notes string
	score3, severity3, score2          string
	v3, v2                             map[string]string // metric name → value
	cwes, refs, software               []string
}

var timeLayouts = []string{"2006-01-02T15:04:05.999-0700", time.RFC3339Nano}

func (p *parser) emit(d *dep) error {
	pkg, version := d.fileName, ""
	if name, ver, ok := purl(d.purls); ok {
		pkg, version = name, ver
	} else {
		for _, g := range d.gavs {
			if i := strings.LastIndexByte(g, ':'); i > 0 {
				pkg, version = g[:i], g[i+1:]
				break
			}
		}
	}
	for i := range d.vulns {
		v := &d.vulns[i]
		f := p.em.Next()
		f.RuleID = v.name
		f.Title = v.name + " in " + pkg
		if version != "" {
			f.Title += "@" + version
		}
		report.SetCVSS(f, report.Score(v.score3), vector3(v.v3))
		report.SetCVSS(f, report.Score(v.score2), vector2(v.v2))
		switch {
		case v.severity != "":
			report.Severity(f, v.severity)
		case v.severity3 != "":
			report.Severity(f, v.severity3)
		case f.CVSS > 0:
			f.Severity = sdk.SeverityFromCVSS(f.CVSS)
		}
		f.AddCVE(v.name)
		for _, c := range v.cwes {
			f.AddCWE(report.CWE(c))
		}
		f.Description = v.description
		for _, r := range v.refs {
			f.AddReference(r)
		}
		ev := report.NewEvidence(p.lim)
		ev.Add("notes", v.notes, 0)
		ev.Add("vulnerable software", strings.Join(v.software, "\n"), 0)
		f.Evidence = ev.String()
		f.Asset.Package, f.Asset.PackageVersion = pkg, version
		f.Asset.Target = d.filePath
		f.Time = p.time
		if err := p.em.Emit(f); err != nil {
			return err
		}
	}
	return nil
}

func purl(ids []string) (string, string, bool) {
	for _, id := range ids {
		if name, version, ok := report.PURL(id); ok {
			return name, version, true
		}
	}
	return "", "", false
}

var (
	v3Metrics = [][2]string{{"attackVector", "AV"}, {"attackComplexity", "AC"}, {"privilegesRequired", "PR"},
		{"userInteraction", "UI"}, {"scope", "S"}, {"confidentialityImpact", "C"}, {"integrityImpact", "I"}, {"availabilityImpact", "A"}}
	v2Metrics = [][2]string{{"accessVector", "AV"}, {"accessComplexity", "AC"}, {"authentication", "Au"},
		{"confidentialImpact", "C"}, {"integrityImpact", "I"}, {"availabilityImpact", "A"}}
)

// vector3 rebuilds a CVSS v3 vector from NVD's metric words (NETWORK → N);
// the first letter of each word is the metric value.
func vector3(m map[string]string) string {
	v := vector(m, v3Metrics)
	if v != "" && m["version"] != "" {
		v = "CVSS:" + m["version"] + "/" + v
	}
	return v
}

func vector2(m map[string]string) string { return vector(m, v2Metrics) }

func vector(m map[string]string, metrics [][2]string) string {
	parts := make([]string, 0, len(metrics))
	for _, mt := range metrics {
		val := strings.TrimSpace(m[mt[0]])
		if val == "" {
			return ""
		}
		parts = append(parts, mt[1]+":"+strings.ToUpper(val[:1]))
	}
	return strings.Join(parts, "/")
}

// metrics collects the metric fields of a CVSS block; Dependency-Check
// spells "authentication" as "authenticationr", and schema 1.x prefixes
// the v2 fields with "cvss" at the vulnerability level.
func metrics(get func(string) string, prefix string) map[string]string {
	m := map[string]string{}
	for _, list := range [][][2]string{v3Metrics, v2Metrics} {
		for _, mt := range list {
			name := mt[0]
			key := name
			if prefix != "" {
				key = prefix + strings.ToUpper(name[:1]) + name[1:]
			}
			if v := get(key); v != "" {
				m[name] = v
			} else if name == "authentication" {
				if v := get(key + "r"); v != "" {
					m[name] = v
				}
			}
		}
	}
	if v := get("version"); v != "" && prefix == "" {
		m["version"] = v
	}
	return m
}

// parseXML reads the XML encoding.
func (p *parser) parseXML(d *xmlstream.Decoder) error {
	root, err := d.Root()
	if err != nil {
		return err
	}
	if root.Name.Local != "analysis" {
		return fmt.Errorf("document element <%s>, want <analysis>", root.Name.Local)
	}
	err = d.Descend(func(se xml.StartElement) (bool, error) {
		switch se.Name.Local {
		case "projectInfo":
			n, err := d.Node(se)
			if err != nil {
				return true, err
			}
			p.time = report.Time(n.Str("reportDate"), timeLayouts...)
			return true, nil
		case "scanInfo":
			return true, d.Skip()
		case "dependency":
			n, err := d.Node(se)
			if err != nil {
				return true, err
			}
			return true, p.emit(xmlDep(n))
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	return d.Finish()
}

func xmlDep(n *xmlstream.Node) *dep {
	d := &dep{fileName: n.Str("fileName"), filePath: n.Str("filePath")}
	for _, pk := range n.Get("packages").All("package") {
		d.purls = append(d.purls, pk.Str("id"))
	}
	ids := n.Get("identifiers")
	for _, pk := range ids.All("package") {
		d.purls = append(d.purls, pk.Str("id"))
	}
	for _, id := range ids.All("identifier") {
		d.gavs = append(d.gavs, id.Str("name"))
	}
	for _, v := range n.Get("vulnerabilities").All("vulnerability") {
		x := vuln{
			name:        v.Str("name"),
			severity:    v.Str("severity"),
			description: v.Str("description"),
			notes:       v.Str("notes"),
			score3:      v.Str("cvssV3/baseScore"),
			severity3:   v.Str("cvssV3/baseSeverity"),
			score2:      v.Str("cvssV2/score"),
		}
		if x.score2 == "" {
			x.score2 = v.Str("cvssScore")
		}
		v3, v2 := v.Get("cvssV3"), v.Get("cvssV2")
		x.v3 = metrics(func(k string) string { return v3.Str(k) }, "")
		x.v2 = metrics(func(k string) string { return v2.Str(k) }, "")
		if len(x.v2) == 0 {
			x.v2 = metrics(func(k string) string { return v.Str(k) }, "cvss")
		}
		if c := v.Str("cwe"); c != "" {
			x.cwes = append(x.cwes, c)
		}
		for _, c := range v.Get("cwes").All("cwe") {
			x.cwes = append(x.cwes, c.Str(""))
		}
		for _, r := range v.Get("references").All("reference") {
			x.refs = append(x.refs, r.Str("url"))
		}
		for _, s := range v.Get("vulnerableSoftware").All("software") {
			x.software = append(x.software, s.Str(""))
		}
		d.vulns = append(d.vulns, x)
	}
	return d
}

// parseJSON reads the JSON encoding.
func (p *parser) parseJSON(d *jsonstream.Decoder) error {
	if _, err := d.Start(); err != nil {
		return err
	}
	err := d.Object(func(key string) error {
		switch key {
		case "projectInfo":
			v, err := d.Value()
			if err != nil {
				return err
			}
			p.time = report.Time(v.Get("reportDate").Str(), timeLayouts...)
			return nil
		case "dependencies":
			return d.Array(func() error {
				v, err := d.Value()
				if err != nil {
					return err
				}
				if v.Kind != jsonstream.Object {
					return fmt.Errorf("dependency object expected")
				}
				return p.emit(jsonDep(v))
			})
		}
		return d.Skip()
	})
	if err != nil {
		return err
	}
	return d.Finish()
}

func jsonDep(v *jsonstream.Value) *dep {
	d := &dep{fileName: v.Get("fileName").Str(), filePath: v.Get("filePath").Str()}
	for _, pk := range v.Get("packages").Items() {
		d.purls = append(d.purls, pk.Get("id").Str())
	}
	for _, j := range v.Get("vulnerabilities").Items() {
		v3, v2 := first(j, "cvssv3", "cvssV3"), first(j, "cvssv2", "cvssV2")
		x := vuln{
			name:        j.Get("name").Str(),
			severity:    j.Get("severity").Str(),
			description: j.Get("description").Str(),
			notes:       j.Get("notes").Str(),
			score3:      v3.Get("baseScore").Str(),
			severity3:   v3.Get("baseSeverity").Str(),
			score2:      v2.Get("score").Str(),
			v3:          metrics(func(k string) string { return v3.Get(k).Str() }, ""),
			v2:          metrics(func(k string) string { return v2.Get(k).Str() }, ""),
			cwes:        j.Get("cwes").Strings(),
		}
		for _, r := range j.Get("references").Items() {
			x.refs = append(x.refs, r.Get("url").Str())
		}
		for _, s := range j.Get("vulnerableSoftware").Items() {
			x.software = append(x.software, s.Path("software", "id").Str())
		}
		d.vulns = append(d.vulns, x)
	}
	return d
}

func first(v *jsonstream.Value, keys ...string) *jsonstream.Value {
	for _, k := range keys {
		if x := v.Get(k); x != nil {
			return x
		}
	}
	return nil
}
