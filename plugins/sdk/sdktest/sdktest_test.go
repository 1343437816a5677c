package sdktest_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-sec/vigil/plugins/sdk"
	"github.com/vigil-sec/vigil/plugins/sdk/sdktest"
)

// kv is a parser as an author would write it: key=value pairs.
type kv struct{ breakRules bool }

func (kv) ID() string { return "parser.example_kv" }

func (p kv) Parse(raw []byte, ev *sdk.Event) error {
	ev.Original = string(raw)
	if !strings.Contains(string(raw), "=") {
		if p.breakRules {
			ev.SetStr("oops", "set on a record not in the format")
		}
		return sdk.ErrNotMatched
	}
	for _, pair := range strings.Fields(string(raw)) {
		k, v, _ := strings.Cut(pair, "=")
		ev.SetStr(k, v)
	}
	return nil
}

func TestParseFile_AndGolden(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "records.log")
	os.WriteFile(in, []byte("user=alice action=login\r\n\nno pairs here\nuser=bob user=eve\n"), 0o644)
	res := sdktest.ParseFile(t, kv{}, in)
	if len(res) != 3 || res[0].Line != 1 || res[1].Line != 3 || res[2].Line != 4 {
		t.Fatalf("results %+v", res)
	}
	if res[1].Matched() || !res[0].Matched() {
		t.Errorf("matched: %v %v", res[0].Matched(), res[1].Matched())
	}
	if got := res[2].Fields["user"]; len(got.([]any)) != 2 {
		t.Errorf("user set twice = %v, want both values", got)
	}
	golden := filepath.Join(dir, "records.golden.json")
	sdktest.Golden(t, golden, res[0].Fields, true)
	sdktest.Golden(t, golden, res[0].Fields, false)
	var inner testing.T
	sdktest.Golden(&inner, golden, res[2].Fields, false)
	if !inner.Failed() {
		t.Error("Golden accepted a different result")
	}
}

func TestCheck_CatchesBrokenRules(t *testing.T) {
	var ev sdk.Event
	err := kv{breakRules: true}.Parse([]byte("no pairs"), &ev)
	if sdktest.Check([]byte("no pairs"), &ev, err) == nil {
		t.Error("a not-matched record with a field passed Check")
	}
	ev.Reset()
	ev.Original = "something else"
	if sdktest.Check([]byte("a=b"), &ev, nil) == nil {
		t.Error("a wrong original passed Check")
	}
}
