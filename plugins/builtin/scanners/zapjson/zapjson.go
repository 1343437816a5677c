// Package zapjson is the report parser for OWASP ZAP JSON reports,
// component id "scanner.zap_json".
//
// # Dialects
//
//   - the "traditional-json" report of ZAP 2.9+ ({"@programName": "ZAP",
//     "@version", "@generated", "site": [{"@name", …, "alerts": [{…,
//     "instances": [...]}]}]});
//   - the legacy export-report add-on JSON ({"Report": {"Sites": {…,
//     "Alerts": {"AlertItem": …}}}}), where Sites, AlertItem and Item are
//     each either one object or an array, and an item's URI reads
//     "METHOD : URL";
//   - the API's alert list ({"alerts": [{"pluginId", "url", "risk", …}]}),
//     one object per instance.
//
// Detection: @programName "ZAP", or the key paths site/alerts,
// Report/Sites or alerts/pluginId.
//
// # Findings
//
// One finding per alert instance (site × plugin × URI/parameter), as for
// scanner.zap; the field mapping is the same (see package zap): RuleID the
// plugin id, Title the alert name, Severity from the risk code or risk word,
// CWEs, Description, Solution, References, per-instance Evidence and URL.
// Time: @generated (traditional) or ReportDate (legacy).
//
// Site keys must come before the site's alerts, as ZAP writes them, to be
// used; instance URIs are absolute, so a late site name loses nothing.
package zapjson

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/jsonstream"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/report"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/zapalert"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// ID is the component id.
const ID = "scanner.zap_json"

// Parser parses ZAP JSON reports. The zero value is ready to use.
type Parser struct{}

// New returns a Parser.
func New() *Parser { return &Parser{} }

// ID implements sdk.ReportParser.
func (*Parser) ID() string { return ID }

// Detect implements sdk.ReportParser.
func (*Parser) Detect(head []byte) bool {
	h, ok := jsonstream.Sniff(head)
	return ok && !h.Array && (h.Strings["@programName"] == "ZAP" ||
		h.Has("site/alerts", "Report/Sites", "alerts/pluginId", "alerts/alertRef"))
}

// Parse implements sdk.ReportParser.
func (*Parser) Parse(r io.Reader, lim sdk.Limits, emit func(*sdk.Finding) error) error {
	d := jsonstream.Open("ZAP JSON", r, lim)
	d.Evidence("evidence", "Evidence", "otherinfo", "OtherInfo", "other",
		"RequestHeader", "RequestBody", "ResponseHeader", "ResponseBody")
	p := &parser{d: d, em: report.NewEmitter("zap", lim, emit), lim: d.Limits()}
	return d.Err(p.parse())
}

type parser struct {
	d    *jsonstream.Decoder
	em   *report.Emitter
	lim  sdk.Limits
	time time.Time
}

var timeLayouts = []string{"Mon, 2 Jan 2006 15:04:05", "Mon, 2 Jan 2006 15:04:05 MST", time.RFC3339Nano, "01/02/2006"}

func (p *parser) parse() error {
	if _, err := p.d.Start(); err != nil {
		return err
	}
	err := p.d.Object(func(key string) error {
		switch key {
		case "@generated":
			return p.timeValue()
		case "site":
			return p.d.Array(p.site)
		case "Report":
			return p.d.Object(func(key string) error {
				switch key {
				case "ReportDate":
					return p.timeValue()
				case "Sites":
					return p.d.Array(p.legacySite)
				}
				return p.d.Skip()
			})
		case "alerts":
			return p.d.Array(p.apiAlert)
		}
		return p.d.Skip()
	})
	if err != nil {
		return err
	}
	return p.d.Finish()
}

func (p *parser) timeValue() error {
	v, err := p.d.Value()
	if err != nil {
		return err
	}
	p.time = report.Time(v.Str(), timeLayouts...)
	return nil
}

func (p *parser) object() (*jsonstream.Value, error) {
	v, err := p.d.Value()
	if err == nil && v.Kind != jsonstream.Object {
		err = fmt.Errorf("object expected in a ZAP alert list")
	}
	return v, err
}

// site reads a traditional-json site.
func (p *parser) site() error {
	name := ""
	return p.d.Object(func(key string) error {
		switch key {
		case "@name":
			v, err := p.d.Value()
			name = v.Str()
			return err
		case "alerts":
			return p.d.Array(func() error {
				v, err := p.object()
				if err != nil {
					return err
				}
				a := &zapalert.Alert{
					PluginID:   v.Get("pluginid").Str(),
					Name:       v.Get("alert").Str(),
					RiskCode:   v.Get("riskcode").Str(),
					Risk:       v.Get("riskdesc").Str(),
					Confidence: v.Get("confidence").Str(),
					Desc:       v.Get("desc").Str(),
					Solution:   v.Get("solution").Str(),
					OtherInfo:  v.Get("otherinfo").Str(),
					Reference:  v.Get("reference").Str(),
					CWE:        v.Get("cweid").Str(),
					Site:       name,
					Time:       p.time,
				}
				if a.Name == "" {
					a.Name = v.Get("name").Str()
				}
				insts := v.Get("instances").Items()
				if len(insts) == 0 {
					return zapalert.Emit(p.em, p.lim, a, zapalert.Instance{})
				}
				for _, in := range insts {
					ev := in.Get("evidence")
					err := zapalert.Emit(p.em, p.lim, a, zapalert.Instance{
						URI:       in.Get("uri").Str(),
						Method:    in.Get("method").Str(),
						Param:     in.Get("param").Str(),
						Attack:    in.Get("attack").Str(),
						Evidence:  ev.Str(),
						Cut:       cut(ev),
						OtherInfo: in.Get("otherinfo").Str(),
					})
					if err != nil {
						return err
					}
				}
				return nil
			})
		}
		return p.d.Skip()
	})
}

// legacySite reads a site of the export-report add-on.
func (p *parser) legacySite() error {
	name := ""
	return p.d.Object(func(key string) error {
		switch key {
		case "Name", "Host":
			v, err := p.d.Value()
			if name == "" {
				name = v.Str()
			}
			return err
		case "Alerts":
			return p.d.Object(func(key string) error {
				if key != "AlertItem" {
					return p.d.Skip()
				}
				return p.d.Array(func() error {
					v, err := p.object()
					if err != nil {
						return err
					}
					return p.legacyAlert(v, name)
				})
			})
		}
		return p.d.Skip()
	})
}

func (p *parser) legacyAlert(v *jsonstream.Value, site string) error {
	a := &zapalert.Alert{
		PluginID:  v.Get("PluginID").Str(),
		Name:      v.Get("Alert").Str(),
		RiskCode:  v.Get("RiskCode").Str(),
		Risk:      v.Get("RiskDesc").Str(),
		Desc:      v.Get("Desc").Str(),
		Solution:  v.Get("Solution").Str(),
		OtherInfo: v.Get("OtherInfo").Str(),
		Reference: v.Get("Reference").Str(),
		CWE:       v.Get("CWEID").Str(),
		Site:      site,
		Time:      p.time,
	}
	items := v.Get("Item").Items()
	if len(items) == 0 {
		return zapalert.Emit(p.em, p.lim, a, zapalert.Instance{})
	}
	for _, in := range items {
		method, uri, ok := strings.Cut(in.Get("URI").Str(), " : ")
		if !ok {
			method, uri = "", method
		}
		a.Confidence = in.Get("Confidence").Str()
		ev := in.Get("Evidence")
		err := zapalert.Emit(p.em, p.lim, a, zapalert.Instance{
			URI:       strings.TrimSpace(uri),
			Method:    strings.TrimSpace(method),
			Param:     in.Get("Param").Str(),
			Attack:    in.Get("Attack").Str(),
			Evidence:  ev.Str(),
			Cut:       cut(ev),
			OtherInfo: in.Get("OtherInfo").Str(),
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// apiAlert reads one alert of the API's list: alert and instance in one.
func (p *parser) apiAlert() error {
	v, err := p.object()
	if err != nil {
		return err
	}
	a := &zapalert.Alert{
		PluginID:   v.Get("pluginId").Str(),
		Name:       v.Get("alert").Str(),
		Risk:       v.Get("risk").Str(),
		Confidence: v.Get("confidence").Str(),
		Desc:       v.Get("description").Str(),
		Solution:   v.Get("solution").Str(),
		Reference:  v.Get("reference").Str(),
		CWE:        v.Get("cweid").Str(),
		Time:       p.time,
	}
	if a.Name == "" {
		a.Name = v.Get("name").Str()
	}
	ev := v.Get("evidence")
	return zapalert.Emit(p.em, p.lim, a, zapalert.Instance{
		URI:       v.Get("url").Str(),
		Method:    v.Get("method").Str(),
		Param:     v.Get("param").Str(),
		Attack:    v.Get("attack").Str(),
		Evidence:  ev.Str(),
		Cut:       cut(ev),
		OtherInfo: v.Get("other").Str(),
	})
}

func cut(v *jsonstream.Value) int {
	if v == nil {
		return 0
	}
	return v.Cut
}
