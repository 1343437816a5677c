package sdk

import (
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"
)

// Severity is a finding's severity on Vigil's scale, the same five levels for
// every scanner so that dedup and SLA rules need not know the scanner.
type Severity uint8

const (
	SeverityUnknown Severity = iota
	SeverityInfo
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"unknown", "info", "low", "medium", "high", "critical"}

// String returns the lower-case name ("high").
func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return "unknown"
}

// ParseSeverity maps the words scanners use ("Critical", "HIGH", "moderate",
// "informational", "none", "4") onto the scale. Numbers are taken as the
// 0-4 scale Nessus and Nexpose use.
func ParseSeverity(s string) Severity {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical", "crit", "4", "urgent":
		return SeverityCritical
	case "high", "3", "important", "serious":
		return SeverityHigh
	case "medium", "moderate", "2", "med", "warning":
		return SeverityMedium
	case "low", "1", "minor":
		return SeverityLow
	case "info", "information", "informational", "none", "0", "log", "note":
		return SeverityInfo
	}
	return SeverityUnknown
}

// SeverityFromCVSS maps a CVSS v3 base score onto the scale (NVD's bands).
func SeverityFromCVSS(score float64) Severity {
	switch {
	case score >= 9.0:
		return SeverityCritical
	case score >= 7.0:
		return SeverityHigh
	case score >= 4.0:
		return SeverityMedium
	case score > 0:
		return SeverityLow
	}
	return SeverityInfo
}

// Asset identifies what a finding is about. A scanner fills what it knows:
// network scanners the address, port and protocol; web scanners the URL;
// dependency scanners the package.
type Asset struct {
	IP       string
	Hostname string
	Port     int
	Protocol string // transport, lower case: "tcp", "udp"
	Service  string // application protocol or service name: "ssh", "http"
	URL      string
	// Package names a software package, with its version and the version
	// that fixes the finding when known.
	Package        string
	PackageVersion string
	FixedVersion   string
	// Target is what the scanner was pointed at when none of the above fits
	// (a container image, a file system path, a repository).
	Target string
}

// Finding is one vulnerability or exposure a scanner reported on one asset.
type Finding struct {
	Scanner string // scanner name: "nmap", "nessus", "trivy", ...
	RuleID  string // the scanner's own rule, plugin or template id
	Title   string
	// Severity is the normalized level; SeverityRaw keeps the scanner's word.
	Severity    Severity
	SeverityRaw string
	CVSS        float64 // base score, 0 when unknown
	CVSSVector  string
	CVEs        []string // "CVE-2021-44228", upper case, each once
	CWEs        []string // "CWE-79"
	Description string
	Solution    string
	Evidence    string
	References  []string
	Asset       Asset
	// Time is when the scanner found it, zero when the report does not say.
	Time time.Time
}

// Reset clears the finding for reuse.
func (f *Finding) Reset() {
	*f = Finding{CVEs: f.CVEs[:0], CWEs: f.CWEs[:0], References: f.References[:0]}
}

// AddCVE adds a CVE id once, upper-cased; anything not shaped like a CVE id
// is ignored, so parsers can pass scanner text straight in.
func (f *Finding) AddCVE(id string) {
	id = strings.ToUpper(strings.TrimSpace(id))
	if !isCVE(id) {
		return
	}
	for _, c := range f.CVEs {
		if c == id {
			return
		}
	}
	f.CVEs = append(f.CVEs, id)
}

// AddCWE adds a CWE id once, written "CWE-79" whether given as "79" or
// "CWE-79".
func (f *Finding) AddCWE(id string) {
	id = strings.ToUpper(strings.TrimSpace(id))
	id = strings.TrimPrefix(id, "CWE-")
	if id == "" || id == "0" || strings.Trim(id, "0123456789") != "" {
		return
	}
	id = "CWE-" + id
	for _, c := range f.CWEs {
		if c == id {
			return
		}
	}
	f.CWEs = append(f.CWEs, id)
}

// AddReference adds a reference (usually a URL) once.
func (f *Finding) AddReference(ref string) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return
	}
	for _, r := range f.References {
		if r == ref {
			return
		}
	}
	f.References = append(f.References, ref)
}

func isCVE(s string) bool {
	rest, ok := strings.CutPrefix(s, "CVE-")
	if !ok || len(rest) < 9 || rest[4] != '-' {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if i != 4 && (rest[i] < '0' || rest[i] > '9') {
			return false
		}
	}
	return true
}

// Event fields a finding sets (ECS vulnerability.* plus asset fields).
const (
	FieldVulnID          = "vulnerability.id"
	FieldVulnSeverity    = "vulnerability.severity"
	FieldVulnScore       = "vulnerability.score.base"
	FieldVulnVector      = "vulnerability.score.vector"
	FieldVulnScanner     = "vulnerability.scanner.vendor"
	FieldVulnRuleID      = "vulnerability.scanner.rule_id"
	FieldVulnReference   = "vulnerability.reference"
	FieldVulnDescription = "vulnerability.description"
	FieldVulnTitle       = "vulnerability.title"
	FieldVulnCategory    = "vulnerability.classification"
	FieldVulnSolution    = "vulnerability.solution"
	FieldVulnEvidence    = "vulnerability.evidence"
	FieldVulnSeverityRaw = "vulnerability.severity_raw"
	FieldVulnFixed       = "package.fixed_version"
)

// ToEvent fills ev with the finding under ECS names. vulnerability.id holds
// the CVE when there is one (every CVE when there are several, one field
// each), else the scanner's rule id. event.original is left to the caller,
// which knows the report the finding came from.
func (f *Finding) ToEvent(ev *Event) {
	ev.Timestamp = f.Time
	ev.SetStr("event.kind", "finding")
	ev.SetStr("event.category", "vulnerability")
	if len(f.CVEs) > 0 {
		for _, c := range f.CVEs {
			ev.SetStr(FieldVulnID, c)
		}
	} else {
		ev.SetStr(FieldVulnID, f.RuleID)
	}
	ev.SetStr(FieldVulnTitle, f.Title)
	ev.SetStr(FieldVulnSeverity, f.Severity.String())
	ev.SetStr(FieldVulnSeverityRaw, f.SeverityRaw)
	if f.CVSS > 0 {
		ev.SetFloat(FieldVulnScore, f.CVSS)
	}
	ev.SetStr(FieldVulnVector, f.CVSSVector)
	ev.SetStr(FieldVulnScanner, f.Scanner)
	ev.SetStr(FieldVulnRuleID, f.RuleID)
	for _, c := range f.CWEs {
		ev.SetStr(FieldVulnCategory, c)
	}
	ev.SetStr(FieldVulnDescription, f.Description)
	ev.SetStr(FieldVulnSolution, f.Solution)
	ev.SetStr(FieldVulnEvidence, f.Evidence)
	for _, r := range f.References {
		ev.SetStr(FieldVulnReference, r)
	}
	a := &f.Asset
	ev.SetStr("host.ip", a.IP)
	ev.SetStr("host.name", a.Hostname)
	if a.Port > 0 {
		ev.SetInt("destination.port", int64(a.Port))
	}
	ev.SetStr("network.transport", a.Protocol)
	ev.SetStr("network.protocol", a.Service)
	ev.SetStr("url.full", a.URL)
	ev.SetStr("package.name", a.Package)
	ev.SetStr("package.version", a.PackageVersion)
	ev.SetStr(FieldVulnFixed, a.FixedVersion)
	ev.SetStr("vulnerability.target", a.Target)
	if ev.Original == "" {
		ev.Original = f.summary()
	}
}

// summary is a one-line description used as the event's original when the
// caller has nothing better.
func (f *Finding) summary() string {
	var b strings.Builder
	b.WriteString(f.Scanner)
	b.WriteString(" ")
	b.WriteString(f.Severity.String())
	if len(f.CVEs) > 0 {
		b.WriteString(" ")
		b.WriteString(strings.Join(f.CVEs, ","))
	} else if f.RuleID != "" {
		b.WriteString(" ")
		b.WriteString(f.RuleID)
	}
	where := f.Asset.URL
	if where == "" {
		where = f.Asset.IP
		if where == "" {
			where = f.Asset.Hostname
		}
		if f.Asset.Port > 0 {
			where += ":" + strconv.Itoa(f.Asset.Port)
		}
	}
	if where == "" && f.Asset.Package != "" {
		where = f.Asset.Package + "@" + f.Asset.PackageVersion
	}
	if where == "" {
		where = f.Asset.Target
	}
	if where != "" {
		b.WriteString(" ")
		b.WriteString(where)
	}
	if f.Title != "" {
		b.WriteString(": ")
		b.WriteString(f.Title)
	}
	return b.String()
}

// Limits bound what a report parser accepts, so that a hostile or broken
// report cannot exhaust the agent. Zero fields take the defaults.
type Limits struct {
	MaxBytes    int64 // whole report; default 256 MiB
	MaxDepth    int   // XML/JSON nesting; default 64
	MaxFindings int   // findings per report; default 1 000 000
	MaxField    int   // bytes of one text value; default 1 MiB
}

// WithDefaults returns l with zero fields set to the defaults.
func (l Limits) WithDefaults() Limits {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 256 << 20
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 64
	}
	if l.MaxFindings <= 0 {
		l.MaxFindings = 1_000_000
	}
	if l.MaxField <= 0 {
		l.MaxField = 1 << 20
	}
	return l
}

// ErrLimit is wrapped by errors that report a limit was reached.
var ErrLimit = errors.New("report limit exceeded")

// ReportError says where in a report parsing stopped. Offset is the byte
// offset into the report; Line is 1-based when the parser tracks lines, else
// 0. The caller adds the file name.
type ReportError struct {
	Offset int64
	Line   int
	Err    error
}

func (e *ReportError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("line %d (byte %d): %v", e.Line, e.Offset, e.Err)
	}
	return fmt.Sprintf("byte %d: %v", e.Offset, e.Err)
}

func (e *ReportError) Unwrap() error { return e.Err }

// ReportParser reads a whole scanner report and emits its findings in the
// order the report holds them.
//
// Parse must stream (never read the whole report into memory), honour limits,
// and return a *ReportError for malformed input. Findings already passed to
// emit stay emitted; the caller decides whether a report that failed part way
// is imported whole, or not at all, or as an explicit partial import. emit
// must not retain f after it returns; an error from emit stops the parse and
// is returned as is.
type ReportParser interface {
	// ID is the dotted component id, for example "scanner.nmap".
	ID() string
	// Detect reports whether head, the first bytes of a report (up to
	// 64 KiB, possibly fewer), looks like this parser's format.
	Detect(head []byte) bool
	Parse(r io.Reader, limits Limits, emit func(f *Finding) error) error
}
