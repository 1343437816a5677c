package kv

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

type i64 = int64

// Outcomes of one Parse call in the tables.
const (
	ok = iota
	notMatched
	malformed
)

// check is parsertest.Check plus checkECS. Where messageMayUnescape is
// set, message may differ from the record if the record holds a backslash
// (the parser undid an escape); it is then still non-empty.
func check(raw []byte, ev *sdk.Event, err error) error {
	c := *ev
	c.Fields = nil
	for _, f := range ev.Fields {
		if messageMayUnescape && f.Key == "message" && !strings.Contains(ev.Original, f.Str) && strings.Contains(ev.Original, `\`) {
			continue
		}
		c.Fields = append(c.Fields, f)
	}
	if cerr := parsertest.Check(raw, &c, err); cerr != nil {
		return cerr
	}
	return checkECS(ev)
}

// checkECS checks the typed fields: addresses parse and ports are in range.
func checkECS(ev *sdk.Event) error {
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

func equalFields(a, b []sdk.Field) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// fixtures returns the records of testdata/fixtures.log.
func fixtures(tb testing.TB) []string {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "fixtures.log"))
	if err != nil {
		tb.Fatal(err)
	}
	return parsertest.Records(data)
}

// corpusDir returns ../shared/corpus/logs relative to the repository root
// (the directory holding go.mod above the test's working directory),
// skipping the test when it is absent: the repository tests without it.
func corpusDir(t *testing.T) string {
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

// corpusFiles lists the record files of the corpus (MANIFEST.md: 29).
func corpusFiles(t *testing.T, dir string) []string {
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

// corpusRecords returns the records of one corpus file.
func corpusRecords(t *testing.T, dir, file string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(file)))
	if err != nil {
		t.Fatal(err)
	}
	return parsertest.Records(data)
}

// matchedPerFile parses every record of the corpus with p, checking each
// result, and returns how many records of each file parsed without error
// (files with none are left out). A record of the corpus is either parsed
// or not matched: none is reported malformed.
func matchedPerFile(t *testing.T, p sdk.Parser) map[string]int {
	t.Helper()
	dir := corpusDir(t)
	out := map[string]int{}
	for _, file := range corpusFiles(t, dir) {
		var ev sdk.Event
		for i, rec := range corpusRecords(t, dir, file) {
			ev.Reset()
			err := p.Parse([]byte(rec), &ev)
			if cerr := check([]byte(rec), &ev, err); cerr != nil {
				t.Errorf("%s record %d: %v", file, i+1, cerr)
			}
			switch {
			case err == nil:
				out[file]++
			case !isNotMatched(err):
				t.Errorf("%s record %d: %v", file, i+1, err)
			}
		}
	}
	return out
}

// fuzzParse is the body of every FuzzParse: no panic, the record kept,
// nothing set for a record not matched, and the same result twice.
func fuzzParse(t *testing.T, p sdk.Parser, raw []byte) {
	var ev sdk.Event
	err := p.Parse(raw, &ev)
	if cerr := check(raw, &ev, err); cerr != nil {
		t.Fatalf("Parse(%q) = %v: %v", raw, err, cerr)
	}
	first := append([]sdk.Field(nil), ev.Fields...)
	ts := ev.Timestamp
	ev.Reset()
	err2 := p.Parse(raw, &ev)
	if (err == nil) != (err2 == nil) || !equalFields(first, ev.Fields) || !ts.Equal(ev.Timestamp) {
		t.Fatalf("second parse of %q differs: %v vs %v", raw, err, err2)
	}
}

// wantOutcome checks err against a table's expected outcome.
func wantOutcome(t *testing.T, name string, err error, outcome int, errHas string) {
	t.Helper()
	switch outcome {
	case ok:
		if err != nil {
			t.Errorf("%s: unexpected error %v", name, err)
		}
	case notMatched:
		if !isNotMatched(err) {
			t.Errorf("%s: error %v, want not matched", name, err)
		}
	case malformed:
		if err == nil || isNotMatched(err) || !strings.Contains(err.Error(), errHas) {
			t.Errorf("%s: error %v, want one containing %q", name, err, errHas)
		}
	}
}

func isNotMatched(err error) bool { return errors.Is(err, sdk.ErrNotMatched) }
