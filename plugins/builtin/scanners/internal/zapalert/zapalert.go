// Package zapalert maps one OWASP ZAP alert instance onto a finding. The ZAP
// XML and JSON parsers read different syntax but ZAP's alert model is the
// same in both, so the mapping lives here once.
package zapalert

import (
	"strings"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/report"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// Alert is the alert-level (site × plugin) part of a ZAP alert.
type Alert struct {
	PluginID   string
	Name       string
	RiskCode   string // "0".."3"
	Risk       string // "High", "Low (Medium)", "Informational", …
	Confidence string
	Desc       string // may hold HTML
	Solution   string // may hold HTML
	OtherInfo  string
	Reference  string // URLs, in <p> elements, on lines, or run together
	CWE        string
	Site       string // the site URL, used when an instance has no URI
	Time       time.Time
}

// Instance is one place (URI, parameter) an alert was raised.
type Instance struct {
	URI       string
	Method    string
	Param     string
	Attack    string
	Evidence  string
	OtherInfo string
	Cut       int // evidence bytes already dropped
}

var riskWords = [...]sdk.Severity{sdk.SeverityInfo, sdk.SeverityLow, sdk.SeverityMedium, sdk.SeverityHigh}

// Emit emits the finding for one instance of a.
func Emit(em *report.Emitter, lim sdk.Limits, a *Alert, in Instance) error {
	f := em.Next()
	f.RuleID = a.PluginID
	f.Title = a.Name
	word, _, _ := strings.Cut(a.Risk, " (")
	switch code := report.Int(a.RiskCode); {
	case a.RiskCode != "" && code >= 0 && code < len(riskWords):
		f.Severity = riskWords[code]
		f.SeverityRaw = word
		if f.SeverityRaw == "" {
			f.SeverityRaw = a.RiskCode
		}
	default:
		report.Severity(f, word)
	}
	f.AddCWE(report.CWE(a.CWE))
	f.Description = report.PlainText(a.Desc)
	f.Solution = report.PlainText(a.Solution)
	for _, u := range URLs(report.PlainText(a.Reference)) {
		f.AddReference(u)
	}
	ev := report.NewEvidence(lim)
	ev.Add("method", in.Method, 0)
	ev.Add("param", in.Param, 0)
	ev.Add("attack", in.Attack, 0)
	ev.Add("evidence", in.Evidence, in.Cut)
	other := in.OtherInfo
	if other == "" {
		other = a.OtherInfo
	}
	ev.Add("other info", report.PlainText(other), 0)
	ev.Add("confidence", confidence(a.Confidence), 0)
	f.Evidence = ev.String()
	f.Asset.URL = in.URI
	if f.Asset.URL == "" {
		f.Asset.URL = a.Site
	}
	report.FromURL(f.Asset.URL, &f.Asset)
	f.Time = a.Time
	return em.Emit(f)
}

// confidenceWords names ZAP's confidence codes.
var confidenceWords = [...]string{"False Positive", "Low", "Medium", "High", "Confirmed"}

// confidence returns the word for a confidence code; words pass through.
func confidence(c string) string {
	if n := report.Int(c); len(c) == 1 && c[0] >= '0' && c[0] <= '4' {
		return confidenceWords[n]
	}
	return c
}

// URLs splits text into the URLs it holds, including URLs written back to
// back with no separator (ZAP drops the <p> between references).
func URLs(text string) []string {
	var out []string
	for _, w := range strings.Fields(text) {
		for w != "" {
			start := strings.Index(w, "http")
			if start < 0 {
				break
			}
			w = w[start:]
			if !strings.HasPrefix(w, "http://") && !strings.HasPrefix(w, "https://") {
				w = w[4:]
				continue
			}
			head := len("http://")
			if strings.HasPrefix(w, "https://") {
				head++
			}
			next := len(w)
			for _, p := range []string{"http://", "https://"} {
				if i := strings.Index(w[head:], p); i >= 0 && head+i < next {
					next = head + i
				}
			}
			out = append(out, w[:next])
			w = w[next:]
		}
	}
	return out
}
