package syslog

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// FuzzParse checks that Parse never panics, always keeps the record in
// Original, and that every result satisfies parsertest.Check. Every record of
// testdata/mixed.log is a seed.
func FuzzParse(f *testing.F) {
	data, err := os.ReadFile(filepath.Join("testdata", "mixed.log"))
	if err != nil {
		f.Fatal(err)
	}
	for _, rec := range parsertest.Records(data) {
		f.Add([]byte(rec))
	}
	for _, s := range []string{"", "<", "<1>", "<1>1", "<1>1 ", "<13>1 -", "Jan", "2024-01-01T"} {
		f.Add([]byte(s))
	}
	p := New(Options{Now: func() time.Time { return time.Date(2024, 12, 31, 23, 0, 0, 0, time.UTC) }})
	f.Fuzz(func(t *testing.T, raw []byte) {
		var ev sdk.Event
		err := p.Parse(raw, &ev)
		if cerr := parsertest.Check(raw, &ev, err); cerr != nil {
			t.Fatalf("Parse(%q) = %v: %v", raw, err, cerr)
		}
	})
}
