// Package burp is the report parser for Burp Suite XML issue exports,
// component id "scanner.burp".
//
// # Dialects
//
// The "Report issues → XML" export of Burp Suite 1.x and 2.x (Professional
// and Enterprise): <issues burpVersion exportTime> holding <issue>
// elements, with request/response pairs base64-encoded or not. Detection:
// the document element is <issues> with a burpVersion attribute, or
// followed by <issue>.
//
// # Findings
//
// One finding per <issue> (issue type × URL × insertion point); Burp's
// repeated issue types on different paths stay separate findings.
//
//   - RuleID the issue type number; Title name.
//   - Severity from severity (High, Medium, Low, Information), kept in
//     SeverityRaw.
//   - CWEs: the CWE ids in vulnerabilityClassifications.
//   - Description: issueBackground and issueDetail; Solution:
//     remediationBackground and remediationDetail (HTML reduced to text).
//     References: the links of references and vulnerabilityClassifications.
//   - Evidence: location, confidence, issueDetailItems and each
//     request/response. Base64 bodies are decoded only up to the evidence
//     bound; the rest is counted in the truncation note, never decoded.
//   - Asset: URL host + path; IP the host's ip attribute; Hostname, Port
//     and Service (scheme) from the host URL.
//   - Time: the export's exportTime ("Sat Sep 13 22:39:44 CEST 2014"; zone
//     abbreviations Go cannot resolve read as UTC).
package burp

import (
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/report"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/xmlstream"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// ID is the component id.
const ID = "scanner.burp"

// Parser parses Burp XML exports. The zero value is ready to use.
type Parser struct{}

// New returns a Parser.
func New() *Parser { return &Parser{} }

// ID implements sdk.ReportParser.
func (*Parser) ID() string { return ID }

// Detect implements sdk.ReportParser.
func (*Parser) Detect(head []byte) bool {
	root, ok := xmlstream.Sniff(head)
	return ok && root.Name.Local == "issues" &&
		(xmlstream.Attr(root, "burpVersion") != "" || strings.Contains(string(head), "<issue>"))
}

// Parse implements sdk.ReportParser.
func (*Parser) Parse(r io.Reader, lim sdk.Limits, emit func(*sdk.Finding) error) error {
	d := xmlstream.Open("Burp", r, lim)
	d.Evidence("request", "response")
	return d.Err(parse(d, report.NewEmitter("burp", lim, emit)))
}

func parse(d *xmlstream.Decoder, em *report.Emitter) error {
	root, err := d.Root()
	if err != nil {
		return err
	}
	if root.Name.Local != "issues" {
		return fmt.Errorf("document element <%s>, want <issues>", root.Name.Local)
	}
	when := report.Time(xmlstream.Attr(root, "exportTime"), "Mon Jan _2 15:04:05 MST 2006")
	err = d.Children(func(se xml.StartElement) error {
		if se.Name.Local != "issue" {
			return d.Skip()
		}
		n, err := d.Node(se)
		if err != nil {
			return err
		}
		f := em.Next()
		f.RuleID = n.Str("type")
		f.Title = n.Str("name")
		report.Severity(f, n.Str("severity"))
		classes := n.Str("vulnerabilityClassifications")
		report.CVEsIn(classes, f.AddCVE)
		for _, m := range cweRe.FindAllString(classes, -1) {
			f.AddCWE(report.CWE(m))
		}
		f.Description = report.Join(report.PlainText(n.Str("issueBackground")), report.PlainText(n.Str("issueDetail")))
		f.Solution = report.Join(report.PlainText(n.Str("remediationBackground")), report.PlainText(n.Str("remediationDetail")))
		for _, l := range report.Links(n.Str("references")) {
			f.AddReference(l)
		}
		for _, l := range report.Links(classes) {
			f.AddReference(l)
		}
		f.Evidence = evidence(n, d.Limits())
		host := n.Get("host")
		f.Asset.URL = strings.TrimRight(host.Str(""), "/") + n.Str("path")
		report.FromURL(host.Str(""), &f.Asset)
		if ip := host.AttrVal("ip"); report.IsIP(ip) {
			f.Asset.IP = ip
		}
		f.Time = when
		return em.Emit(f)
	})
	if err != nil {
		return err
	}
	return d.Finish()
}

var cweRe = regexp.MustCompile(`CWE-\d+`)

func evidence(n *xmlstream.Node, lim sdk.Limits) string {
	ev := report.NewEvidence(lim)
	ev.Add("location", n.Str("location"), 0)
	ev.Add("confidence", n.Str("confidence"), 0)
	for _, it := range n.Get("issueDetailItems").All("issueDetailItem") {
		ev.Add("detail", report.PlainText(it.Str("")), 0)
	}
	for _, rr := range n.All("requestresponse") {
		for _, part := range []string{"request", "response"} {
			el := rr.Get(part)
			if el == nil {
				continue
			}
			text, cut := el.Text, el.Cut
			if el.AttrVal("base64") == "true" {
				dec, left, err := report.Base64(text, report.EvidenceLimit(lim))
				if err != nil {
					dec, left = "[base64 that does not decode]", 0
				}
				text, cut = dec, left+el.Cut*3/4
			}
			ev.Add(part, text, cut)
		}
	}
	return ev.String()
}
