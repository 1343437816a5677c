// Package zap is the report parser for OWASP ZAP XML reports, component id
// "scanner.zap".
//
// # Dialects
//
// The "traditional" XML report (<OWASPZAPReport version="…">) of ZAP 2.x:
// <site> elements holding <alerts>/<alertitem>, each with <instances> since
// ZAP 2.8, or with one uri/param/attack/evidence directly in the
// alertitem before that. Detection: the document element is
// <OWASPZAPReport>.
//
// # Findings
//
// One finding per alert instance (site × plugin × URI/parameter), so that
// each affected URL is its own asset; an alertitem without instances is one
// finding.
//
//   - RuleID the pluginid; Title the alert (else name).
//   - Severity from riskcode (0 info, 1 low, 2 medium, 3 high), SeverityRaw
//     the risk word of riskdesc ("Low" of "Low (Medium)").
//   - CWEs cweid; Description desc; Solution solution (HTML reduced to
//     text); References the URLs of reference.
//   - Evidence: the instance's method, param, attack, evidence and other
//     info (else the alert's otherinfo), and the confidence.
//   - Asset: URL the instance URI (else the site); Hostname/IP, Port and
//     Service (scheme) from that URL.
//   - Time: the report's generated attribute.
package zap

import (
	"encoding/xml"
	"fmt"
	"io"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/report"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/xmlstream"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/zapalert"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// ID is the component id.
const ID = "scanner.zap"

// Parser parses ZAP XML reports. The zero value is ready to use.
type Parser struct{}

// New returns a Parser.
func New() *Parser { return &Parser{} }

// ID implements sdk.ReportParser.
func (*Parser) ID() string { return ID }

// Detect implements sdk.ReportParser.
func (*Parser) Detect(head []byte) bool {
	root, ok := xmlstream.Sniff(head)
	return ok && root.Name.Local == "OWASPZAPReport"
}

// Parse implements sdk.ReportParser.
func (*Parser) Parse(r io.Reader, lim sdk.Limits, emit func(*sdk.Finding) error) error {
	d := xmlstream.Open("ZAP XML", r, lim)
	d.Evidence("evidence", "otherinfo")
	return d.Err(parse(d, report.NewEmitter("zap", lim, emit)))
}

// ZAP writes "Tue, 12 May 2020 20:57:30".
var timeLayouts = []string{"Mon, 2 Jan 2006 15:04:05", "Mon, 2 Jan 2006 15:04:05 MST", time.RFC3339}

func parse(d *xmlstream.Decoder, em *report.Emitter) error {
	root, err := d.Root()
	if err != nil {
		return err
	}
	if root.Name.Local != "OWASPZAPReport" {
		return fmt.Errorf("document element <%s>, want <OWASPZAPReport>", root.Name.Local)
	}
	generated := report.Time(xmlstream.Attr(root, "generated"), timeLayouts...)
	site := ""
	err = d.Descend(func(se xml.StartElement) (bool, error) {
		switch se.Name.Local {
		case "site":
			site = xmlstream.Attr(se, "name")
			return false, nil
		case "alertitem":
			n, err := d.Node(se)
			if err != nil {
				return true, err
			}
			return true, emitAlert(n, site, generated, d.Limits(), em)
		}
		return false, nil
	})
	if err != nil {
		return err
	}
	return d.Finish()
}

func emitAlert(n *xmlstream.Node, site string, when time.Time, lim sdk.Limits, em *report.Emitter) error {
	a := &zapalert.Alert{
		PluginID:   n.Str("pluginid"),
		Name:       n.Str("alert"),
		RiskCode:   n.Str("riskcode"),
		Risk:       n.Str("riskdesc"),
		Confidence: n.Str("confidencedesc"),
		Desc:       n.Str("desc"),
		Solution:   n.Str("solution"),
		OtherInfo:  n.Str("otherinfo"),
		Reference:  n.Str("reference"),
		CWE:        n.Str("cweid"),
		Site:       site,
		Time:       when,
	}
	if a.Name == "" {
		a.Name = n.Str("name")
	}
	if a.Confidence == "" {
		a.Confidence = n.Str("confidence")
	}
	instances := n.Get("instances").All("instance")
	if len(instances) == 0 {
		// Before ZAP 2.8 the one instance's fields sat in the alertitem.
		instances = []*xmlstream.Node{n}
	}
	for _, in := range instances {
		inst := zapalert.Instance{
			URI:    in.Str("uri"),
			Method: in.Str("method"),
			Param:  in.Str("param"),
			Attack: in.Str("attack"),
		}
		if ev := in.Get("evidence"); ev != nil {
			inst.Evidence, inst.Cut = ev.Str(""), ev.Cut
		}
		if in != n {
			inst.OtherInfo = in.Str("otherinfo")
		}
		if err := zapalert.Emit(em, lim, a, inst); err != nil {
			return err
		}
	}
	return nil
}
