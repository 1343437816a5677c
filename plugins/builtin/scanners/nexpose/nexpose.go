// Package nexpose is the report parser for Rapid7 Nexpose / InsightVM XML
// exports, component id "scanner.nexpose".
//
// # Dialects
//
// The "XML Export 2.0" report format (<NexposeReport version="2.0">) and
// the 1.0 format, which has the same nodes/endpoints/tests and
// VulnerabilityDefinitions structure. Detection: the document element is
// <NexposeReport>.
//
// # Findings
//
// One finding per <test> whose status starts with "vulnerable"
// (vulnerable-exploited, vulnerable-version, vulnerable-potential), at node
// level or under an endpoint's service (node × port × test):
//
//   - RuleID the test (vulnerability) id; Title the definition's title.
//   - Severity from the definition's 1-10 severity read like a CVSS score
//     (9-10 critical, 7-8 high, 4-6 medium, 1-3 low), the number kept in
//     SeverityRaw; CVSS and CVSSVector cvssScore and cvssVector.
//   - CVEs: references with source CVE; References the URL references.
//   - Description and Solution: the definition's text, paragraphs on lines.
//   - Evidence: the test's own text (what the scanner saw).
//   - Asset: IP the node address, Hostname its first name, Port and
//     Protocol of the endpoint, Service the service name.
//   - Time: the start of the scan the test names, else vulnerable-since
//     (Nexpose writes local time without a zone; read as UTC).
//
// Definitions follow the nodes, so findings are held until they have been
// read (or the report ends) and emitted then; a report that fails before
// that point emits none.
package nexpose

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/report"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/xmlstream"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// ID is the component id.
const ID = "scanner.nexpose"

// Parser parses Nexpose XML exports. The zero value is ready to use.
type Parser struct{}

// New returns a Parser.
func New() *Parser { return &Parser{} }

// ID implements sdk.ReportParser.
func (*Parser) ID() string { return ID }

// Detect implements sdk.ReportParser.
func (*Parser) Detect(head []byte) bool {
	root, ok := xmlstream.Sniff(head)
	return ok && root.Name.Local == "NexposeReport"
}

// Parse implements sdk.ReportParser.
func (*Parser) Parse(r io.Reader, lim sdk.Limits, emit func(*sdk.Finding) error) error {
	d := xmlstream.Open("Nexpose", r, lim)
	p := &parser{
		d: d, em: report.NewEmitter("nexpose", lim, emit), lim: d.Limits(),
		scans: map[string]time.Time{}, defs: map[string]*xmlstream.Node{},
	}
	return d.Err(p.parse())
}

type parser struct {
	d     *xmlstream.Decoder
	em    *report.Emitter
	lim   sdk.Limits
	scans map[string]time.Time       // scan id → start
	defs  map[string]*xmlstream.Node // lower-case vulnerability id → definition
}

func (p *parser) parse() error {
	root, err := p.d.Root()
	if err != nil {
		return err
	}
	if root.Name.Local != "NexposeReport" {
		return fmt.Errorf("document element <%s>, want <NexposeReport>", root.Name.Local)
	}
	err = p.d.Children(func(se xml.StartElement) error {
		switch se.Name.Local {
		case "scans":
			n, err := p.d.Node(se)
			if err != nil {
				return err
			}
			for _, s := range n.All("scan") {
				p.scans[s.AttrVal("id")] = stamp(s.AttrVal("startTime"))
			}
			return nil
		case "nodes":
			return p.d.Children(func(se xml.StartElement) error {
				if se.Name.Local != "node" {
					return p.d.Skip()
				}
				return p.node(se)
			})
		case "VulnerabilityDefinitions":
			return p.d.Children(func(se xml.StartElement) error {
				n, err := p.d.Node(se)
				if err != nil {
					return err
				}
				p.defs[strings.ToLower(n.AttrVal("id"))] = n
				return nil
			})
		}
		return p.d.Skip()
	})
	if err != nil {
		return err
	}
	if err := p.d.Finish(); err != nil {
		return err
	}
	return p.em.Release(p.describe)
}

// stamp reads Nexpose's "20210228T225351463" (milliseconds, no zone).
func stamp(s string) time.Time {
	if len(s) >= 15 {
		s = s[:15]
	}
	return report.Time(s, "20060102T150405")
}

func (p *parser) node(se xml.StartElement) error {
	a := sdk.Asset{}
	report.SplitHost(xmlstream.Attr(se, "address"), &a)
	return p.d.Children(func(se xml.StartElement) error {
		switch se.Name.Local {
		case "names":
			n, err := p.d.Node(se)
			if err != nil {
				return err
			}
			if names := n.All("name"); len(names) > 0 && a.Hostname == "" {
				a.Hostname = names[0].Str("")
			}
			return nil
		case "tests":
			return p.tests(a)
		case "endpoints":
			return p.d.Children(func(se xml.StartElement) error {
				ep := a
				ep.Port = report.Port(xmlstream.Attr(se, "port"))
				ep.Protocol = strings.ToLower(xmlstream.Attr(se, "protocol"))
				return p.d.Descend(func(se xml.StartElement) (bool, error) {
					switch se.Name.Local {
					case "service":
						ep.Service = strings.ToLower(xmlstream.Attr(se, "name"))
						return false, nil
					case "tests":
						return true, p.tests(ep)
					case "fingerprints", "configuration":
						return true, p.d.Skip()
					}
					return false, nil
				})
			})
		}
		return p.d.Skip()
	})
}

// tests reads a <tests> list on asset a.
func (p *parser) tests(a sdk.Asset) error {
	return p.d.Children(func(se xml.StartElement) error {
		if se.Name.Local != "test" || !strings.HasPrefix(xmlstream.Attr(se, "status"), "vulnerable") {
			return p.d.Skip()
		}
		n, err := p.d.Node(se)
		if err != nil {
			return err
		}
		f := p.em.Next()
		f.RuleID = n.AttrVal("id")
		ev := report.NewEvidence(p.lim)
		ev.Add("status", n.AttrVal("status"), 0)
		ev.Add("key", n.AttrVal("key"), 0)
		ev.Add("", n.Flat(), 0)
		f.Evidence = ev.String()
		f.Asset = a
		f.Time = p.scans[n.AttrVal("scan-id")]
		if f.Time.IsZero() {
			f.Time = stamp(n.AttrVal("vulnerable-since"))
		}
		return p.em.Hold(f)
	})
}

// describe fills a held finding from its vulnerability definition.
func (p *parser) describe(f *sdk.Finding) {
	def := p.defs[strings.ToLower(f.RuleID)]
	f.Title = f.RuleID
	if def == nil {
		return
	}
	if t := def.AttrVal("title"); t != "" {
		f.Title = t
	}
	if sev := def.AttrVal("severity"); sev != "" {
		f.SeverityRaw = sev
		f.Severity = sdk.SeverityFromCVSS(float64(report.Int(sev)))
		if report.Int(sev) <= 0 {
			f.Severity = sdk.SeverityUnknown
		}
	}
	report.SetCVSS(f, report.Score(def.AttrVal("cvssScore")), strings.Trim(def.AttrVal("cvssVector"), "()"))
	for _, r := range def.Get("references").All("reference") {
		switch strings.ToUpper(r.AttrVal("source")) {
		case "CVE":
			f.AddCVE(r.Str(""))
		case "URL":
			f.AddReference(r.Str(""))
		}
	}
	f.Description = def.Get("description").Flat()
	f.Solution = def.Get("solution").Flat()
}
