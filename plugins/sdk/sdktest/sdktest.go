// Package sdktest is what a parser author's tests import: it runs a Parser
// over a file of records (one per line) or a ReportParser over a report,
// checks the rules every parser must keep, flattens events for exact
// comparison, and compares results with golden files. It only reads files
// and never starts processes; it is meant for tests alone.
package sdktest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/vigil-sec/vigil/plugins/sdk"
)

// Result is the outcome of one record.
type Result struct {
	Line   int            // 1-based line of the record in the file
	Record string         // the record as given to Parse
	Fields map[string]any // the event flattened (see Fields)
	Err    error          // what Parse returned
}

// Matched reports whether the parser took the record as its format.
func (r Result) Matched() bool { return !errors.Is(r.Err, sdk.ErrNotMatched) }

// ParseFile runs p over every non-empty line of path (CR LF or LF ends a
// line) and returns one Result per record. A broken rule (see Check) fails
// the test.
func ParseFile(tb testing.TB, p sdk.Parser, path string) []Result {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var out []Result
	var ev sdk.Event
	line := 0
	for sc.Scan() {
		line++
		rec := bytes.TrimRight(sc.Bytes(), "\r")
		if len(rec) == 0 {
			continue
		}
		ev.Reset()
		err := p.Parse(rec, &ev)
		if cerr := Check(rec, &ev, err); cerr != nil {
			tb.Errorf("%s:%d: %v", path, line, cerr)
		}
		out = append(out, Result{Line: line, Record: string(rec), Fields: Fields(&ev), Err: err})
	}
	if err := sc.Err(); err != nil {
		tb.Fatalf("%s: %v", path, err)
	}
	return out
}

// Check reports a broken rule of sdk.Parser for one call: Original must be
// the record; a record not in the format sets no field and no time; string
// fields are never empty; a time is in UTC.
func Check(raw []byte, ev *sdk.Event, err error) error {
	if ev.Original != string(raw) {
		return fmt.Errorf("event.original = %q, want the record", ev.Original)
	}
	if errors.Is(err, sdk.ErrNotMatched) {
		if len(ev.Fields) != 0 || !ev.Timestamp.IsZero() {
			return fmt.Errorf("not matched, yet %d fields and time %v set", len(ev.Fields), ev.Timestamp)
		}
		return nil
	}
	for _, f := range ev.Fields {
		if f.Key == "" {
			return errors.New("a field has no name")
		}
		if f.Kind == sdk.KindString && f.Str == "" {
			return fmt.Errorf("field %s is empty", f.Key)
		}
	}
	if !ev.Timestamp.IsZero() && ev.Timestamp.Location().String() != "UTC" {
		return fmt.Errorf("@timestamp %v is not in UTC", ev.Timestamp)
	}
	return nil
}

// Fields flattens an event for comparison: field name to value (string,
// int64, float64 or bool), a name set twice becoming a []any in order, and
// "@timestamp" in RFC 3339 when set.
func Fields(ev *sdk.Event) map[string]any {
	m := make(map[string]any, len(ev.Fields)+1)
	if !ev.Timestamp.IsZero() {
		m["@timestamp"] = ev.Timestamp.UTC().Format("2006-01-02T15:04:05.999999999Z07:00")
	}
	for _, f := range ev.Fields {
		v := f.Value()
		switch old := m[f.Key].(type) {
		case nil:
			m[f.Key] = v
		case []any:
			m[f.Key] = append(old, v)
		default:
			m[f.Key] = []any{old, v}
		}
	}
	return m
}

// ParseReport runs p over the report at path with the default limits and
// returns its findings flattened as events (sdk.Finding.ToEvent), in order,
// and the error Parse returned.
func ParseReport(tb testing.TB, p sdk.ReportParser, path string) ([]map[string]any, error) {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []map[string]any
	var ev sdk.Event
	err = p.Parse(bufio.NewReader(f), sdk.Limits{}, func(fd *sdk.Finding) error {
		ev.Reset()
		fd.ToEvent(&ev)
		m := Fields(&ev)
		m["event.original"] = ev.Original
		out = append(out, m)
		return nil
	})
	return out, err
}

// Golden compares got, as indented JSON, with the file at path. With
// update true it writes the file instead (run the test with a flag of your
// own, e.g. -update, after checking the output by hand).
func Golden(tb testing.TB, path string, got any, update bool) {
	tb.Helper()
	b, err := json.MarshalIndent(got, "", "  ")
	if err != nil {
		tb.Fatal(err)
	}
	b = append(b, '\n')
	if update {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			tb.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tb.Fatalf("golden file: %v (write it with update)", err)
	}
	if !bytes.Equal(b, want) {
		tb.Errorf("%s differs from the result:\n--- got\n%s\n--- want\n%s", path, b, want)
	}
}
