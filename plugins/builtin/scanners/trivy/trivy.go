// Package trivy is the report parser for Aqua Trivy JSON reports, component
// id "scanner.trivy".
//
// # Dialects
//
//   - Schema 2 (Trivy 0.20+): {"SchemaVersion": 2, "ArtifactName", …,
//     "Results": [{"Target", "Class", "Type", "Vulnerabilities",
//     "Misconfigurations", "Secrets"}]}, for images, file systems,
//     repositories and SBOMs;
//   - the legacy top-level array of results (before 0.20);
//   - Kubernetes reports, whose "Resources" (or top-level "Vulnerabilities"
//     and "Misconfigurations") list resources with their own Results.
//
// Detection: the report (or its first element) has SchemaVersion, Results,
// ArtifactName or ClusterName keys, or Target with Vulnerabilities/Type.
//
// # Findings
//
// One finding per entry of Vulnerabilities (vulnerability × package ×
// target), per failed Misconfigurations entry (Status PASS and EXCEPTION
// are compliance records, not findings) and per Secrets entry.
//
//   - Vulnerability: RuleID VulnerabilityID; Title Title (else the id);
//     Severity from Severity (UNKNOWN stays unknown), kept in SeverityRaw;
//     CVSS V3Score/V3Vector (else V2) from the CVSS source Trivy took the
//     severity from, else NVD, else any; CVEs the id when it is one; CWEs
//     CweIDs; Description; Solution "Upgrade PKG to FIXED" when a fixed
//     version is known; References PrimaryURL and References; Evidence the
//     package path, layer and status; Asset Package PkgName,
//     PackageVersion InstalledVersion, FixedVersion.
//   - Misconfiguration: RuleID ID (AVDID when ID is missing); Title;
//     Severity; Description; Solution Resolution; References; Evidence
//     Message and the cause's resource and lines.
//   - Secret: RuleID; Title; Severity; Evidence the category, lines and
//     Match (Trivy redacts the secret in it).
//   - Asset.Target: the result's Target, prefixed with ArtifactName when
//     the target does not name it, and with namespace/kind/name for
//     Kubernetes resources. Time: CreatedAt.
//
// ArtifactName and CreatedAt must come before Results, as Trivy writes
// them, to be used.
package trivy

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/jsonstream"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/report"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// ID is the component id.
const ID = "scanner.trivy"

// Parser parses Trivy JSON reports. The zero value is ready to use.
type Parser struct{}

// New returns a Parser.
func New() *Parser { return &Parser{} }

// ID implements sdk.ReportParser.
func (*Parser) ID() string { return ID }

// Detect implements sdk.ReportParser.
func (*Parser) Detect(head []byte) bool {
	h, ok := jsonstream.Sniff(head)
	if !ok {
		return false
	}
	if h.Has("SchemaVersion", "ClusterName") || h.Has("ArtifactName") && h.Has("Results", "ArtifactType") {
		return true
	}
	return h.Has("Target") && h.Has("Vulnerabilities", "Type", "Misconfigurations")
}

// Parse implements sdk.ReportParser.
func (*Parser) Parse(r io.Reader, lim sdk.Limits, emit func(*sdk.Finding) error) error {
	d := jsonstream.Open("Trivy", r, lim)
	p := &parser{d: d, em: report.NewEmitter("trivy", lim, emit), lim: d.Limits()}
	return d.Err(p.parse())
}

type parser struct {
	d        *jsonstream.Decoder
	em       *report.Emitter
	lim      sdk.Limits
	artifact string
	created  time.Time
}

func (p *parser) parse() error {
	first, err := p.d.Start()
	if err != nil {
		return err
	}
	results := func() error { return p.result("") }
	switch first {
	case json.Delim('['):
		err = p.d.Array(results)
	default:
		err = p.d.Object(func(key string) error {
			switch key {
			case "ArtifactName":
				return p.str(&p.artifact)
			case "CreatedAt":
				var s string
				if err := p.str(&s); err != nil {
					return err
				}
				p.created = report.Time(s, time.RFC3339Nano)
				return nil
			case "Results":
				return p.d.Array(results)
			case "Resources", "Vulnerabilities", "Misconfigurations":
				return p.d.Array(p.resource)
			}
			return p.d.Skip()
		})
	}
	if err != nil {
		return err
	}
	return p.d.Finish()
}

func (p *parser) str(dst *string) error {
	v, err := p.d.Value()
	if err != nil {
		return err
	}
	*dst = v.Str()
	return nil
}

// resource reads one Kubernetes resource and its results.
func (p *parser) resource() error {
	var ns, kind, name string
	return p.d.Object(func(key string) error {
		switch key {
		case "Namespace":
			return p.str(&ns)
		case "Kind":
			return p.str(&kind)
		case "Name":
			return p.str(&name)
		case "Results":
			res := strings.Trim(ns+"/"+kind+"/"+name, "/")
			return p.d.Array(func() error { return p.result(res) })
		}
		return p.d.Skip()
	})
}

// result reads one entry of Results, streaming its lists.
func (p *parser) result(resource string) error {
	var target string
	targetOf := func() string {
		t := target
		if p.artifact != "" && !strings.Contains(t, p.artifact) {
			t = strings.TrimSuffix(p.artifact+": "+t, ": ")
		}
		if resource != "" {
			t = strings.TrimSuffix(resource+": "+t, ": ")
		}
		return t
	}
	each := func(fn func(*jsonstream.Value, string) error) error {
		return p.d.Array(func() error {
			v, err := p.d.Value()
			if err != nil {
				return err
			}
			if v.Kind != jsonstream.Object {
				return fmt.Errorf("object expected in a Trivy result list")
			}
			return fn(v, targetOf())
		})
	}
	return p.d.Object(func(key string) error {
		switch key {
		case "Target":
			return p.str(&target)
		case "Vulnerabilities":
			return each(p.vuln)
		case "Misconfigurations":
			return each(p.misconf)
		case "Secrets":
			return each(p.secret)
		}
		return p.d.Skip()
	})
}

func (p *parser) vuln(v *jsonstream.Value, target string) error {
	f := p.em.Next()
	id := v.Get("VulnerabilityID").Str()
	f.RuleID = id
	f.Title = v.Get("Title").Str()
	if f.Title == "" {
		f.Title = id
	}
	report.Severity(f, v.Get("Severity").Str())
	setCVSS(f, v.Get("CVSS"), v.Get("SeveritySource").Str())
	f.AddCVE(id)
	for _, c := range v.Get("CweIDs").Strings() {
		f.AddCWE(report.CWE(c))
	}
	f.Description = v.Get("Description").Str()
	pkg, fixed := v.Get("PkgName").Str(), v.Get("FixedVersion").Str()
	if fixed != "" {
		f.Solution = "Upgrade " + pkg + " to " + fixed + "."
	}
	f.AddReference(v.Get("PrimaryURL").Str())
	for _, r := range v.Get("References").Strings() {
		f.AddReference(r)
	}
	ev := report.NewEvidence(p.lim)
	ev.Add("path", v.Get("PkgPath").Str(), 0)
	ev.Add("layer", v.Path("Layer", "DiffID").Str(), 0)
	ev.Add("status", v.Get("Status").Str(), 0)
	f.Evidence = ev.String()
	f.Asset.Package = pkg
	f.Asset.PackageVersion = v.Get("InstalledVersion").Str()
	f.Asset.FixedVersion = fixed
	f.Asset.Target = target
	f.Time = p.created
	return p.em.Emit(f)
}

// setCVSS takes the v3 score of the preferred source, else NVD's, else any
// source's, and only then a v2 score the same way.
func setCVSS(f *sdk.Finding, cvss *jsonstream.Value, preferred string) {
	if cvss == nil || cvss.Kind != jsonstream.Object {
		return
	}
	order := []*jsonstream.Value{cvss.Get(preferred), cvss.Get("nvd")}
	order = append(order, cvss.Vals...)
	for _, ver := range [][2]string{{"V3Score", "V3Vector"}, {"V40Score", "V40Vector"}, {"V2Score", "V2Vector"}} {
		for _, src := range order {
			if s, ok := src.Get(ver[0]).Float(); ok && s > 0 {
				report.SetCVSS(f, s, src.Get(ver[1]).Str())
				return
			}
		}
	}
}

func (p *parser) misconf(v *jsonstream.Value, target string) error {
	switch strings.ToUpper(v.Get("Status").Str()) {
	case "PASS", "EXCEPTION":
		return nil
	}
	f := p.em.Next()
	f.RuleID = v.Get("ID").Str()
	if f.RuleID == "" {
		f.RuleID = v.Get("AVDID").Str()
	}
	f.Title = v.Get("Title").Str()
	report.Severity(f, v.Get("Severity").Str())
	f.Description = v.Get("Description").Str()
	f.Solution = v.Get("Resolution").Str()
	f.AddReference(v.Get("PrimaryURL").Str())
	for _, r := range v.Get("References").Strings() {
		f.AddReference(r)
	}
	cause := v.Get("CauseMetadata")
	ev := report.NewEvidence(p.lim)
	ev.Add("message", v.Get("Message").Str(), 0)
	ev.Add("resource", cause.Get("Resource").Str(), 0)
	ev.Add("lines", lines(cause), 0)
	f.Evidence = ev.String()
	f.Asset.Target = target
	f.Time = p.created
	return p.em.Emit(f)
}

func (p *parser) secret(v *jsonstream.Value, target string) error {
	f := p.em.Next()
	f.RuleID = v.Get("RuleID").Str()
	f.Title = v.Get("Title").Str()
	report.Severity(f, v.Get("Severity").Str())
	ev := report.NewEvidence(p.lim)
	ev.Add("category", v.Get("Category").Str(), 0)
	ev.Add("lines", lines(v), 0)
	m := v.Get("Match")
	ev.Add("match", m.Str(), 0)
	f.Evidence = ev.String()
	f.Asset.Target = target
	f.Time = p.created
	return p.em.Emit(f)
}

// lines formats StartLine/EndLine as "3-7" (or "3").
func lines(v *jsonstream.Value) string {
	start, end := v.Get("StartLine").Str(), v.Get("EndLine").Str()
	switch {
	case start == "" || start == "0":
		return ""
	case end == "" || end == start:
		return start
	}
	return start + "-" + end
}
