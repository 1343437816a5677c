// Package qualys is the report parser for Qualys XML reports, component id
// "scanner.qualys".
//
// # Dialects
//
//   - SCAN: the infrastructure scan report (web GUI or API "scan" export):
//     <SCAN value="scan/…"> with <IP value name> elements holding
//     <VULNS>/<PRACTICES> categories (<CAT port protocol>) of <VULN> and
//     <PRACTICE> entries;
//   - WAS_SCAN_REPORT: Qualys WAS: <VULNERABILITY_LIST> and
//     <SENSITIVE_CONTENT_LIST> entries whose QID is described in the
//     <GLOSSARY> at the end;
//   - ASSET_DATA_REPORT: the VM host-based report: <HOST> entries with
//     <VULN_INFO_LIST>, described by the <GLOSSARY>'s <VULN_DETAILS>;
//   - HOST_LIST_VM_DETECTION_OUTPUT: the host list detection API output
//     (<HOST>/<DETECTION_LIST>/<DETECTION>), which carries no titles.
//
// Detection: the document element is one of these; <SCAN> also needs a
// "scan/…" value or a qualys mention in the head.
//
// # Findings
//
// One finding per vulnerability or practice (potential vulnerability)
// entry, per host and port, or per URL for WAS. "Information gathered"
// entries (<INFOS>, INFORMATION_GATHERED_LIST, TYPE Ig or Info) are scanner
// observations, not findings; detections with status Fixed are not
// findings either.
//
//   - RuleID the QID; Title the Qualys title ("QID n" for detection
//     output).
//   - Severity from Qualys's 1-5 level (1 info, 2 low, 3 medium, 4 high,
//     5 critical), the level kept in SeverityRaw.
//   - CVSS: the CVSS v3 base score when given, else the v2 base score.
//   - CVEs: CVE_ID_LIST and the cveid attribute; CWEs (WAS) from CWE.
//   - Description: diagnosis/threat/description and consequence/impact;
//     Solution; References: the CVE, vendor and Bugtraq URLs and the links
//     in the text, which is reduced from HTML.
//   - Evidence: RESULT (SCAN, asset data, detections); for WAS the
//     parameter, payloads, request and response, the base64 response body
//     decoded only up to the evidence bound.
//   - Asset: IP and Hostname (the IP's name, DNS), Port and Protocol of the
//     category or entry; WAS: URL and the host, port and scheme in it.
//   - Time: the header DATE (SCAN), the detection date (WAS), LAST_FOUND
//     (asset data and detections).
//
// WAS and asset data reports describe their QIDs after the results, so
// their findings are held until the glossary has been read (or the report
// ends) and emitted then; a report that fails before that point emits none.
package qualys

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
const ID = "scanner.qualys"

// Parser parses Qualys XML reports. The zero value is ready to use.
type Parser struct{}

// New returns a Parser.
func New() *Parser { return &Parser{} }

// ID implements sdk.ReportParser.
func (*Parser) ID() string { return ID }

// Detect implements sdk.ReportParser.
func (*Parser) Detect(head []byte) bool {
	root, ok := xmlstream.Sniff(head)
	if !ok {
		return false
	}
	switch root.Name.Local {
	case "WAS_SCAN_REPORT", "ASSET_DATA_REPORT", "HOST_LIST_VM_DETECTION_OUTPUT":
		return true
	case "SCAN":
		return strings.HasPrefix(xmlstream.Attr(root, "value"), "scan/") ||
			strings.Contains(strings.ToLower(string(head)), "qualys")
	}
	return false
}

// Parse implements sdk.ReportParser.
func (*Parser) Parse(r io.Reader, lim sdk.Limits, emit func(*sdk.Finding) error) error {
	d := xmlstream.Open("Qualys", r, lim)
	d.Evidence("RESULT", "RESULTS", "CONTENTS", "DATA")
	p := &parser{d: d, em: report.NewEmitter("qualys", lim, emit), lim: d.Limits(), glossary: map[string]*xmlstream.Node{}}
	return d.Err(p.parse())
}

type parser struct {
	d        *xmlstream.Decoder
	em       *report.Emitter
	lim      sdk.Limits
	glossary map[string]*xmlstream.Node // QID → description, once read
	read     bool                       // the glossary has been read
	time     time.Time
}

var timeLayouts = []string{
	"2006-01-02T15:04:05Z07:00",
	"02 Jan 2006 03:04PM GMT-0700", // WAS: "12 Mar 2020 04:42PM GMT-0400"
	"2006-01-02 15:04:05",
}

func (p *parser) parse() error {
	root, err := p.d.Root()
	if err != nil {
		return err
	}
	switch root.Name.Local {
	case "SCAN":
		err = p.scan()
	case "WAS_SCAN_REPORT":
		err = p.was()
	case "ASSET_DATA_REPORT":
		err = p.assetData()
	case "HOST_LIST_VM_DETECTION_OUTPUT":
		err = p.detections()
	default:
		return fmt.Errorf("document element <%s> is not a Qualys report", root.Name.Local)
	}
	if err != nil {
		return err
	}
	if err := p.d.Finish(); err != nil {
		return err
	}
	return p.em.Release(p.describe)
}

// level maps Qualys's 1-5 severity levels.
func level(f *sdk.Finding, s string) {
	f.SeverityRaw = s
	switch s {
	case "1":
		f.Severity = sdk.SeverityInfo
	case "2":
		f.Severity = sdk.SeverityLow
	case "3":
		f.Severity = sdk.SeverityMedium
	case "4":
		f.Severity = sdk.SeverityHigh
	case "5":
		f.Severity = sdk.SeverityCritical
	default:
		f.Severity = sdk.SeverityUnknown
	}
}

// refs adds the CVEs and reference URLs of a vulnerability description.
func refs(f *sdk.Finding, n *xmlstream.Node) {
	for _, c := range n.Get("CVE_ID_LIST").All("CVE_ID") {
		f.AddCVE(c.Str("ID"))
		f.AddReference(c.Str("URL"))
	}
	for _, l := range []string{"VENDOR_REFERENCE_LIST/VENDOR_REFERENCE", "BUGTRAQ_ID_LIST/BUGTRAQ_ID"} {
		list, item, _ := strings.Cut(l, "/")
		for _, r := range n.Get(list).All(item) {
			f.AddReference(r.Str("URL"))
		}
	}
}

// scan reads an infrastructure SCAN report.
func (p *parser) scan() error {
	var ip, name, port, proto string
	return p.d.Descend(func(se xml.StartElement) (bool, error) {
		switch se.Name.Local {
		case "HEADER":
			h, err := p.d.Node(se)
			if err != nil {
				return true, err
			}
			for _, k := range h.All("KEY") {
				if k.AttrVal("value") == "DATE" {
					p.time = report.Time(k.Str(""), timeLayouts...)
				}
			}
			return true, nil
		case "IP":
			ip, name = xmlstream.Attr(se, "value"), xmlstream.Attr(se, "name")
			if name == "No registered hostname" {
				name = ""
			}
			return false, nil
		case "CAT":
			port, proto = xmlstream.Attr(se, "port"), xmlstream.Attr(se, "protocol")
			return false, nil
		case "INFOS", "SERVICES":
			return true, p.d.Skip()
		case "VULN", "PRACTICE":
			n, err := p.d.Node(se)
			if err != nil {
				return true, err
			}
			f := p.em.Next()
			f.RuleID = n.AttrVal("number")
			f.Title = n.Str("TITLE")
			level(f, n.AttrVal("severity"))
			report.SetCVSS(f, report.Score(n.Str("CVSS3_BASE")), "")
			report.SetCVSS(f, report.Score(n.Str("CVSS_BASE")), "")
			for _, id := range report.Words(n.AttrVal("cveid")) {
				f.AddCVE(id)
			}
			refs(f, n)
			f.Description = report.Join(report.PlainText(n.Str("DIAGNOSIS")), report.PlainText(n.Str("CONSEQUENCE")))
			f.Solution = report.PlainText(n.Str("SOLUTION"))
			for _, k := range []string{"DIAGNOSIS", "CONSEQUENCE", "SOLUTION"} {
				for _, l := range report.Links(n.Str(k)) {
					f.AddReference(l)
				}
			}
			if res := n.Get("RESULT"); res != nil {
				ev := report.NewEvidence(p.lim)
				ev.Add("", res.Text, res.Cut)
				f.Evidence = ev.String()
			}
			f.Asset.IP = ip
			report.SplitHost(name, &f.Asset)
			f.Asset.Port = report.Port(port)
			f.Asset.Protocol = strings.ToLower(proto)
			f.Time = p.time
			return true, p.em.Emit(f)
		}
		return false, nil
	})
}

// was reads a WAS_SCAN_REPORT.
func (p *parser) was() error {
	return p.d.Descend(func(se xml.StartElement) (bool, error) {
		switch se.Name.Local {
		case "HEADER", "FILTERS", "TARGET", "SUMMARY", "APPENDIX", "INFORMATION_GATHERED_LIST":
			return true, p.d.Skip()
		case "VULNERABILITY_LIST", "SENSITIVE_CONTENT_LIST":
			return true, p.d.Children(func(se xml.StartElement) error {
				n, err := p.d.Node(se)
				if err != nil {
					return err
				}
				return p.wasFinding(n)
			})
		case "QID_LIST":
			return true, p.readGlossary("QID")
		}
		return false, nil
	})
}

func (p *parser) wasFinding(n *xmlstream.Node) error {
	f := p.em.Next()
	f.RuleID = n.Str("QID")
	f.Asset.URL = n.Str("URL")
	report.FromURL(f.Asset.URL, &f.Asset)
	for _, k := range []string{"DETECTION_DATE", "LAST_TIME_DETECTED", "FIRST_TIME_DETECTED"} {
		if f.Time.IsZero() {
			f.Time = report.Time(n.Str(k), timeLayouts...)
		}
	}
	ev := report.NewEvidence(p.lim)
	ev.Add("param", n.Str("PARAM"), 0)
	for _, pl := range n.Get("PAYLOADS").All("PAYLOAD") {
		ev.Add("payload", pl.Str("PAYLOAD"), 0)
		req := pl.Get("REQUEST")
		ev.Add("request", strings.TrimSpace(req.Str("METHOD")+" "+req.Str("URL")), 0)
		if c := pl.Get("RESPONSE").Get("CONTENTS"); c != nil {
			text, cut := p.decode(c)
			ev.Add("response", text, cut)
		}
	}
	if d := n.Get("DATA"); d != nil {
		text, cut := p.decode(d)
		ev.Add("", text, cut)
	}
	f.Evidence = ev.String()
	return p.hold(f)
}

// decode returns an element's text, base64-decoded when it says it is.
func (p *parser) decode(n *xmlstream.Node) (string, int) {
	if n.AttrVal("base64") != "true" {
		return n.Text, n.Cut
	}
	text, left, err := report.Base64(n.Text, report.EvidenceLimit(p.lim))
	if err != nil {
		return "[base64 that does not decode]", len(n.Text)
	}
	return text, left + n.Cut*3/4
}

// hold emits f at once when the glossary has been read, else keeps it.
func (p *parser) hold(f *sdk.Finding) error {
	if p.read {
		p.describe(f)
		return p.em.Emit(f)
	}
	return p.em.Hold(f)
}

// readGlossary reads the QID descriptions of the list just opened.
func (p *parser) readGlossary(item string) error {
	err := p.d.Children(func(se xml.StartElement) error {
		if se.Name.Local != item {
			return p.d.Skip()
		}
		n, err := p.d.Node(se)
		if err != nil {
			return err
		}
		p.glossary[n.Str("QID")] = n
		return nil
	})
	p.read = true
	if err != nil {
		return err
	}
	return p.em.Release(p.describe)
}

// describe fills a finding from the glossary entry of its QID.
func (p *parser) describe(f *sdk.Finding) {
	g := p.glossary[f.RuleID]
	if g == nil {
		if f.Title == "" {
			f.Title = "QID " + f.RuleID
		}
		return
	}
	f.Title = g.Str("TITLE")
	level(f, g.Str("SEVERITY"))
	report.SetCVSS(f, report.Score(g.Str("CVSS_V3/BASE")), g.Str("CVSS_V3/ATTACK_VECTOR"))
	report.SetCVSS(f, report.Score(g.Str("CVSS3_SCORE/CVSS3_BASE")), "")
	report.SetCVSS(f, report.Score(g.Str("CVSS_BASE")), "")
	report.SetCVSS(f, report.Score(g.Str("CVSS_SCORE/CVSS_BASE")), "")
	if f.CVSSVector != "" && !strings.Contains(f.CVSSVector, "/") {
		f.CVSSVector = "" // ATTACK_VECTOR is a word, not a vector
	}
	for _, c := range report.Words(g.Str("CWE")) {
		f.AddCWE(report.CWE(c))
	}
	refs(f, g)
	f.Description = report.Join(report.PlainText(g.Str("DESCRIPTION")), report.PlainText(g.Str("THREAT")), report.PlainText(g.Str("IMPACT")))
	f.Solution = report.PlainText(g.Str("SOLUTION"))
	for _, k := range []string{"DESCRIPTION", "THREAT", "IMPACT", "SOLUTION"} {
		for _, l := range report.Links(g.Str(k)) {
			f.AddReference(l)
		}
	}
}

// assetData reads an ASSET_DATA_REPORT.
func (p *parser) assetData() error {
	return p.d.Descend(func(se xml.StartElement) (bool, error) {
		switch se.Name.Local {
		case "HEADER", "RISK_SCORE_PER_HOST", "APPENDICES":
			return true, p.d.Skip()
		case "HOST":
			return true, p.host("VULN_INFO_LIST", p.vulnInfo)
		case "VULN_DETAILS_LIST":
			return true, p.readGlossary("VULN_DETAILS")
		}
		return false, nil
	})
}

// detections reads HOST_LIST_VM_DETECTION_OUTPUT.
func (p *parser) detections() error {
	p.read = true // no glossary: emit as read
	return p.d.Descend(func(se xml.StartElement) (bool, error) {
		if se.Name.Local == "HOST" {
			return true, p.host("DETECTION_LIST", p.detection)
		}
		return false, nil
	})
}

// host reads one <HOST>: its address fields, then each entry of list.
func (p *parser) host(list string, entry func(*xmlstream.Node, sdk.Asset) error) error {
	var a sdk.Asset
	return p.d.Children(func(se xml.StartElement) error {
		switch se.Name.Local {
		case list:
			return p.d.Children(func(se xml.StartElement) error {
				n, err := p.d.Node(se)
				if err != nil {
					return err
				}
				return entry(n, a)
			})
		case "IP", "DNS", "NETBIOS", "FQDN", "DNS_DATA":
			n, err := p.d.Node(se)
			if err != nil {
				return err
			}
			switch se.Name.Local {
			case "IP":
				a.IP = n.Str("")
			case "DNS_DATA":
				report.SplitHost(n.Str("HOSTNAME"), &a)
				report.SplitHost(n.Str("FQDN"), &a)
			default:
				report.SplitHost(n.Str(""), &a)
			}
			return nil
		}
		return p.d.Skip()
	})
}

func (p *parser) vulnInfo(n *xmlstream.Node, a sdk.Asset) error {
	if t := n.Str("TYPE"); strings.EqualFold(t, "Ig") || strings.EqualFold(n.Str("VULN_STATUS"), "Fixed") {
		return nil
	}
	f := p.em.Next()
	f.RuleID = n.Str("QID")
	p.entry(f, n, a, n.Get("RESULT"), "LAST_FOUND")
	return p.hold(f)
}

func (p *parser) detection(n *xmlstream.Node, a sdk.Asset) error {
	if strings.EqualFold(n.Str("TYPE"), "Info") || strings.EqualFold(n.Str("STATUS"), "Fixed") {
		return nil
	}
	f := p.em.Next()
	f.RuleID = n.Str("QID")
	level(f, n.Str("SEVERITY"))
	p.entry(f, n, a, n.Get("RESULTS"), "LAST_FOUND_DATETIME")
	return p.hold(f)
}

// entry fills what host-based entries share.
func (p *parser) entry(f *sdk.Finding, n *xmlstream.Node, a sdk.Asset, result *xmlstream.Node, timeKey string) {
	if result != nil {
		ev := report.NewEvidence(p.lim)
		ev.Add("", result.Text, result.Cut)
		f.Evidence = ev.String()
	}
	f.Asset = a
	f.Asset.Port = report.Port(n.Str("PORT"))
	f.Asset.Protocol = strings.ToLower(n.Str("PROTOCOL"))
	f.Time = report.Time(n.Str(timeKey), timeLayouts...)
}
