// Package nessuscsv is the report parser for Nessus and Tenable CSV exports,
// component id "scanner.nessus_csv".
//
// # Dialects
//
// Columns are found by header name, case-insensitively, so these all parse:
//
//   - Nessus Pro "default columns" (Plugin ID, CVE, CVSS, Risk, Host,
//     Protocol, Port, Name, Synopsis, Description, Solution, See Also,
//     Plugin Output);
//   - Nessus Pro / Tenable.io templates with more columns (CVSS v2.0/v3.0/
//     v4.0 Base Score, VPR, EPSS, Risk Factor, XREF, …);
//   - Tenable.sc vulnerability exports (Plugin, Plugin Name, Severity, IP
//     Address, DNS Name, NetBIOS Name, Steps to Remediate, Cross
//     References, CVSS V2/V3 Base Score and Vector, Last Observed, …).
//
// Detection: the first line is a CSV header with a plugin column ("Plugin
// ID" or "Plugin"), a host column ("Host" or "IP Address") and a rating
// column ("Risk" or "Severity").
//
// # Findings
//
// One finding per non-blank data row (Nessus writes one row per host ×
// plugin × port, repeated per CVE):
//
//   - RuleID Plugin ID / Plugin; Title Name / Plugin Name.
//   - Severity from Risk / Severity / Risk Factor ("None" is info), the word
//     kept in SeverityRaw.
//   - CVSS: the v3 base score, else v4, else v2 (or the lone CVSS column),
//     with the matching vector column when there is one. Some templates
//     write scores without the decimal point ("75" for 7.5); a whole number
//     above 10 is read as tenths.
//   - CVEs: the CVE column (one id or a list), plus ids named in Name,
//     Synopsis and Description, because "multiple vulnerabilities" plugins
//     list their CVEs there while a row has room for one.
//   - CWEs from "CWE:n" entries of XREF / Cross References.
//   - Description: Synopsis then Description. Solution: Solution / Steps to
//     Remediate ("n/a" dropped). References: the URLs of See Also.
//     Evidence: Plugin Output, cut to the evidence bound.
//   - Asset: Host, IP Address, DNS Name and NetBIOS Name give IP and
//     Hostname; Port (0 for host-level rows), Protocol lower-cased.
//   - Time: Last Observed (Tenable.sc) when present.
package nessuscsv

import (
	"io"
	"strconv"
	"strings"

	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/csvstream"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/report"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// ID is the component id.
const ID = "scanner.nessus_csv"

// Parser parses Nessus and Tenable CSV exports. The zero value is ready to
// use.
type Parser struct{}

// New returns a Parser.
func New() *Parser { return &Parser{} }

// ID implements sdk.ReportParser.
func (*Parser) ID() string { return ID }

// Detect implements sdk.ReportParser.
func (*Parser) Detect(head []byte) bool {
	h, ok := csvstream.Sniff(head)
	return ok && (h["plugin id"] || h["plugin"]) && (h["host"] || h["ip address"]) && (h["risk"] || h["severity"])
}

// Parse implements sdk.ReportParser.
func (*Parser) Parse(r io.Reader, lim sdk.Limits, emit func(*sdk.Finding) error) error {
	c := csvstream.Open("Nessus CSV", r, lim)
	return c.Err(parse(c, lim, report.NewEmitter("nessus", lim, emit)))
}

// scoreCols pairs each score column with its vector column, best first.
var scoreCols = [][2]string{
	{"cvss v3.0 base score", "cvss v3.0 vector"},
	{"cvss v3 base score", "cvss v3 vector"},
	{"cvss3 base score", "cvss3 vector"},
	{"cvss v4.0 base score", "cvss v4.0 vector"},
	{"cvss v2.0 base score", "cvss v2.0 vector"},
	{"cvss v2 base score", "cvss v2 vector"},
	{"cvss", "cvss vector"},
}

// Tenable.sc writes "Oct 17, 2024 17:24:54 UTC".
var timeLayouts = []string{"Jan 2, 2006 15:04:05 MST", "2006-01-02T15:04:05Z07:00", "2006-01-02 15:04:05"}

func parse(c *csvstream.Reader, lim sdk.Limits, em *report.Emitter) error {
	if err := c.Header(); err != nil {
		return err
	}
	for {
		ok, err := c.Next()
		if err != nil || !ok {
			return err
		}
		f := em.Next()
		f.RuleID = c.Get("plugin id", "plugin")
		f.Title = c.Get("name", "plugin name")
		report.Severity(f, c.Get("risk", "severity", "risk factor"))
		for _, sc := range scoreCols {
			report.SetCVSS(f, score(c.Get(sc[0])), c.Get(sc[1]))
		}
		for _, id := range report.Words(c.Get("cve")) {
			f.AddCVE(id)
		}
		synopsis, desc := c.Get("synopsis"), c.Get("description")
		for _, text := range []string{f.Title, synopsis, desc} {
			report.CVEsIn(text, f.AddCVE)
		}
		for _, x := range report.Words(c.Get("xref", "cross references")) {
			if kind, id, ok := strings.Cut(x, ":"); ok && strings.EqualFold(kind, "CWE") {
				f.AddCWE(report.CWE(id))
			}
		}
		f.Description = report.Join(synopsis, desc)
		if s := c.Get("solution", "steps to remediate"); !strings.EqualFold(s, "n/a") {
			f.Solution = s
		}
		for _, ref := range report.Words(c.Get("see also")) {
			f.AddReference(ref)
		}
		if out := c.Get("plugin output"); out != "" {
			ev := report.NewEvidence(lim)
			ev.Add("", out, 0)
			f.Evidence = ev.String()
		}
		report.SplitHost(c.Get("host"), &f.Asset)
		report.SplitHost(c.Get("ip address", "ip"), &f.Asset)
		report.SplitHost(c.Get("dns name", "fqdn"), &f.Asset)
		report.SplitHost(c.Get("netbios name"), &f.Asset)
		f.Asset.Port = report.Port(c.Get("port"))
		f.Asset.Protocol = strings.ToLower(c.Get("protocol"))
		f.Time = report.Time(c.Get("last observed"), timeLayouts...)
		if err := em.Emit(f); err != nil {
			return err
		}
	}
}

// score reads a score cell, accepting a decimal comma and the tenths some
// templates write ("75" for 7.5).
func score(s string) float64 {
	s = strings.ReplaceAll(strings.TrimSpace(s), ",", ".")
	if n, err := strconv.Atoi(s); err == nil && n > 10 && n <= 100 {
		return float64(n) / 10
	}
	return report.Score(s)
}
