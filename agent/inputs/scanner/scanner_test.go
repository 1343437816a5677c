package scanner

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/agent/buffer"
	"github.com/vigil-sec/vigil/protocol/agentpb"
	"google.golang.org/protobuf/proto"
)

const nmapFixture = "../../../plugins/builtin/scanners/testdata/nmap/two_hosts.xml"

// nmapFindings is the number of findings of nmapFixture, from the golden
// file the scanner parsers' tests check it against.
var nmapFindings = func() int {
	b, err := os.ReadFile(nmapFixture + ".golden.json")
	if err != nil {
		panic(err)
	}
	var golden []json.RawMessage
	if err := json.Unmarshal(b, &golden); err != nil {
		panic(err)
	}
	return len(golden)
}()

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func openBuffer(t *testing.T) *buffer.Buffer {
	t.Helper()
	b, err := buffer.Open(buffer.DefaultConfig(t.TempDir()), nil, time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// events reads every queued event.
func events(t *testing.T, b *buffer.Buffer) []*agentpb.Event {
	t.Helper()
	recs, err := b.Read(1, 1<<20, 1<<30, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out []*agentpb.Event
	for _, r := range recs {
		ev := &agentpb.Event{}
		if err := proto.Unmarshal(r.Data, ev); err != nil {
			t.Fatal(err)
		}
		out = append(out, ev)
	}
	return out
}

func field(ev *agentpb.Event, key string) any {
	for _, f := range ev.Fields {
		if f.Key == key {
			switch v := f.Value.(type) {
			case *agentpb.Field_Str:
				return v.Str
			case *agentpb.Field_Int:
				return v.Int
			case *agentpb.Field_Float:
				return v.Float
			}
		}
	}
	return nil
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestImport_OnceAndDuplicate(t *testing.T) {
	b := openBuffer(t)
	var ctr Counters
	im := NewImporter("import", b, &ctr, quiet())
	path := filepath.Join(t.TempDir(), "scan.xml")
	copyFile(t, nmapFixture, path)
	res, err := im.Import(context.Background(), path, "", nil)
	if err != nil || res.Error != "" || res.Parser != "scanner.nmap" || res.Findings != nmapFindings {
		t.Fatalf("import: %+v, %v", res, err)
	}
	evs := events(t, b)
	if len(evs) != nmapFindings+1 {
		t.Fatalf("%d events, want %d findings and the import record", len(evs), nmapFindings)
	}
	for _, ev := range evs[:nmapFindings] {
		if field(ev, "event.kind") != "finding" || field(ev, "file.hash.sha256") != res.SHA256 || ev.Parser != "scanner.nmap" || ev.Input != "import" {
			t.Errorf("finding %v", ev)
		}
	}
	sum := evs[nmapFindings]
	if field(sum, "event.action") != "report-imported" || field(sum, "vigil.import.findings") != int64(nmapFindings) || field(sum, "event.outcome") != "success" {
		t.Errorf("import record %v", sum)
	}
	// The same content under another name: not imported again.
	again := filepath.Join(t.TempDir(), "copy.xml")
	copyFile(t, nmapFixture, again)
	res, err = im.Import(context.Background(), again, "", nil)
	if err != nil || !res.Duplicate || res.Findings != nmapFindings {
		t.Fatalf("second import: %+v, %v", res, err)
	}
	if n := len(events(t, b)); n != nmapFindings+1 {
		t.Errorf("%d events after the duplicate", n)
	}
	if ctr.FilesImported.Load() != 1 || ctr.FilesDuplicate.Load() != 1 || ctr.Findings.Load() != uint64(nmapFindings) {
		t.Errorf("counters %v", ctr.Snapshot())
	}
}

func TestImport_BrokenReportIsExplicitlyPartial(t *testing.T) {
	b := openBuffer(t)
	var ctr Counters
	im := NewImporter("import", b, &ctr, quiet())
	data, _ := os.ReadFile(nmapFixture)
	path := filepath.Join(t.TempDir(), "cut.xml")
	// Cut inside the second host: the first host's findings come before the error.
	if err := os.WriteFile(path, data[:len(data)*3/4], 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := im.Import(context.Background(), path, "", nil)
	if err != nil || !res.Partial || res.Error == "" {
		t.Fatalf("import: %+v, %v", res, err)
	}
	evs := events(t, b)
	if len(evs) != res.Findings+1 {
		t.Fatalf("%d events for %d findings", len(evs), res.Findings)
	}
	last := evs[len(evs)-1]
	if field(last, "event.action") != "report-import-partial" || field(last, "event.outcome") != "failure" || field(last, "error.message") != res.Error {
		t.Errorf("partial-import record %v", last)
	}
	t.Logf("cut report: %d findings, then %s", res.Findings, res.Error)

	notReport := filepath.Join(t.TempDir(), "notes.txt")
	os.WriteFile(notReport, []byte("just some notes\n"), 0o644)
	res, err = im.Import(context.Background(), notReport, "", nil)
	if err != nil || res.Error == "" || res.Findings != 0 {
		t.Fatalf("not a report: %+v, %v", res, err)
	}
	evs = events(t, b)
	if field(evs[len(evs)-1], "event.action") != "report-import-failed" {
		t.Errorf("failure record %v", evs[len(evs)-1])
	}
}

// failingSink fails every append after the first ok ones, as a crash would.
type failingSink struct {
	*buffer.Buffer
	ok int
}

func (s *failingSink) Append(ctx context.Context, recs [][]byte, cps ...buffer.Checkpoint) (uint64, error) {
	if s.ok == 0 {
		return 0, errors.New("agent stopped")
	}
	s.ok--
	return s.Buffer.Append(ctx, recs, cps...)
}

func TestImport_ResumesAfterInterruption(t *testing.T) {
	b := openBuffer(t)
	var ctr Counters
	path := filepath.Join(t.TempDir(), "scan.xml")
	copyFile(t, nmapFixture, path)
	im := NewImporter("import", &failingSink{Buffer: b, ok: 2}, &ctr, quiet())
	im.BatchSize = 1
	if _, err := im.Import(context.Background(), path, "", nil); err == nil {
		t.Fatal("interrupted import reported no error")
	}
	if n := len(events(t, b)); n != 2 {
		t.Fatalf("%d events before the interruption, want 2", n)
	}
	im = NewImporter("import", b, &ctr, quiet())
	res, err := im.Import(context.Background(), path, "", nil)
	if err != nil || res.Findings != nmapFindings {
		t.Fatalf("resumed import: %+v, %v", res, err)
	}
	evs := events(t, b)
	if len(evs) != nmapFindings+1 {
		t.Fatalf("%d events after resuming, want each finding once plus the record", len(evs))
	}
	seen := map[string]bool{}
	for _, ev := range evs[:nmapFindings] {
		if seen[ev.Original] {
			t.Errorf("finding twice: %s", ev.Original)
		}
		seen[ev.Original] = true
	}
}

func TestInput_WatchesDirectory(t *testing.T) {
	b := openBuffer(t)
	dir := t.TempDir()
	in, err := New(Config{ID: "scans", Dir: dir, PollInterval: 50 * time.Millisecond}, b, quiet())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- in.Run(ctx) }()
	defer func() { cancel(); <-done }()
	copyFile(t, nmapFixture, filepath.Join(dir, "a.xml"))
	os.WriteFile(filepath.Join(dir, "junk.bin"), []byte{0, 1, 2}, 0o644)
	waitFile := func(p string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			if _, err := os.Stat(p); err == nil {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s never appeared", p)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFile(filepath.Join(dir, "done", "a.xml"))
	waitFile(filepath.Join(dir, "failed", "junk.bin"))
	// Dropped again: moved to done without a second import.
	copyFile(t, nmapFixture, filepath.Join(dir, "a.xml"))
	deadline := time.Now().Add(10 * time.Second)
	for in.ctr.FilesDuplicate.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the re-dropped report was not seen")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := len(events(t, b)); n != nmapFindings+2 {
		t.Errorf("%d events, want the findings once, the import record and the failure record", n)
	}
	s := in.Snapshot()
	if s["files_imported_total"] != 1 || s["files_failed_total"] != 1 || s["files_duplicate_total"] != 1 || s["findings_total"] != uint64(nmapFindings) {
		t.Errorf("counters %v", s)
	}
}
