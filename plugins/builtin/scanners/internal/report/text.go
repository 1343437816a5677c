package report

import (
	"encoding/base64"
	"fmt"
	"html"
	"io"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/plugins/sdk"
)

// EvidenceMax bounds a finding's Evidence (and never exceeds
// sdk.Limits.MaxField). Evidence is the one value parsers may cut: request
// and response bodies can be megabytes and only their start helps a human.
const EvidenceMax = 32 << 10

// EvidenceLimit is the evidence bound under lim.
func EvidenceLimit(lim sdk.Limits) int {
	lim = lim.WithDefaults()
	return min(EvidenceMax, lim.MaxField)
}

// Evidence builds a finding's evidence text from labelled parts, keeping at
// most its limit and saying how much was left out.
type Evidence struct {
	max     int
	b       strings.Builder
	dropped int
}

// NewEvidence returns an empty Evidence bounded for lim.
func NewEvidence(lim sdk.Limits) *Evidence {
	return &Evidence{max: EvidenceLimit(lim)}
}

// Add appends "label: text" (or just text when label is empty) on its own
// line. cut is the number of bytes of text already dropped upstream, so that
// the total reported stays true.
func (e *Evidence) Add(label, text string, cut int) {
	text = strings.TrimSpace(text)
	if text == "" && cut == 0 {
		return
	}
	var part string
	switch {
	case label == "":
		part = text
	case strings.Contains(text, "\n"):
		part = label + ":\n" + text
	default:
		part = label + ": " + text
	}
	if e.b.Len() > 0 {
		part = "\n" + part
	}
	e.dropped += cut
	room := e.max - e.b.Len()
	if len(part) <= room {
		e.b.WriteString(part)
		return
	}
	keep := Prefix(part, max(room, 0))
	e.b.WriteString(keep)
	e.dropped += len(part) - len(keep)
}

// String returns the evidence, ending with a note when anything was cut.
func (e *Evidence) String() string {
	if e.dropped == 0 {
		return e.b.String()
	}
	return fmt.Sprintf("%s\n[evidence truncated: %d bytes omitted]", e.b.String(), e.dropped)
}

// Prefix returns the longest prefix of s of at most n bytes that does not
// split a UTF-8 sequence.
func Prefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

var cveRe = regexp.MustCompile(`(?i)\bCVE-\d{4}-\d{4,}\b`)

// CVEsIn calls add for every CVE id written in text.
func CVEsIn(text string, add func(string)) {
	for _, m := range cveRe.FindAllString(text, -1) {
		add(m)
	}
}

// CWE returns the decimal CWE number in s ("CWE-79", "79", "CWE:79",
// "CWE-79: Improper Neutralization...") without leading zeros, or "" when s
// names none (or names CWE-0).
func CWE(s string) string {
	s = strings.TrimSpace(s)
	if len(s) >= 4 && strings.EqualFold(s[:3], "cwe") {
		s = strings.TrimLeft(s[3:], "-: ")
	}
	end := 0
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	s = strings.TrimLeft(s[:end], "0")
	return s
}

// Score parses a CVSS-style score in [0, 10]. It returns 0 for anything else
// ("", "-", "N/A", out of range). A leading number followed by text
// ("5.0 (AV:N/...)") is read.
func Score(s string) float64 {
	s = strings.TrimSpace(s)
	end := 0
	for end < len(s) && (s[end] == '.' || s[end] >= '0' && s[end] <= '9') {
		end++
	}
	f, err := strconv.ParseFloat(s[:end], 64)
	if err != nil || f < 0 || f > 10 {
		return 0
	}
	return f
}

// Int parses a decimal integer, 0 when s is not one.
func Int(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0
	}
	return n
}

// Port parses a TCP/UDP port number, 0 when s is not one in 1..65535.
func Port(s string) int {
	n := Int(s)
	if n < 1 || n > 65535 {
		return 0
	}
	return n
}

// Time parses s with the first layout that fits and returns it in UTC; zero
// when none does. Layouts without a zone read the time as UTC: the scanner's
// zone is unknown and UTC is the only guess that is the same everywhere.
func Time(s string, layouts ...string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}
	}
	for _, l := range layouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC()
		}
	}
	return time.Time{}
}

// Unix parses decimal seconds since the epoch, zero when s is not positive.
func Unix(s string) time.Time {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

// IsIP reports whether s is an IPv4 or IPv6 address.
func IsIP(s string) bool { return net.ParseIP(s) != nil }

// SplitHost fills ip or hostname from s, whichever it is.
func SplitHost(s string, a *sdk.Asset) {
	s = strings.TrimSpace(s)
	if s == "" {
		return
	}
	if IsIP(s) {
		if a.IP == "" {
			a.IP = s
		}
		return
	}
	if a.Hostname == "" {
		a.Hostname = s
	}
}

// FromURL fills the asset's hostname or IP, port and service (the scheme)
// from an absolute URL, keeping what is already set.
func FromURL(raw string, a *sdk.Asset) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.Host == "" {
		return
	}
	SplitHost(u.Hostname(), a)
	if a.Port == 0 {
		a.Port = Port(u.Port())
		if a.Port == 0 {
			switch strings.ToLower(u.Scheme) {
			case "http":
				a.Port = 80
			case "https":
				a.Port = 443
			}
		}
	}
	if a.Service == "" {
		a.Service = strings.ToLower(u.Scheme)
	}
	if a.Protocol == "" && (u.Scheme == "http" || u.Scheme == "https") {
		a.Protocol = "tcp"
	}
}

var (
	tagRe   = regexp.MustCompile(`(?s)<[^>]*>`)
	breakRe = regexp.MustCompile(`(?i)<\s*/?\s*(br|p|li|ul|ol|div|tr|table|h[1-6])\b[^>]*>`)
	hrefRe  = regexp.MustCompile(`(?i)href\s*=\s*["']([^"']+)["']`)
	blankRe = regexp.MustCompile(`[ \t]*\n[ \t\n]*\n[ \t]*`)
)

// PlainText turns the HTML fragments some scanners write into descriptions
// (ZAP, Burp, Qualys) into text: block ends become line breaks, tags go,
// entities are decoded and runs of blank lines collapse.
func PlainText(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return strings.TrimSpace(s)
	}
	s = breakRe.ReplaceAllString(s, "\n")
	s = tagRe.ReplaceAllString(s, "")
	s = html.UnescapeString(s)
	s = blankRe.ReplaceAllString(s, "\n\n")
	return strings.TrimSpace(s)
}

// Links returns the href targets of an HTML fragment.
func Links(s string) []string {
	var out []string
	for _, m := range hrefRe.FindAllStringSubmatch(s, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

// Words splits a list written with blanks, newlines, commas or semicolons.
func Words(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		return r == ' ' || r == '\n' || r == '\r' || r == '\t' || r == ',' || r == ';'
	})
}

// Join joins the non-empty trimmed parts with a blank line between them.
func Join(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if b.Len() > 0 {
			b.WriteString("\n\n")
		}
		b.WriteString(p)
	}
	return b.String()
}

// SetCVSS records a score and vector on f when the score is a CVSS score
// (in (0, 10]) and no better one was set earlier.
func SetCVSS(f *sdk.Finding, score float64, vector string) {
	if !(score > 0 && score <= 10) || f.CVSS > 0 {
		return
	}
	f.CVSS = score
	f.CVSSVector = strings.TrimSpace(vector)
}

// Severity sets f.Severity from the scanner's word and keeps the word;
// "negligible", which ParseSeverity does not know, is read as info.
func Severity(f *sdk.Finding, raw string) {
	raw = strings.TrimSpace(raw)
	f.SeverityRaw = raw
	f.Severity = sdk.ParseSeverity(raw)
	if f.Severity == sdk.SeverityUnknown && strings.EqualFold(raw, "negligible") {
		f.Severity = sdk.SeverityInfo
	}
}

// Base64 decodes at most limit bytes of base64 text (blanks and line breaks
// allowed) and returns them as text, with the number of decoded bytes left
// out (an estimate from the encoded length). Only the part kept is decoded.
// Bytes that are not UTF-8 are replaced, so binary bodies stay printable.
func Base64(s string, limit int) (string, int, error) {
	s = strings.Map(func(r rune) rune {
		if r == ' ' || r == '\n' || r == '\r' || r == '\t' {
			return -1
		}
		return r
	}, s)
	total := base64.StdEncoding.DecodedLen(len(s)) - strings.Count(s, "=")
	dec := base64.NewDecoder(base64.StdEncoding, strings.NewReader(s))
	buf := make([]byte, min(limit, max(total, 0)))
	n, err := io.ReadFull(dec, buf)
	if err != nil && err != io.ErrUnexpectedEOF && err != io.EOF {
		return "", 0, fmt.Errorf("decode base64: %w", err)
	}
	return strings.ToValidUTF8(string(buf[:n]), "\uFFFD"), max(total-n, 0), nil
}

// PURL reads a package URL ("pkg:maven/org.apache/log4j-core@2.13.2?x=y")
// into a package name (namespace and name, "org.apache/log4j-core") and
// version.
func PURL(s string) (name, version string, ok bool) {
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), "pkg:")
	if !ok {
		return "", "", false
	}
	rest, _, _ = strings.Cut(rest, "#")
	rest, _, _ = strings.Cut(rest, "?")
	rest, version, _ = strings.Cut(rest, "@")
	_, name, ok = strings.Cut(rest, "/") // drop the type
	if !ok || name == "" {
		return "", "", false
	}
	if u, err := url.PathUnescape(name); err == nil {
		name = u
	}
	if u, err := url.PathUnescape(version); err == nil {
		version = u
	}
	return name, version, true
}
