package rfc5424

import (
	"testing"

	"github.com/vigil-sec/vigil/plugins/builtin/internal/parsertest"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// FuzzParse checks that Parse never panics, always keeps the record in
// Original, and that a successful parse satisfies parsertest.Check. Parsing
// the same record twice into a reset event gives the same fields.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - \xEF\xBB\xBF'su root' failed for lonvick on /dev/pts/8",
		"<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
		`<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"][examplePriority@32473 class="high"]`,
		`<86>1 2024-02-29T23:59:59.999999999+05:30 web01 nginx worker-3 ACCESS [req@1 path="/a\"b\\c\]d" raw="x\ny"] GET /`,
		"<0>1 - - - - - -",
		"<191>1 - - - - - - x",
		"<192>1 - - - - - - x",
		`<13>1 - host app - - [a@1 k="v`,
		`<13>1 - host app - - [a@1 k="v\`,
		"<13>1 2024-01-12T10:00:01+0",
		"<13>1 2024-01-12T10:00:01.",
		"<13>1 ",
		"<1",
		"",
	} {
		f.Add([]byte(s))
	}
	p := New()
	f.Fuzz(func(t *testing.T, raw []byte) {
		var ev sdk.Event
		err := p.Parse(raw, &ev)
		if cerr := parsertest.Check(raw, &ev, err); cerr != nil {
			t.Fatalf("Parse(%q) = %v: %v", raw, err, cerr)
		}
		first := append([]sdk.Field(nil), ev.Fields...)
		ev.Reset()
		err2 := p.Parse(raw, &ev)
		if (err == nil) != (err2 == nil) || len(first) != len(ev.Fields) {
			t.Fatalf("second parse of %q differs: %v vs %v", raw, err, err2)
		}
		for i := range first {
			if first[i] != ev.Fields[i] {
				t.Fatalf("second parse of %q differs at field %d: %v vs %v", raw, i, first[i], ev.Fields[i])
			}
		}
	})
}
