package parsertest

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/sdk"
)

// Outcomes of one Parse call in a fixtures table (Fixture.Outcome).
const (
	OK         = iota // no error
	NotMatched        // an error wrapping sdk.ErrNotMatched
	Malformed         // any other error
)

// Device holds what the shared checks need to know of one device parser
// (cef, leef, kv, jsonlines, ciscoasa, iptables, sshd, accesslog): the
// parsers whose payload follows an optional syslog header and sets ECS
// fields.
type Device struct {
	// MessageMayUnescape is set when the parser undoes escapes in message:
	// message may then differ from the record where the record holds a
	// backslash (it is still non-empty).
	MessageMayUnescape bool
}

// Check is the package-level Check plus CheckECS, with message exempted
// from the substring rule as MessageMayUnescape says.
func (d Device) Check(raw []byte, ev *sdk.Event, err error) error {
	c := *ev
	c.Fields = nil
	for _, f := range ev.Fields {
		if d.MessageMayUnescape && f.Key == "message" && !strings.Contains(ev.Original, f.Str) && strings.Contains(ev.Original, `\`) {
			continue
		}
		c.Fields = append(c.Fields, f)
	}
	if cerr := Check(raw, &c, err); cerr != nil {
		return cerr
	}
	return CheckECS(ev)
}

// CheckECS checks the typed fields: addresses parse and ports are in range.
func CheckECS(ev *sdk.Event) error {
	for _, f := range ev.Fields {
		switch f.Key {
		case "source.ip", "destination.ip", "observer.ip", "source.nat.ip", "destination.nat.ip":
			if _, err := netip.ParseAddr(f.Str); err != nil || f.Kind != sdk.KindString {
				return fmt.Errorf("%s = %q is not an address", f.Key, f.Str)
			}
		case "source.port", "destination.port", "source.nat.port", "destination.nat.port":
			if f.Kind != sdk.KindInt || f.Int < 0 || f.Int > 65535 {
				return fmt.Errorf("%s = %v", f.Key, f.Value())
			}
		}
	}
	return nil
}

// Fixtures returns the records of testdata/fixtures.log.
func Fixtures(tb testing.TB) []string {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "fixtures.log"))
	if err != nil {
		tb.Fatal(err)
	}
	return Records(data)
}

// Fixture is what Parse must make of one record of testdata/fixtures.log:
// a row of the table Device.CheckFixtures checks.
type Fixture struct {
	Has     string    // a part of the record, guarding the order
	Outcome int       // OK, NotMatched or Malformed
	ErrHas  string    // for Malformed, a part of the error
	TS      time.Time // @timestamp; zero for none
	// Want holds every field (as Fields returns them); nil for none.
	Want map[string]any
	// WantOf, when set, takes the place of Want for fields that quote the
	// record.
	WantOf func(rec string) map[string]any
}

// CheckFixtures parses every record of testdata/fixtures.log with p, in file
// order, and checks it against the Fixture of the same index: the outcome,
// Check, the timestamp and every field.
func (d Device) CheckFixtures(t *testing.T, p sdk.Parser, fixtures []Fixture) {
	t.Helper()
	recs := Fixtures(t)
	if len(fixtures) != len(recs) {
		t.Fatalf("%d cases for %d records", len(fixtures), len(recs))
	}
	for i, tc := range fixtures {
		rec := recs[i]
		if !strings.Contains(rec, tc.Has) {
			t.Fatalf("record %d %q does not contain %q: cases out of order", i+1, rec, tc.Has)
		}
		var ev sdk.Event
		err := p.Parse([]byte(rec), &ev)
		WantOutcome(t, fmt.Sprintf("record %d", i+1), err, tc.Outcome, tc.ErrHas)
		if cerr := d.Check([]byte(rec), &ev, err); cerr != nil {
			t.Errorf("record %d: %v", i+1, cerr)
		}
		if !ev.Timestamp.Equal(tc.TS) {
			t.Errorf("record %d: timestamp %v, want %v", i+1, ev.Timestamp, tc.TS)
		}
		want := tc.Want
		if tc.WantOf != nil {
			want = tc.WantOf(rec)
		} else if want == nil {
			want = map[string]any{}
		}
		if got := Fields(t, &ev); !reflect.DeepEqual(got, want) {
			t.Errorf("record %d fields:\n got %v\nwant %v", i+1, got, want)
		}
	}
}

// CorpusDir returns ../shared/corpus/logs relative to the repository root
// (the directory holding go.mod above the test's working directory),
// skipping the test when it is absent: the repository tests without it.
func CorpusDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("no go.mod above the test directory: corpus test skipped")
		}
		dir = parent
	}
	corpus := filepath.Join(dir, "..", "shared", "corpus", "logs")
	if _, err := os.Stat(corpus); err != nil {
		t.Skipf("corpus %s not present: corpus test skipped", corpus)
	}
	return corpus
}

// CorpusFiles lists the record files of the corpus in dir (MANIFEST.md: 29).
func CorpusFiles(t *testing.T, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ext := filepath.Ext(path); !d.IsDir() && (ext == ".log" || ext == ".raw") {
			rel, _ := filepath.Rel(dir, path)
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 29 {
		t.Fatalf("%d record files in the corpus, want 29 (MANIFEST.md)", len(files))
	}
	return files
}

// CorpusRecords returns the records of one corpus file.
func CorpusRecords(t *testing.T, dir, file string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(file)))
	if err != nil {
		t.Fatal(err)
	}
	return Records(data)
}

// ParseCorpusFile parses every record of a corpus file with p, all of which
// must parse, and returns their fields and timestamps.
func ParseCorpusFile(t *testing.T, p sdk.Parser, file string) ([]map[string]any, []time.Time) {
	t.Helper()
	var ms []map[string]any
	var ts []time.Time
	for i, rec := range CorpusRecords(t, CorpusDir(t), file) {
		var ev sdk.Event
		if err := p.Parse([]byte(rec), &ev); err != nil {
			t.Fatalf("%s record %d: %v", file, i+1, err)
		}
		ms = append(ms, Fields(t, &ev))
		ts = append(ts, ev.Timestamp)
	}
	return ms, ts
}

// MatchedPerFile parses every record of the corpus with p, checking each
// result, and returns how many records of each file parsed without error
// (files with none are left out). A record of the corpus is either parsed
// or not matched: none is reported malformed.
func (d Device) MatchedPerFile(t *testing.T, p sdk.Parser) map[string]int {
	t.Helper()
	dir := CorpusDir(t)
	out := map[string]int{}
	for _, file := range CorpusFiles(t, dir) {
		var ev sdk.Event
		for i, rec := range CorpusRecords(t, dir, file) {
			ev.Reset()
			err := p.Parse([]byte(rec), &ev)
			if cerr := d.Check([]byte(rec), &ev, err); cerr != nil {
				t.Errorf("%s record %d: %v", file, i+1, cerr)
			}
			switch {
			case err == nil:
				out[file]++
			case !IsNotMatched(err):
				t.Errorf("%s record %d: %v", file, i+1, err)
			}
		}
	}
	return out
}

// CheckMatches checks MatchedPerFile against want, the files of the corpus
// whose records p parses and how many of each.
func (d Device) CheckMatches(t *testing.T, p sdk.Parser, want map[string]int) {
	t.Helper()
	if got := d.MatchedPerFile(t, p); !reflect.DeepEqual(got, want) {
		t.Errorf("records parsed per file: %v, want %v", got, want)
	}
}

// Fuzz runs FuzzParse on p as the fuzz target of f, seeded with the records
// of testdata/fixtures.log and then seeds.
func (d Device) Fuzz(f *testing.F, p sdk.Parser, seeds ...string) {
	for _, rec := range Fixtures(f) {
		f.Add([]byte(rec))
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) { d.FuzzParse(t, p, raw) })
}

// FuzzParse is the body of every device parser's FuzzParse: no panic, the
// record kept, nothing set for a record not matched, and the same result
// twice.
func (d Device) FuzzParse(t *testing.T, p sdk.Parser, raw []byte) {
	var ev sdk.Event
	err := p.Parse(raw, &ev)
	if cerr := d.Check(raw, &ev, err); cerr != nil {
		t.Fatalf("Parse(%q) = %v: %v", raw, err, cerr)
	}
	first := append([]sdk.Field(nil), ev.Fields...)
	ts := ev.Timestamp
	ev.Reset()
	err2 := p.Parse(raw, &ev)
	if (err == nil) != (err2 == nil) || !slices.Equal(first, ev.Fields) || !ts.Equal(ev.Timestamp) {
		t.Fatalf("second parse of %q differs: %v vs %v", raw, err, err2)
	}
}

// CheckAllocs fails the test when parsing raw with p, which must succeed,
// costs more than limit allocations; why names what they pay for.
func CheckAllocs(t *testing.T, p sdk.Parser, raw []byte, limit float64, why string) {
	t.Helper()
	var ev sdk.Event
	allocs := testing.AllocsPerRun(100, func() {
		ev.Reset()
		if err := p.Parse(raw, &ev); err != nil {
			t.Fatal(err)
		}
	})
	if allocs > limit {
		t.Errorf("%v allocations per record, want at most %v (%s)", allocs, limit, why)
	}
}

// WantOutcome checks err against a table's expected outcome (OK, NotMatched
// or Malformed with an error containing errHas).
func WantOutcome(t *testing.T, name string, err error, outcome int, errHas string) {
	t.Helper()
	switch outcome {
	case OK:
		if err != nil {
			t.Errorf("%s: unexpected error %v", name, err)
		}
	case NotMatched:
		if !IsNotMatched(err) {
			t.Errorf("%s: error %v, want not matched", name, err)
		}
	case Malformed:
		if err == nil || IsNotMatched(err) || !strings.Contains(err.Error(), errHas) {
			t.Errorf("%s: error %v, want one containing %q", name, err, errHas)
		}
	}
}

// Map returns the map of the key/value pairs kv (a key, then its value).
func Map(kv ...any) map[string]any {
	return With(nil, kv...)
}

// With returns a copy of base with the key/value pairs kv added (a key,
// then its value; a key of base is replaced).
func With(base map[string]any, kv ...any) map[string]any {
	m := make(map[string]any, len(base)+len(kv)/2)
	maps.Copy(m, base)
	for i := 0; i < len(kv); i += 2 {
		m[kv[i].(string)] = kv[i+1]
	}
	return m
}

// Str returns v as a string, "" when it is not one (a field Fields left
// out, or of another kind).
func Str(v any) string {
	s, _ := v.(string)
	return s
}

// Num returns v as an int64, 0 when it is not one.
func Num(v any) int64 {
	n, _ := v.(int64)
	return n
}

// IsNotMatched reports whether err wraps sdk.ErrNotMatched.
func IsNotMatched(err error) bool { return errors.Is(err, sdk.ErrNotMatched) }
