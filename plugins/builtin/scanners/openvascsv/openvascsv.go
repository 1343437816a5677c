// Package openvascsv is the report parser for OpenVAS / Greenbone (GVM) CSV
// result exports, component id "scanner.openvas_csv".
//
// # Dialects
//
// The "CSV Results" report format of GVM 9 to 22, with or without the QoD
// column: IP, Hostname, Port, Port Protocol, CVSS, Severity, [QoD,] Solution
// Type, NVT Name, Summary, Specific Result, NVT OID, CVEs, Task ID, Task
// Name, Timestamp, Result ID, Impact, Solution, Affected Software/OS,
// Vulnerability Insight, Vulnerability Detection Method, Product Detection
// Result, BIDs, CERTs, Other References. Columns are found by header name.
// Detection: the first line is a CSV header with an "NVT OID" or "NVT Name"
// column.
//
// # Findings
//
// One finding per non-blank data row (host × NVT × port). Rows that repeat
// an NVT on the same host and port with a different Specific Result are
// kept apart; merging them is the importer's decision, not the parser's.
//
//   - RuleID the NVT OID; Title the NVT Name.
//   - Severity from Severity (High, Medium, Low, Log = info), kept in
//     SeverityRaw; CVSS from CVSS.
//   - CVEs: the CVEs column (comma separated).
//   - Description: Summary, Vulnerability Insight, Impact and Affected
//     Software/OS. Solution: Solution. References: Other References.
//     Evidence: Specific Result, cut to the evidence bound.
//   - Asset: IP, Hostname, Port, Protocol from Port Protocol.
//   - Time: Timestamp.
package openvascsv

import (
	"io"
	"strings"

	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/csvstream"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/report"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// ID is the component id.
const ID = "scanner.openvas_csv"

// Parser parses GVM CSV exports. The zero value is ready to use.
type Parser struct{}

// New returns a Parser.
func New() *Parser { return &Parser{} }

// ID implements sdk.ReportParser.
func (*Parser) ID() string { return ID }

// Detect implements sdk.ReportParser.
func (*Parser) Detect(head []byte) bool {
	h, ok := csvstream.Sniff(head)
	return ok && (h["nvt oid"] || h["nvt name"])
}

// Parse implements sdk.ReportParser.
func (*Parser) Parse(r io.Reader, lim sdk.Limits, emit func(*sdk.Finding) error) error {
	c := csvstream.Open("OpenVAS CSV", r, lim)
	return c.Err(parse(c, lim, report.NewEmitter("openvas", lim, emit)))
}

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
		f.RuleID = c.Get("nvt oid")
		f.Title = c.Get("nvt name")
		report.Severity(f, c.Get("severity"))
		report.SetCVSS(f, report.Score(c.Get("cvss")), "")
		for _, id := range report.Words(c.Get("cves")) {
			f.AddCVE(id)
		}
		f.Description = report.Join(c.Get("summary"), c.Get("vulnerability insight"), c.Get("impact"), c.Get("affected software/os"))
		f.Solution = c.Get("solution")
		for _, ref := range report.Words(c.Get("other references")) {
			if strings.Contains(ref, "://") {
				f.AddReference(ref)
			}
		}
		if res := c.Get("specific result"); res != "" {
			ev := report.NewEvidence(lim)
			ev.Add("", res, 0)
			f.Evidence = ev.String()
		}
		report.SplitHost(c.Get("ip"), &f.Asset)
		report.SplitHost(c.Get("hostname"), &f.Asset)
		f.Asset.Port = report.Port(c.Get("port"))
		f.Asset.Protocol = strings.ToLower(c.Get("port protocol"))
		f.Time = report.Time(c.Get("timestamp"), "2006-01-02T15:04:05Z07:00", "2006-01-02 15:04:05")
		if err := em.Emit(f); err != nil {
			return err
		}
	}
}
