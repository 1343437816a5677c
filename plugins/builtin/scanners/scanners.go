// Package scanners lists the built-in scanner-report parsers and picks the
// one that fits a report.
//
// Each format lives in its own package under this one (nmap, nessus,
// nessuscsv, openvas, openvascsv, nuclei, trivy, zap, zapjson, grype,
// cyclonedx, qualys, burp, nexpose, nikto, dependencycheck); their package
// comments document the dialects accepted and how report elements map onto
// sdk.Finding, and docs/scanners.md collects them. The parsers share the
// streaming and limit-enforcing readers in internal/.
package scanners

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"github.com/vigil-sec/vigil/plugins/builtin/scanners/burp"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/cyclonedx"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/dependencycheck"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/grype"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/nessus"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/nessuscsv"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/nexpose"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/nikto"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/nmap"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/nuclei"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/openvas"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/openvascsv"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/qualys"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/trivy"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/zap"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners/zapjson"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// HeadSize is how much of a report Detect is meant to see.
const HeadSize = 64 << 10

// IDPrefix starts every scanner parser's component id.
const IDPrefix = "scanner."

// parsers is the detection order. The XML formats come first; each is keyed
// on its own document element, so they cannot overlap, and the three that
// also read JSON (Dependency-Check, CycloneDX, Nikto) check for their own
// JSON markers there too. Then the two CSV exports, then JSON from the most
// specific marker to the most general: Trivy names itself (SchemaVersion),
// Grype and ZAP are known by their top-level keys, and Nuclei results are
// plain objects with a template id, so they go last. Every fixture and
// corpus file is accepted by exactly one parser (TestDetect_Unambiguous);
// the order guards reports that might look like two. Built once and never
// changed.
var parsers = []sdk.ReportParser{
	nmap.New(),
	nessus.New(),
	openvas.New(),
	zap.New(),
	qualys.New(),
	burp.New(),
	nexpose.New(),
	dependencycheck.New(),
	cyclonedx.New(),
	nikto.New(),
	openvascsv.New(),
	nessuscsv.New(),
	trivy.New(),
	grype.New(),
	zapjson.New(),
	nuclei.New(),
}

// All returns every built-in scanner parser, in detection order. The slice
// is the caller's.
func All() []sdk.ReportParser {
	return append([]sdk.ReportParser(nil), parsers...)
}

// ByID returns the parser with component id id; the "scanner." prefix may
// be left out ("nmap" or "scanner.nmap").
func ByID(id string) (sdk.ReportParser, bool) {
	id = strings.ToLower(strings.TrimSpace(id))
	if !strings.HasPrefix(id, IDPrefix) {
		id = IDPrefix + id
	}
	for _, p := range parsers {
		if p.ID() == id {
			return p, true
		}
	}
	return nil, false
}

// ErrUnknownFormat is wrapped by Detect's error when no parser accepts a
// report.
var ErrUnknownFormat = errors.New("unknown scanner report format")

// Detect returns the parser for a report given its first bytes (up to
// HeadSize): the first, in detection order, whose Detect accepts them.
func Detect(head []byte) (sdk.ReportParser, error) {
	if len(bytes.TrimSpace(head)) == 0 {
		return nil, fmt.Errorf("empty report: %w (known formats: %s)", ErrUnknownFormat, known())
	}
	if len(head) > HeadSize {
		head = head[:HeadSize]
	}
	for _, p := range parsers {
		if p.Detect(head) {
			return p, nil
		}
	}
	return nil, fmt.Errorf("%w: none of %s accepts it; name the format explicitly", ErrUnknownFormat, known())
}

func known() string {
	ids := make([]string, len(parsers))
	for i, p := range parsers {
		ids[i] = strings.TrimPrefix(p.ID(), IDPrefix)
	}
	return strings.Join(ids, ", ")
}
