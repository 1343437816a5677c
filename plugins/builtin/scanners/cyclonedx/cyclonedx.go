// Package cyclonedx is the report parser for CycloneDX BOMs that carry
// vulnerabilities (SBOM/VEX output of Grype, Trivy, Snyk, Dependency-Track,
// …), component id "scanner.cyclonedx".
//
// # Dialects
//
//   - JSON, specVersion 1.4 to 1.6: top-level "vulnerabilities" whose
//     "affects" refer to components by bom-ref;
//   - XML 1.4 to 1.6 (namespace http://cyclonedx.org/schema/bom/1.x): the
//     same model as <vulnerabilities>/<vulnerability>;
//   - XML 1.2/1.3 with the vulnerability extension (namespace
//     http://cyclonedx.org/schema/ext/vulnerability/1.0): <v:vulnerabilities>
//     inside a <component>, each <v:vulnerability ref="…"> about it.
//
// A BOM without vulnerabilities is valid and has no findings. Detection:
// JSON with "bomFormat": "CycloneDX", or an XML <bom> in a cyclonedx.org
// namespace.
//
// # Findings
//
// One finding per vulnerability × affected component (each "affects" ref);
// a vulnerability that names no component is one finding without a
// package. VEX analysis (state "not_affected", …) is reported in the
// evidence, not used to drop findings: the importer decides.
//
//   - RuleID the vulnerability id; Title "ID in NAME@VERSION" (the id alone
//     without a component).
//   - Severity: the first rating's severity word ("critical", …, kept in
//     SeverityRaw), else from the CVSS score.
//   - CVSS and CVSSVector: the rating with the newest CVSS method (v4, v3.1,
//     v3, v2, then others).
//   - CVEs: the id when it is a CVE, and CVE ids among references[].id.
//     CWEs: cwes.
//   - Description: description and detail. Solution: recommendation
//     (recommendations in the extension). References: the source URL,
//     advisories and reference source URLs.
//   - Evidence: the source name, VEX analysis and the affected versions.
//   - Asset: the affected component resolved by bom-ref through metadata
//     and components, nested ones included: Package "group/name" (or name),
//     PackageVersion version; a ref that resolves to nothing is read as a
//     package URL when it is one. Target: the BOM's metadata component
//     (what the BOM describes).
//   - Time: metadata timestamp.
//
// Components must come before vulnerabilities, as the CycloneDX
// serialisers write them, to be resolved by bom-ref; refs that are package
// URLs resolve without them.
package cyclonedx

import (
	"encoding/json"
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
const ID = "scanner.cyclonedx"

// Parser parses CycloneDX JSON and XML BOMs. The zero value is ready to use.
type Parser struct{}

// New returns a Parser.
func New() *Parser { return &Parser{} }

// ID implements sdk.ReportParser.
func (*Parser) ID() string { return ID }

// Detect implements sdk.ReportParser.
func (*Parser) Detect(head []byte) bool {
	if root, ok := xmlstream.Sniff(head); ok {
		return root.Name.Local == "bom" && strings.Contains(root.Name.Space, "cyclonedx.org")
	}
	h, ok := jsonstream.Sniff(head)
	return ok && !h.Array && (strings.EqualFold(h.Strings["bomFormat"], "CycloneDX") ||
		strings.Contains(h.Strings["$schema"], "cyclonedx.org"))
}

// Parse implements sdk.ReportParser. The first byte that is not blank
// chooses between the XML and the JSON encoding.
func (*Parser) Parse(r io.Reader, lim sdk.Limits, emit func(*sdk.Finding) error) error {
	br, isXML := report.IsXML(r)
	p := &parser{em: report.NewEmitter("cyclonedx", lim, emit), comps: map[string]component{}}
	if isXML {
		d := xmlstream.Open("CycloneDX", br, lim)
		p.lim = d.Limits()
		return d.Err(p.parseXML(d))
	}
	d := jsonstream.Open("CycloneDX", br, lim)
	p.lim = d.Limits()
	return d.Err(p.parseJSON(d))
}

type component struct {
	name, version string
}

type parser struct {
	em     *report.Emitter
	lim    sdk.Limits
	comps  map[string]component
	target string
	time   time.Time
}

// vuln is one vulnerability in the encoding-neutral form both decoders fill.
type vuln struct {
	id, source, sourceURL       string
	description, detail, advice string
	refs, urls, cwes            []string
	ratings                     []rating
	analysis                    []string
	affects                     []affect
}

type rating struct {
	score                    float64
	raw, severity, method, v string
}

type affect struct {
	ref      string
	versions []string
}

func (p *parser) addComponent(ref, group, name, version string) component {
	c := component{name: name, version: version}
	if group != "" {
		c.name = group + "/" + name
	}
	if ref != "" {
		p.comps[ref] = c
	}
	return c
}

// resolve finds the component a ref names, reading a package URL when the
// BOM does not list it.
func (p *parser) resolve(ref string) (component, bool) {
	if c, ok := p.comps[ref]; ok {
		return c, true
	}
	name, version, ok := report.PURL(ref)
	return component{name: name, version: version}, ok
}

var methodRank = map[string]int{"cvssv4": 5, "cvssv31": 4, "cvssv3": 3, "cvssv2": 2}

func (p *parser) emit(v *vuln) error {
	affects := v.affects
	if len(affects) == 0 {
		affects = []affect{{}}
	}
	for _, a := range affects {
		f := p.em.Next()
		f.RuleID = v.id
		f.Title = v.id
		if a.ref != "" {
			if c, ok := p.resolve(a.ref); ok {
				f.Asset.Package, f.Asset.PackageVersion = c.name, c.version
				f.Title += " in " + c.name
				if c.version != "" {
					f.Title += "@" + c.version
				}
			}
		}
		best := -1
		for _, r := range v.ratings {
			if f.SeverityRaw == "" && sdk.ParseSeverity(r.severity) != sdk.SeverityUnknown {
				report.Severity(f, r.severity)
			}
			if rank := methodRank[strings.ToLower(r.method)]; r.score > 0 && rank > best {
				best = rank
				f.CVSS, f.CVSSVector = r.score, r.v
			}
		}
		if f.SeverityRaw == "" && f.CVSS > 0 {
			f.Severity = sdk.SeverityFromCVSS(f.CVSS)
			for _, r := range v.ratings {
				if r.score == f.CVSS {
					f.SeverityRaw = r.raw
					break
				}
			}
		}
		f.AddCVE(v.id)
		for _, r := range v.refs {
			f.AddCVE(r)
		}
		for _, c := range v.cwes {
			f.AddCWE(report.CWE(c))
		}
		f.Description = report.Join(v.description, v.detail)
		f.Solution = v.advice
		f.AddReference(v.sourceURL)
		for _, u := range v.urls {
			f.AddReference(u)
		}
		ev := report.NewEvidence(p.lim)
		ev.Add("source", v.source, 0)
		for _, s := range v.analysis {
			ev.Add("", s, 0)
		}
		ev.Add("affected versions", strings.Join(a.versions, ", "), 0)
		if f.Asset.Package == "" && a.ref != "" {
			ev.Add("ref", a.ref, 0)
		}
		f.Evidence = ev.String()
		f.Asset.Target = p.target
		f.Time = p.time
		if err := p.em.Emit(f); err != nil {
			return err
		}
	}
	return nil
}

// parseJSON reads the JSON encoding.
func (p *parser) parseJSON(d *jsonstream.Decoder) error {
	first, err := d.Start()
	if err != nil {
		return err
	}
	if first != json.Delim('{') {
		return fmt.Errorf("CycloneDX JSON object expected")
	}
	err = d.Object(func(key string) error {
		switch key {
		case "metadata":
			m, err := d.Value()
			if err != nil {
				return err
			}
			p.time = report.Time(m.Get("timestamp").Str(), time.RFC3339Nano)
			if c := m.Get("component"); c != nil {
				top := p.jsonComponent(c)
				p.target = strings.TrimSuffix(top.name+"@"+top.version, "@")
			}
			return nil
		case "components":
			return d.Array(func() error {
				c, err := d.Value()
				if err != nil {
					return err
				}
				p.jsonComponent(c)
				return nil
			})
		case "vulnerabilities":
			return d.Array(func() error {
				v, err := d.Value()
				if err != nil {
					return err
				}
				if v.Kind != jsonstream.Object {
					return fmt.Errorf("vulnerability object expected")
				}
				return p.emit(jsonVuln(v))
			})
		}
		return d.Skip()
	})
	if err != nil {
		return err
	}
	return d.Finish()
}

// jsonComponent registers c and the components nested in it.
func (p *parser) jsonComponent(c *jsonstream.Value) component {
	comp := p.addComponent(c.Get("bom-ref").Str(), c.Get("group").Str(), c.Get("name").Str(), c.Get("version").Str())
	for _, k := range c.Get("components").Items() {
		p.jsonComponent(k)
	}
	return comp
}

func jsonVuln(v *jsonstream.Value) *vuln {
	out := &vuln{
		id:          v.Get("id").Str(),
		source:      v.Path("source", "name").Str(),
		sourceURL:   v.Path("source", "url").Str(),
		description: v.Get("description").Str(),
		detail:      v.Get("detail").Str(),
		advice:      v.Get("recommendation").Str(),
		cwes:        v.Get("cwes").Strings(),
	}
	for _, r := range v.Get("references").Items() {
		out.refs = append(out.refs, r.Get("id").Str())
		out.urls = append(out.urls, r.Path("source", "url").Str())
	}
	for _, a := range v.Get("advisories").Items() {
		out.urls = append(out.urls, a.Get("url").Str())
	}
	for _, r := range v.Get("ratings").Items() {
		raw := r.Get("score").Str()
		out.ratings = append(out.ratings, rating{
			score: report.Score(raw), raw: raw,
			severity: r.Get("severity").Str(), method: r.Get("method").Str(), v: r.Get("vector").Str(),
		})
	}
	an := v.Get("analysis")
	out.analysis = analysis(an.Get("state").Str(), an.Get("justification").Str(),
		strings.Join(an.Get("response").Strings(), ", "), an.Get("detail").Str())
	for _, a := range v.Get("affects").Items() {
		af := affect{ref: a.Get("ref").Str()}
		for _, ver := range a.Get("versions").Items() {
			af.versions = append(af.versions, versionText(ver.Get("version").Str(), ver.Get("range").Str(), ver.Get("status").Str()))
		}
		out.affects = append(out.affects, af)
	}
	return out
}

func analysis(state, justification, response, detail string) []string {
	if state == "" && justification == "" && detail == "" {
		return nil
	}
	var out []string
	for _, kv := range [][2]string{{"analysis state", state}, {"justification", justification}, {"response", response}, {"analysis detail", detail}} {
		if kv[1] != "" {
			out = append(out, kv[0]+": "+kv[1])
		}
	}
	return out
}

func versionText(version, rng, status string) string {
	s := version
	if s == "" {
		s = rng
	}
	if status != "" {
		s += " (" + status + ")"
	}
	return s
}

// parseXML reads the XML encodings.
func (p *parser) parseXML(d *xmlstream.Decoder) error {
	root, err := d.Root()
	if err != nil {
		return err
	}
	if root.Name.Local != "bom" {
		return fmt.Errorf("document element <%s>, want <bom>", root.Name.Local)
	}
	err = d.Children(func(se xml.StartElement) error {
		switch se.Name.Local {
		case "metadata":
			m, err := d.Node(se)
			if err != nil {
				return err
			}
			p.time = report.Time(m.Str("timestamp"), time.RFC3339Nano)
			if c := m.Get("component"); c != nil {
				top, err := p.xmlComponent(c)
				if err != nil {
					return err
				}
				p.target = strings.TrimSuffix(top.name+"@"+top.version, "@")
			}
			return nil
		case "components":
			return d.Children(func(se xml.StartElement) error {
				c, err := d.Node(se)
				if err != nil {
					return err
				}
				_, err = p.xmlComponent(c)
				return err
			})
		case "vulnerabilities":
			return d.Children(func(se xml.StartElement) error {
				v, err := d.Node(se)
				if err != nil {
					return err
				}
				return p.emit(xmlVuln(v, ""))
			})
		}
		return d.Skip()
	})
	if err != nil {
		return err
	}
	return d.Finish()
}

// xmlComponent registers c and its nested components, and emits the
// vulnerabilities of the 1.2/1.3 extension found inside them.
func (p *parser) xmlComponent(c *xmlstream.Node) (component, error) {
	ref := c.AttrVal("bom-ref")
	if ref == "" {
		ref = c.Str("purl")
	}
	comp := p.addComponent(ref, c.Str("group"), c.Str("name"), c.Str("version"))
	for _, k := range c.Get("components").All("component") {
		if _, err := p.xmlComponent(k); err != nil {
			return comp, err
		}
	}
	for _, v := range c.Get("vulnerabilities").All("vulnerability") {
		if err := p.emit(xmlVuln(v, ref)); err != nil {
			return comp, err
		}
	}
	return comp, nil
}

func xmlVuln(n *xmlstream.Node, ref string) *vuln {
	v := &vuln{
		id:          n.Str("id"),
		source:      n.Str("source/name"),
		sourceURL:   n.Str("source/url"),
		description: n.Str("description"),
		detail:      n.Str("detail"),
		advice:      n.Str("recommendation"),
	}
	if v.source == "" {
		v.source = n.Get("source").AttrVal("name")
	}
	if v.advice == "" {
		var recs []string
		for _, r := range n.Get("recommendations").All("recommendation") {
			recs = append(recs, r.Str(""))
		}
		v.advice = report.Join(recs...)
	}
	for _, c := range n.Get("cwes").All("cwe") {
		v.cwes = append(v.cwes, c.Str(""))
	}
	for _, r := range n.Get("references").All("reference") {
		v.refs = append(v.refs, r.Str("id"))
		v.urls = append(v.urls, r.Str("source/url"))
	}
	for _, a := range n.Get("advisories").All("advisory") {
		u := a.Str("url")
		if u == "" {
			u = a.Str("")
		}
		v.urls = append(v.urls, u)
	}
	for _, r := range n.Get("ratings").All("rating") {
		raw := r.Str("score")
		if raw == "" {
			raw = r.Str("score/base") // the 1.0 extension nests the score
		}
		v.ratings = append(v.ratings, rating{
			score: report.Score(raw), raw: raw,
			severity: r.Str("severity"), method: r.Str("method"), v: r.Str("vector"),
		})
	}
	an := n.Get("analysis")
	var responses []string
	for _, r := range an.Get("responses").All("response") {
		responses = append(responses, r.Str(""))
	}
	v.analysis = analysis(an.Str("state"), an.Str("justification"), strings.Join(responses, ", "), an.Str("detail"))
	for _, t := range n.Get("affects").All("target") {
		af := affect{ref: t.Str("ref")}
		for _, ver := range t.Get("versions").All("version") {
			af.versions = append(af.versions, versionText(ver.Str("version"), ver.Str("range"), ver.Str("status")))
		}
		v.affects = append(v.affects, af)
	}
	if len(v.affects) == 0 {
		if r := n.AttrVal("ref"); r != "" {
			ref = r
		}
		if ref != "" {
			v.affects = []affect{{ref: ref}}
		}
	}
	return v
}
