// Package openvas is the report parser for OpenVAS / Greenbone (GVM) XML
// reports, component id "scanner.openvas".
//
// # Dialects
//
// The XML report format of OpenVAS 8/9 (OMP) and GVM 10 to 22 (GMP): a
// <report> document element (the export, often holding an inner <report>),
// or a <get_reports_response> as the API returns it. Detection: the document
// element is <get_reports_response>, or <report> carrying the export's
// format_id/content_type attributes or followed by GVM's <omp>/<gmp>,
// <results> or <nvt> elements.
//
// # Findings
//
// One finding per <result> that has an <nvt> (host × NVT × port), log-level
// results included. Results whose threat is "False Positive" (an override)
// are not findings.
//
//   - RuleID the NVT OID; Title the result's <name> (else the NVT's).
//   - Severity from <threat> (High, Medium, Low, Log = info), kept in
//     SeverityRaw; without a threat, from the numeric <severity>.
//   - CVSS: <severity> (else the NVT's cvss_base); CVSSVector from
//     <severities>/<severity>/<value>, else the cvss_base_vector tag.
//   - CVEs: <refs>/<ref type="cve">, or the comma list in <nvt>/<cve> of
//     OMP reports; CWEs: <ref type="cwe">.
//   - Description: the summary, insight, impact and affected tags.
//     Solution: <nvt>/<solution>, else the solution tag. References:
//     <ref type="url"> and the URL: entries of OMP's <xref>.
//     Evidence: the result's <description> (what this host returned), cut to
//     the evidence bound.
//   - Asset: IP the <host> text, Hostname its <hostname>; Port and
//     Protocol from <port> ("443/tcp"; "general/tcp" gives no port), and
//     Service from OMP's "ftp (21/tcp)" form.
//   - Time: the result's creation_time.
package openvas

import (
	"encoding/xml"
	"io"
	"strings"

	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/report"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/xmlstream"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// ID is the component id.
const ID = "scanner.openvas"

// Parser parses OpenVAS/GVM XML reports. The zero value is ready to use.
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
	case "get_reports_response":
		return true
	case "report":
		if xmlstream.Attr(root, "format_id") != "" || xmlstream.Attr(root, "content_type") != "" {
			return true
		}
		s := string(head)
		return strings.Contains(s, "<gmp>") || strings.Contains(s, "<omp>") ||
			strings.Contains(s, "<results") || strings.Contains(s, "<nvt ")
	}
	return false
}

// Parse implements sdk.ReportParser.
func (*Parser) Parse(r io.Reader, lim sdk.Limits, emit func(*sdk.Finding) error) error {
	d := xmlstream.Open("OpenVAS", r, lim)
	d.Evidence("description")
	return d.Err(parse(d, report.NewEmitter("openvas", lim, emit)))
}

var timeLayouts = []string{"2006-01-02T15:04:05.999999999Z07:00", "Mon Jan _2 15:04:05 2006"}

func parse(d *xmlstream.Decoder, em *report.Emitter) error {
	if _, err := d.Root(); err != nil {
		return err
	}
	err := d.Descend(func(se xml.StartElement) (bool, error) {
		switch se.Name.Local {
		case "result":
			n, err := d.Node(se)
			if err != nil {
				return true, err
			}
			return true, emitResult(n, d.Limits(), em)
		case "host", "task", "ports", "report_format", "filters", "preferences", "errors":
			// Report-level details; results never sit inside them.
			return true, d.Skip()
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	return d.Finish()
}

func emitResult(n *xmlstream.Node, lim sdk.Limits, em *report.Emitter) error {
	nvt := n.Get("nvt")
	if nvt == nil || strings.EqualFold(n.Str("threat"), "False Positive") {
		return nil
	}
	tags := parseTags(nvt.Str("tags"))
	f := em.Next()
	f.RuleID = nvt.AttrVal("oid")
	f.Title = n.Str("name")
	if f.Title == "" {
		f.Title = nvt.Str("name")
	}
	score := report.Score(n.Str("severity"))
	if score == 0 {
		score = report.Score(nvt.Str("cvss_base"))
	}
	if threat := n.Str("threat"); threat != "" {
		report.Severity(f, threat)
	} else if s := n.Str("severity"); s != "" {
		f.SeverityRaw = s
		f.Severity = sdk.SeverityFromCVSS(score)
	}
	vector := tags["cvss_base_vector"]
	for _, sv := range nvt.Get("severities").All("severity") {
		if v := sv.Str("value"); v != "" {
			vector = v
			break
		}
	}
	report.SetCVSS(f, score, vector)
	for _, ref := range nvt.Get("refs").All("ref") {
		id := ref.AttrVal("id")
		switch strings.ToLower(ref.AttrVal("type")) {
		case "cve":
			f.AddCVE(id)
		case "cwe":
			f.AddCWE(report.CWE(id))
		case "url":
			f.AddReference(id)
		}
	}
	for _, id := range report.Words(nvt.Str("cve")) {
		f.AddCVE(id)
	}
	for _, x := range strings.Split(nvt.Str("xref"), ",") {
		if u, ok := strings.CutPrefix(strings.TrimSpace(x), "URL:"); ok {
			f.AddReference(u)
		}
	}
	f.Description = report.Join(tags["summary"], tags["insight"], tags["impact"], tags["affected"])
	f.Solution = nvt.Str("solution")
	if f.Solution == "" {
		f.Solution = tags["solution"]
	}
	if d := n.Get("description"); d != nil {
		ev := report.NewEvidence(lim)
		ev.Add("", d.Text, d.Cut)
		f.Evidence = ev.String()
	}
	host := n.Get("host")
	report.SplitHost(host.Str(""), &f.Asset)
	report.SplitHost(host.Str("hostname"), &f.Asset)
	f.Asset.Port, f.Asset.Protocol, f.Asset.Service = portProto(n.Str("port"))
	f.Time = report.Time(n.Str("creation_time"), timeLayouts...)
	return em.Emit(f)
}

// parseTags splits an NVT's "key=value|key=value" tag string.
func parseTags(s string) map[string]string {
	tags := map[string]string{}
	for _, kv := range strings.Split(s, "|") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			tags[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return tags
}

// portProto reads GVM's "443/tcp" or "general/tcp", and OMP's
// "ftp (21/tcp)", which also names the service.
func portProto(s string) (port int, proto, service string) {
	s = strings.TrimSpace(s)
	if name, rest, ok := strings.Cut(s, "("); ok {
		service = strings.TrimSpace(name)
		s, _, _ = strings.Cut(rest, ")")
	}
	p, proto, _ := strings.Cut(strings.TrimSpace(s), "/")
	proto = strings.ToLower(strings.TrimSpace(proto))
	switch proto {
	case "tcp", "udp", "sctp", "icmp":
	default:
		proto = ""
	}
	return report.Port(p), proto, service
}
