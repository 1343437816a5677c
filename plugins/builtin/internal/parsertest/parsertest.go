// Package parsertest holds test helpers shared by the built-in parsers:
// flattening an event's fields for exact comparison, the invariants every
// parse result must satisfy (used by the fuzz targets and corpus tests), and
// record splitting by the corpus rules; for the device parsers (Device), the
// typed-field checks, the fixtures table, the corpus walk, the fuzz body and
// the allocation bound. It is imported only from tests.
package parsertest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/sdk"
)

// Fields returns ev's fields as key → value (string or int64). A key set
// twice fails the test: exact comparisons must see every field.
func Fields(tb testing.TB, ev *sdk.Event) map[string]any {
	tb.Helper()
	m := make(map[string]any, len(ev.Fields))
	for _, f := range ev.Fields {
		if _, dup := m[f.Key]; dup {
			tb.Errorf("field %q set twice", f.Key)
		}
		m[f.Key] = f.Value()
	}
	return m
}

// Check verifies the invariants of one Parse call on raw that returned err:
//
//   - ev.Original is raw, whatever the outcome;
//   - a not-matched record sets no field and no timestamp;
//   - every string field is non-empty, and message is a substring of the
//     record (nothing invented);
//   - priority, facility and severity are set together, in range, and
//     consistent (priority = facility*8 + severity);
//   - process.pid is non-negative; host.name has no blank;
//   - a non-zero timestamp is in UTC.
func Check(raw []byte, ev *sdk.Event, err error) error {
	if ev.Original != string(raw) {
		return fmt.Errorf("original = %q, want %q", ev.Original, raw)
	}
	if errors.Is(err, sdk.ErrNotMatched) {
		if len(ev.Fields) != 0 || !ev.Timestamp.IsZero() {
			return fmt.Errorf("not matched but fields %v, timestamp %v set", ev.Fields, ev.Timestamp)
		}
		return nil
	}
	var pri, fac, sev int64 = -1, -1, -1
	seen := make(map[string]bool, len(ev.Fields))
	for _, f := range ev.Fields {
		if seen[f.Key] && !strings.HasPrefix(f.Key, "log.syslog.structured_data.") {
			return fmt.Errorf("field %q set twice", f.Key)
		}
		seen[f.Key] = true
		if f.Kind == sdk.KindString && f.Str == "" {
			return fmt.Errorf("field %q is empty", f.Key)
		}
		switch f.Key {
		case "log.syslog.priority":
			pri = f.Int
		case "log.syslog.facility.code":
			fac = f.Int
		case "log.syslog.severity.code":
			sev = f.Int
		case "process.pid":
			if f.Kind != sdk.KindInt || f.Int < 0 {
				return fmt.Errorf("process.pid = %v", f.Value())
			}
		case "host.name":
			if strings.ContainsAny(f.Str, " \t") {
				return fmt.Errorf("host.name %q has a blank", f.Str)
			}
		case "message":
			if !strings.Contains(ev.Original, f.Str) {
				return fmt.Errorf("message %q is not part of the record", f.Str)
			}
		}
	}
	if (pri < 0) != (fac < 0) || (pri < 0) != (sev < 0) {
		return fmt.Errorf("priority %d, facility %d, severity %d not set together", pri, fac, sev)
	}
	if pri >= 0 && (pri > 191 || fac > 23 || sev > 7 || pri != fac*8+sev) {
		return fmt.Errorf("priority %d, facility %d, severity %d inconsistent", pri, fac, sev)
	}
	if !ev.Timestamp.IsZero() && ev.Timestamp.Location() != time.UTC {
		return fmt.Errorf("timestamp %v not in UTC", ev.Timestamp)
	}
	return nil
}

// Records splits data into records by the corpus rules: LF and CRLF end a
// record, empty records are skipped, a last line without newline counts.
func Records(data []byte) []string {
	var out []string
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		line = bytes.TrimSuffix(line, []byte("\r"))
		if len(line) > 0 {
			out = append(out, string(line))
		}
	}
	return out
}
