// Package nmap is the report parser for Nmap XML output (-oX), component id
// "scanner.nmap".
//
// # Dialects
//
// Any <nmaprun> document (xmloutputversion 1.0x, Nmap 5 to 7.9x). Detection:
// the document element is <nmaprun>.
//
// # Findings
//
// One finding per open port (host × port × protocol whose <state
// state="open">; closed, filtered and open|filtered ports are not findings),
// plus, DefectDojo-style, one finding per CVE listed by the vulners NSE
// script on that port:
//
//   - port finding: RuleID "open-port", Title "Open port 22/tcp (ssh)",
//     Severity info (SeverityRaw empty: Nmap does not rate ports),
//     Description the service product, version, extra info and CPEs,
//     Evidence the port state reason and every script's output.
//   - vulners finding: RuleID and CVEs the CVE id, Title "CVE-… (OpenSSH 7.4)",
//     CVSS the score vulners gives, Severity from that score
//     (sdk.SeverityFromCVSS) with SeverityRaw the score as written,
//     References the vulners.com page, Evidence whether vulners knows an
//     exploit. Entries vulners lists that are not CVEs (exploit-db,
//     packetstorm, …) are not findings. Without the structured <table>
//     output (old vulners versions) the id/score/URL lines of the script's
//     output text are read instead.
//
// Asset: IP the first ipv4/ipv6 <address>, Hostname the first <hostname>
// (a "user" name preferred over PTR), Port, Protocol the port's protocol,
// Service the <service name>. Time: the host's starttime, else the scan's
// start.
package nmap

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
const ID = "scanner.nmap"

// Parser parses Nmap XML reports. The zero value is ready to use.
type Parser struct{}

// New returns a Parser.
func New() *Parser { return &Parser{} }

// ID implements sdk.ReportParser.
func (*Parser) ID() string { return ID }

// Detect implements sdk.ReportParser.
func (*Parser) Detect(head []byte) bool {
	root, ok := xmlstream.Sniff(head)
	return ok && root.Name.Local == "nmaprun"
}

// Parse implements sdk.ReportParser.
func (*Parser) Parse(r io.Reader, lim sdk.Limits, emit func(*sdk.Finding) error) error {
	d := xmlstream.Open("Nmap", r, lim)
	return d.Err(parse(d, report.NewEmitter("nmap", lim, emit)))
}

func parse(d *xmlstream.Decoder, em *report.Emitter) error {
	root, err := d.Root()
	if err != nil {
		return err
	}
	if root.Name.Local != "nmaprun" {
		return fmt.Errorf("document element <%s>, want <nmaprun>", root.Name.Local)
	}
	start := report.Unix(xmlstream.Attr(root, "start"))
	err = d.Descend(func(se xml.StartElement) (bool, error) {
		if se.Name.Local != "host" {
			return false, nil
		}
		host, err := d.Node(se)
		if err != nil {
			return true, err
		}
		return true, emitHost(host, start, d.Limits(), em)
	})
	if err != nil {
		return err
	}
	return d.Finish()
}

func emitHost(host *xmlstream.Node, start time.Time, lim sdk.Limits, em *report.Emitter) error {
	var base sdk.Asset
	for _, a := range host.All("address") {
		if t := a.AttrVal("addrtype"); (t == "ipv4" || t == "ipv6") && base.IP == "" {
			base.IP = a.AttrVal("addr")
		}
	}
	for _, h := range host.Get("hostnames").All("hostname") {
		if base.Hostname == "" || h.AttrVal("type") == "user" {
			base.Hostname = h.AttrVal("name")
		}
	}
	when := report.Unix(host.AttrVal("starttime"))
	if when.IsZero() {
		when = start
	}
	for _, port := range host.Get("ports").All("port") {
		state := port.Get("state")
		if state.AttrVal("state") != "open" {
			continue
		}
		asset := base
		asset.Port = report.Port(port.AttrVal("portid"))
		asset.Protocol = strings.ToLower(port.AttrVal("protocol"))
		svc := port.Get("service")
		asset.Service = svc.AttrVal("name")

		f := em.Next()
		f.RuleID = "open-port"
		f.Title = fmt.Sprintf("Open port %s/%s", port.AttrVal("portid"), asset.Protocol)
		if asset.Service != "" {
			f.Title += " (" + asset.Service + ")"
		}
		f.Severity = sdk.SeverityInfo
		f.Description = serviceText(svc)
		ev := report.NewEvidence(lim)
		ev.Add("state", strings.TrimSpace(state.AttrVal("state")+" "+state.AttrVal("reason")), 0)
		for _, s := range port.All("script") {
			ev.Add("script "+s.AttrVal("id"), s.AttrVal("output"), 0)
		}
		f.Evidence = ev.String()
		f.Asset = asset
		f.Time = when
		if err := em.Emit(f); err != nil {
			return err
		}
		for _, s := range port.All("script") {
			if s.AttrVal("id") != "vulners" {
				continue
			}
			if err := emitVulners(s, svc, asset, when, em); err != nil {
				return err
			}
		}
	}
	return nil
}

// serviceText describes what Nmap identified on the port.
func serviceText(svc *xmlstream.Node) string {
	if svc == nil {
		return ""
	}
	var parts []string
	for _, k := range []string{"product", "version", "extrainfo", "ostype"} {
		if v := strings.TrimSpace(svc.AttrVal(k)); v != "" {
			if k == "extrainfo" {
				v = "(" + v + ")"
			}
			parts = append(parts, v)
		}
	}
	desc := strings.Join(parts, " ")
	if desc != "" {
		desc = "Service: " + desc
	}
	var cpes []string
	for _, c := range svc.All("cpe") {
		if t := c.Str(""); t != "" {
			cpes = append(cpes, t)
		}
	}
	if len(cpes) > 0 {
		desc = report.Join(desc, "CPE: "+strings.Join(cpes, ", "))
	}
	return desc
}

// vuln is one entry of the vulners script output.
type vuln struct {
	id, kind, cvss, exploit, cpe string
}

func emitVulners(script, svc *xmlstream.Node, asset sdk.Asset, when time.Time, em *report.Emitter) error {
	var vulns []vuln
	for _, cpe := range script.All("table") {
		for _, t := range cpe.All("table") {
			v := vuln{cpe: cpe.AttrVal("key")}
			for _, e := range t.All("elem") {
				switch e.AttrVal("key") {
				case "id":
					v.id = e.Str("")
				case "type":
					v.kind = e.Str("")
				case "cvss":
					v.cvss = e.Str("")
				case "is_exploit":
					v.exploit = e.Str("")
				}
			}
			vulns = append(vulns, v)
		}
	}
	if len(vulns) == 0 {
		vulns = vulnersText(script.AttrVal("output"))
	}
	product := strings.TrimSpace(svc.AttrVal("product") + " " + svc.AttrVal("version"))
	for _, v := range vulns {
		id := strings.ToUpper(v.id)
		if !strings.HasPrefix(id, "CVE-") || v.kind != "" && v.kind != "cve" {
			continue
		}
		f := em.Next()
		f.AddCVE(id)
		if len(f.CVEs) == 0 {
			continue
		}
		f.RuleID = id
		f.Title = id
		switch {
		case product != "":
			f.Title += " (" + product + ")"
		case v.cpe != "":
			f.Title += " (" + v.cpe + ")"
		}
		score := report.Score(v.cvss)
		f.CVSS = score
		f.Severity = sdk.SeverityFromCVSS(score)
		if v.cvss == "" {
			f.Severity = sdk.SeverityUnknown
		}
		f.SeverityRaw = v.cvss
		if v.cpe != "" {
			f.Description = "Listed by the vulners script for " + v.cpe + "."
		}
		if v.exploit != "" {
			f.Evidence = "is_exploit: " + v.exploit
		}
		f.AddReference("https://vulners.com/cve/" + id)
		f.Asset = asset
		f.Time = when
		if err := em.Emit(f); err != nil {
			return err
		}
	}
	return nil
}

// vulnersText reads the plain output of the vulners script: a "cpe:…:" line
// followed by "ID<TAB>SCORE<TAB>URL" lines.
func vulnersText(out string) []vuln {
	var vulns []vuln
	cpe := ""
	for _, line := range strings.Split(out, "\n") {
		fields := strings.Fields(line)
		switch {
		case len(fields) == 1 && strings.HasPrefix(fields[0], "cpe:"):
			cpe = strings.TrimSuffix(fields[0], ":")
		case len(fields) >= 2:
			vulns = append(vulns, vuln{id: fields[0], cvss: fields[1], cpe: cpe})
		}
	}
	return vulns
}
