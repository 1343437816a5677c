// Package nuclei is the report parser for ProjectDiscovery Nuclei JSON
// output, component id "scanner.nuclei".
//
// # Dialects
//
// JSON Lines (-jsonl, formerly -json: one result object per line) and the
// JSON array of -json-export, from Nuclei 2.x and 3.x (both "template-id"
// and the older "templateID", "matched-at" and the older "matched"). An
// empty report is valid and has no findings: Nuclei writes nothing when
// nothing matched. Detection: the first object (alone, first line, or first
// array element) has a template-id/templateID key, or info and
// matched-at/matched.
//
// # Findings
//
// One finding per result (template × matcher × target):
//
//   - RuleID "template-id:matcher-name" as Nuclei prints it (the template id
//     alone when there is no matcher name); Title info.name.
//   - Severity from info.severity, kept in SeverityRaw.
//   - CVSS and CVSSVector from info.classification cvss-score and
//     cvss-metrics; CVEs and CWEs from its cve-id and cwe-id.
//   - Description info.description; Solution info.remediation; References
//     info.reference.
//   - Evidence: matched-at, matcher and extractor names, extracted-results,
//     the curl command, request and response, cut to the evidence bound.
//   - Asset: URL matched-at (else url) when it is a URL; Hostname or IP from
//     host, ip and the URL; Port from port or the URL; Service the URL
//     scheme, else the result type for dns, ssl and whois templates.
//   - Time: timestamp.
package nuclei

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"strings"

	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/jsonstream"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/report"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// ID is the component id.
const ID = "scanner.nuclei"

// Parser parses Nuclei JSON and JSONL output. The zero value is ready to use.
type Parser struct{}

// New returns a Parser.
func New() *Parser { return &Parser{} }

// ID implements sdk.ReportParser.
func (*Parser) ID() string { return ID }

// Detect implements sdk.ReportParser.
func (*Parser) Detect(head []byte) bool {
	h, ok := jsonstream.Sniff(head)
	return ok && (h.Has("template-id", "templateID") || h.Has("info") && h.Has("matched-at", "matched"))
}

// Parse implements sdk.ReportParser.
func (*Parser) Parse(r io.Reader, lim sdk.Limits, emit func(*sdk.Finding) error) error {
	d := jsonstream.Open("Nuclei", r, lim)
	d.Evidence("request", "response", "curl-command")
	return d.Err(parse(d, report.NewEmitter("nuclei", lim, emit)))
}

func parse(d *jsonstream.Decoder, em *report.Emitter) error {
	one := func() error {
		v, err := d.Value()
		if err != nil {
			return err
		}
		return emitResult(v, d.Limits(), em)
	}
	for {
		p, err := d.Peek()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		switch p {
		case json.Delim('['):
			err = d.Array(one)
		case json.Delim('{'):
			err = one()
		default:
			return fmt.Errorf("result object expected, found %v", p)
		}
		if err != nil {
			return err
		}
	}
}

func emitResult(v *jsonstream.Value, lim sdk.Limits, em *report.Emitter) error {
	if v.Kind != jsonstream.Object {
		return fmt.Errorf("result object expected")
	}
	info := v.Get("info")
	f := em.Next()
	tmpl := first(v, "template-id", "templateID", "template")
	matcher := first(v, "matcher-name", "matcher_name")
	f.RuleID = tmpl
	if matcher != "" {
		f.RuleID += ":" + matcher
	}
	f.Title = info.Get("name").Str()
	if f.Title == "" {
		f.Title = tmpl
	}
	report.Severity(f, info.Get("severity").Str())
	cls := info.Get("classification")
	score, _ := cls.Get("cvss-score").Float()
	report.SetCVSS(f, score, cls.Get("cvss-metrics").Str())
	for _, id := range cls.Get("cve-id").Strings() {
		f.AddCVE(id)
	}
	for _, id := range cls.Get("cwe-id").Strings() {
		f.AddCWE(report.CWE(id))
	}
	f.Description = info.Get("description").Str()
	f.Solution = info.Get("remediation").Str()
	for _, ref := range info.Get("reference").Strings() {
		for _, r := range report.Words(ref) {
			f.AddReference(r)
		}
	}

	matched := first(v, "matched-at", "matched")
	ev := report.NewEvidence(lim)
	ev.Add("matched-at", matched, 0)
	ev.Add("matcher", matcher, 0)
	ev.Add("extractor", first(v, "extractor-name"), 0)
	ev.Add("extracted-results", strings.Join(v.Get("extracted-results").Strings(), "\n"), 0)
	for _, k := range []string{"curl-command", "request", "response"} {
		if x := v.Get(k); x != nil {
			ev.Add(k, x.Str(), x.Cut)
		}
	}
	f.Evidence = ev.String()

	a := &f.Asset
	switch {
	case strings.Contains(matched, "://"):
		a.URL = matched
	case strings.Contains(first(v, "url"), "://"):
		a.URL = first(v, "url")
	}
	if ip := strings.TrimSuffix(first(v, "ip"), "."); report.IsIP(ip) {
		a.IP = ip
	}
	a.Port = report.Port(first(v, "port"))
	host := first(v, "host")
	if strings.Contains(host, "://") {
		report.FromURL(host, a)
	} else {
		if h, p, err := net.SplitHostPort(host); err == nil {
			host = h
			if a.Port == 0 {
				a.Port = report.Port(p)
			}
		}
		report.SplitHost(host, a)
	}
	report.FromURL(a.URL, a)
	if a.Service == "" {
		switch t := first(v, "type"); t {
		case "dns", "ssl", "whois":
			a.Service = t
		}
	}
	f.Time = report.Time(first(v, "timestamp"), "2006-01-02T15:04:05.999999999Z07:00")
	return em.Emit(f)
}

// first returns the first non-empty scalar among keys.
func first(v *jsonstream.Value, keys ...string) string {
	for _, k := range keys {
		if s := v.Get(k).Str(); s != "" {
			return s
		}
	}
	return ""
}
