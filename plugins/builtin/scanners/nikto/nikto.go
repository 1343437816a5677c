// Package nikto is the report parser for Nikto XML and JSON output,
// component id "scanner.nikto".
//
// # Dialects
//
//   - XML (-Format xml, nxmlversion 1.1/1.2, Nikto 2.1 and 2.5): a
//     <niktoscan> document element, possibly wrapping further <niktoscan>
//     elements (one per scan), with <scandetails> per target holding
//     <item> elements;
//   - JSON (-Format json): one host object {"host", "ip", "port", "banner",
//     "vulnerabilities": [{"id", "OSVDB", "method", "url", "msg",
//     "references"}]} or an array of them.
//
// Nikto's CSV output is not accepted. Detection: an XML <niktoscan>
// document element, or JSON whose vulnerabilities carry "msg" (or that has
// both "vulnerabilities" and "banner").
//
// # Findings
//
// One finding per item / vulnerability entry (check × URL). Nikto does not
// rate its findings: Severity is info and SeverityRaw empty.
//
//   - RuleID the item id; Title and Description the message.
//   - References: the references given and the OSVDB link (OSVDB id 0 is
//     "none").
//   - Evidence: method and URI.
//   - Asset: URL namelink (XML) or host, port and url (JSON; https for
//     ports 443 and 8443, as Nikto's JSON has no scheme); IP, Hostname and
//     Port of the target.
//   - Time: scandetails starttime (XML; local time without a zone, read as
//     UTC).
package nikto

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
const ID = "scanner.nikto"

// Parser parses Nikto XML and JSON reports. The zero value is ready to use.
type Parser struct{}

// New returns a Parser.
func New() *Parser { return &Parser{} }

// ID implements sdk.ReportParser.
func (*Parser) ID() string { return ID }

// Detect implements sdk.ReportParser.
func (*Parser) Detect(head []byte) bool {
	if root, ok := xmlstream.Sniff(head); ok {
		return root.Name.Local == "niktoscan"
	}
	h, ok := jsonstream.Sniff(head)
	return ok && (h.Has("vulnerabilities/msg") || h.Has("vulnerabilities") && h.Has("banner"))
}

// Parse implements sdk.ReportParser.
func (*Parser) Parse(r io.Reader, lim sdk.Limits, emit func(*sdk.Finding) error) error {
	em := report.NewEmitter("nikto", lim, emit)
	br, isXML := report.IsXML(r)
	if isXML {
		d := xmlstream.Open("Nikto", br, lim)
		return d.Err(parseXML(d, em))
	}
	d := jsonstream.Open("Nikto", br, lim)
	return d.Err(parseJSON(d, em))
}

func parseXML(d *xmlstream.Decoder, em *report.Emitter) error {
	root, err := d.Root()
	if err != nil {
		return err
	}
	if root.Name.Local != "niktoscan" {
		return fmt.Errorf("document element <%s>, want <niktoscan>", root.Name.Local)
	}
	var target sdk.Asset
	var site string
	var when time.Time
	err = d.Descend(func(se xml.StartElement) (bool, error) {
		switch se.Name.Local {
		case "scandetails":
			target = sdk.Asset{}
			report.SplitHost(xmlstream.Attr(se, "targetip"), &target)
			report.SplitHost(xmlstream.Attr(se, "targethostname"), &target)
			target.Port = report.Port(xmlstream.Attr(se, "targetport"))
			site = xmlstream.Attr(se, "sitename")
			when = report.Time(xmlstream.Attr(se, "starttime"), "2006-01-02 15:04:05")
			return false, nil
		case "item":
			n, err := d.Node(se)
			if err != nil {
				return true, err
			}
			f := em.Next()
			f.RuleID = n.AttrVal("id")
			msg := n.Str("description")
			f.Title, f.Description = msg, msg
			f.Severity = sdk.SeverityInfo
			for _, ref := range report.Words(n.Str("references")) {
				f.AddReference(ref)
			}
			osvdb(f, n.AttrVal("osvdbid"), n.AttrVal("osvdblink"))
			ev := report.NewEvidence(d.Limits())
			ev.Add("", strings.TrimSpace(n.AttrVal("method")+" "+n.Str("uri")), 0)
			f.Evidence = ev.String()
			f.Asset = target
			f.Asset.URL = n.Str("namelink")
			if f.Asset.URL == "" && site != "" {
				f.Asset.URL = strings.TrimRight(site, "/") + n.Str("uri")
			}
			report.FromURL(f.Asset.URL, &f.Asset)
			f.Time = when
			return true, em.Emit(f)
		case "statistics", "ssl":
			return true, d.Skip()
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	return d.Finish()
}

func osvdb(f *sdk.Finding, id, link string) {
	if id == "" || id == "0" {
		return
	}
	if link == "" {
		link = "OSVDB-" + id
	}
	f.AddReference(link)
}

func parseJSON(d *jsonstream.Decoder, em *report.Emitter) error {
	first, err := d.Start()
	if err != nil {
		return err
	}
	if first == json.Delim('[') {
		err = d.Array(func() error { return jsonHost(d, em) })
	} else {
		err = jsonHost(d, em)
	}
	if err != nil {
		return err
	}
	return d.Finish()
}

func jsonHost(d *jsonstream.Decoder, em *report.Emitter) error {
	var host, ip, port string
	str := func(dst *string) error {
		v, err := d.Value()
		if err == nil {
			*dst = v.Str()
		}
		return err
	}
	return d.Object(func(key string) error {
		switch key {
		case "host":
			return str(&host)
		case "ip":
			return str(&ip)
		case "port":
			return str(&port)
		case "vulnerabilities":
			return d.Array(func() error {
				v, err := d.Value()
				if err != nil {
					return err
				}
				if v.Kind != jsonstream.Object {
					return fmt.Errorf("vulnerability object expected")
				}
				f := em.Next()
				f.RuleID = v.Get("id").Str()
				msg := v.Get("msg").Str()
				f.Title, f.Description = msg, msg
				f.Severity = sdk.SeverityInfo
				for _, ref := range v.Get("references").Strings() {
					for _, r := range report.Words(ref) {
						f.AddReference(r)
					}
				}
				osvdb(f, v.Get("OSVDB").Str(), "")
				path := v.Get("url").Str()
				ev := report.NewEvidence(d.Limits())
				ev.Add("", strings.TrimSpace(v.Get("method").Str()+" "+path), 0)
				f.Evidence = ev.String()
				report.SplitHost(ip, &f.Asset)
				report.SplitHost(host, &f.Asset)
				f.Asset.Port = report.Port(port)
				if site := siteURL(host, ip, f.Asset.Port); site != "" {
					f.Asset.URL = site + path
				}
				report.FromURL(f.Asset.URL, &f.Asset)
				return em.Emit(f)
			})
		}
		return d.Skip()
	})
}

// siteURL builds scheme://host[:port] for Nikto's JSON, which has no
// scheme; 443 and 8443 are taken as HTTPS.
func siteURL(host, ip string, port int) string {
	if host == "" {
		host = ip
	}
	scheme := "http"
	if port == 443 || port == 8443 {
		scheme = "https"
	}
	if host == "" {
		return ""
	}
	if port != 0 && !(scheme == "http" && port == 80) && !(scheme == "https" && port == 443) {
		host = fmt.Sprintf("%s:%d", host, port)
	}
	return scheme + "://" + host
}
