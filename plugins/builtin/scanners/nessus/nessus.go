// Package nessus is the report parser for Nessus .nessus files (XML,
// NessusClientData_v2), component id "scanner.nessus".
//
// # Dialects
//
// NessusClientData_v2 as exported by Nessus 5 to 10, Tenable.io and
// Tenable.sc. The old NessusClientData (v1) format is not accepted.
// Detection: the document element is <NessusClientData_v2>.
//
// # Findings
//
// One finding per <ReportItem> (host × plugin × port), informational items
// (severity 0) included:
//
//   - RuleID the pluginID, Title the pluginName (or <plugin_name>).
//   - Severity from the severity attribute (0 info … 4 critical), which is
//     also SeverityRaw.
//   - CVSS and CVSSVector from cvss3_base_score/cvss3_vector, else
//     cvss_base_score/cvss_vector.
//   - CVEs from the <cve> elements; CWEs from <cwe> and "CWE:n" <xref>s.
//     The host-level patch-summary tags list CVEs of the host, not of an
//     item, and are not used.
//   - Description: <synopsis> then <description>. Solution: <solution>
//     ("n/a" dropped). References: the URLs of <see_also>. Evidence:
//     <plugin_output>, cut to the evidence bound.
//   - Asset: IP the host-ip tag (else the ReportHost name when it is an
//     address), Hostname host-fqdn, hostname or netbios-name (else the name),
//     Port (0 for host-level items), Protocol, Service the svc_name without
//     Nessus's trailing "?".
//   - Time: the host's HOST_END (or HOST_START) time.
//
// <HostProperties> must precede the host's items, as Nessus writes them; a
// tag that comes after an item does not apply to it.
package nessus

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
const ID = "scanner.nessus"

// Parser parses .nessus reports. The zero value is ready to use.
type Parser struct{}

// New returns a Parser.
func New() *Parser { return &Parser{} }

// ID implements sdk.ReportParser.
func (*Parser) ID() string { return ID }

// Detect implements sdk.ReportParser.
func (*Parser) Detect(head []byte) bool {
	root, ok := xmlstream.Sniff(head)
	return ok && root.Name.Local == "NessusClientData_v2"
}

// Parse implements sdk.ReportParser.
func (*Parser) Parse(r io.Reader, lim sdk.Limits, emit func(*sdk.Finding) error) error {
	d := xmlstream.Open("Nessus", r, lim)
	d.Evidence("plugin_output")
	return d.Err(parse(d, report.NewEmitter("nessus", lim, emit)))
}

// host is what the current <ReportHost> says about itself.
type host struct {
	name  string // the ReportHost name: an address or a host name
	asset sdk.Asset
	time  time.Time
}

// Nessus writes host times as "Tue Jun 25 10:32:42 2013".
const hostTime = "Mon Jan _2 15:04:05 2006"

func parse(d *xmlstream.Decoder, em *report.Emitter) error {
	root, err := d.Root()
	if err != nil {
		return err
	}
	if root.Name.Local != "NessusClientData_v2" {
		return fmt.Errorf("document element <%s>, want <NessusClientData_v2>", root.Name.Local)
	}
	var h host
	err = d.Descend(func(se xml.StartElement) (bool, error) {
		switch se.Name.Local {
		case "Policy":
			return true, d.Skip()
		case "ReportHost":
			h = host{name: xmlstream.Attr(se, "name")}
			report.SplitHost(h.name, &h.asset)
			return false, nil
		case "HostProperties":
			n, err := d.Node(se)
			if err != nil {
				return true, err
			}
			h = hostProps(n, h)
			return true, nil
		case "ReportItem":
			n, err := d.Node(se)
			if err != nil {
				return true, err
			}
			return true, emitItem(n, &h, d.Limits(), em)
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	return d.Finish()
}

func hostProps(n *xmlstream.Node, h host) host {
	tags := map[string]string{}
	for _, t := range n.All("tag") {
		tags[t.AttrVal("name")] = t.Str("")
	}
	a := sdk.Asset{IP: tags["host-ip"]}
	for _, k := range []string{"host-fqdn", "hostname", "netbios-name"} {
		if a.Hostname == "" {
			a.Hostname = tags[k]
		}
	}
	report.SplitHost(h.name, &a)
	h.asset = a
	h.time = report.Unix(tags["HOST_END_TIMESTAMP"])
	if h.time.IsZero() {
		h.time = report.Time(tags["HOST_END"], hostTime)
	}
	if h.time.IsZero() {
		h.time = report.Unix(tags["HOST_START_TIMESTAMP"])
	}
	if h.time.IsZero() {
		h.time = report.Time(tags["HOST_START"], hostTime)
	}
	return h
}

func emitItem(n *xmlstream.Node, h *host, lim sdk.Limits, em *report.Emitter) error {
	f := em.Next()
	f.RuleID = n.AttrVal("pluginID")
	f.Title = n.AttrVal("pluginName")
	if f.Title == "" {
		f.Title = n.Str("plugin_name")
	}
	report.Severity(f, n.AttrVal("severity"))
	report.SetCVSS(f, report.Score(n.Str("cvss3_base_score")), n.Str("cvss3_vector"))
	report.SetCVSS(f, report.Score(n.Str("cvss_base_score")), n.Str("cvss_vector"))
	for _, c := range n.All("cve") {
		f.AddCVE(c.Str(""))
	}
	for _, c := range n.All("cwe") {
		f.AddCWE(report.CWE(c.Str("")))
	}
	for _, x := range n.All("xref") {
		if kind, id, ok := strings.Cut(x.Str(""), ":"); ok && strings.EqualFold(kind, "CWE") {
			f.AddCWE(report.CWE(id))
		}
	}
	f.Description = report.Join(n.Str("synopsis"), n.Str("description"))
	if s := n.Str("solution"); !strings.EqualFold(s, "n/a") {
		f.Solution = s
	}
	for _, s := range n.All("see_also") {
		for _, ref := range report.Words(s.Text) {
			f.AddReference(ref)
		}
	}
	if out := n.Get("plugin_output"); out != nil {
		ev := report.NewEvidence(lim)
		ev.Add("", out.Text, out.Cut)
		f.Evidence = ev.String()
	}
	f.Asset = h.asset
	f.Asset.Port = report.Port(n.AttrVal("port"))
	f.Asset.Protocol = strings.ToLower(n.AttrVal("protocol"))
	if svc := strings.TrimSuffix(n.AttrVal("svc_name"), "?"); svc != "general" {
		f.Asset.Service = svc
	}
	f.Time = h.time
	return em.Emit(f)
}
