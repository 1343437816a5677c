package file

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/vigil-sec/vigil/agent/buffer"
	"github.com/vigil-sec/vigil/protocol/agentpb"
)

// --- helpers ---

func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

func openBuffer(t testing.TB, cfg buffer.Config) *buffer.Buffer {
	t.Helper()
	if cfg.Dir == "" {
		cfg.Dir = t.TempDir()
	}
	b, err := buffer.Open(cfg, testLog(t), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// fastConfig is a config with short intervals for tests.
func fastConfig(id string, paths ...string) Config {
	return Config{
		ID:                id,
		Paths:             paths,
		PollInterval:      5 * time.Millisecond,
		ScanInterval:      20 * time.Millisecond,
		CloseRotatedAfter: 100 * time.Millisecond,
	}
}

type running struct {
	in     *Input
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// start runs an input until stop (or the end of the test).
func start(t *testing.T, cfg Config, sink *buffer.Buffer) *running {
	t.Helper()
	in, err := New(cfg, sink, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{in: in, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- in.Run(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	return r
}

func (r *running) stop(t *testing.T) {
	t.Helper()
	r.once.Do(func() {
		r.cancel()
		select {
		case err := <-r.done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("input did not stop within 5s")
		}
	})
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func events(t testing.TB, b *buffer.Buffer) []*agentpb.Event {
	t.Helper()
	recs, err := b.Read(1, 1<<30, 1<<30, nil)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*agentpb.Event, len(recs))
	for i, r := range recs {
		out[i] = &agentpb.Event{}
		if err := proto.Unmarshal(r.Data, out[i]); err != nil {
			t.Fatalf("record %d: %v", r.Seq, err)
		}
	}
	return out
}

func originals(evs []*agentpb.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.GetOriginal()
	}
	return out
}

// waitEvents waits until the buffer holds at least n events.
func waitEvents(t *testing.T, b *buffer.Buffer, n int) {
	t.Helper()
	waitFor(t, fmt.Sprintf("%d events", n), func() bool { return b.LastSeq() >= uint64(n) })
}

func appendFile(t testing.TB, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
}

func lines(prefix string, from, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%04d", prefix, from+i)
	}
	return out
}

func text(ls []string) string {
	if len(ls) == 0 {
		return ""
	}
	return strings.Join(ls, "\n") + "\n"
}

// withPrefix keeps the strings starting with prefix, in order.
func withPrefix(ss []string, prefix string) []string {
	var out []string
	for _, s := range ss {
		if strings.HasPrefix(s, prefix) {
			out = append(out, s)
		}
	}
	return out
}

func equal(t *testing.T, what string, got, want []string) {
	t.Helper()
	if slices.Equal(got, want) {
		return
	}
	t.Errorf("%s: got %d lines, want %d", what, len(got), len(want))
	for i := range max(len(got), len(want)) {
		var g, w string
		if i < len(got) {
			g = got[i]
		}
		if i < len(want) {
			w = want[i]
		}
		if g != w {
			t.Fatalf("%s: first difference at %d: got %q, want %q", what, i, g, w)
		}
	}
}

func fileCheckpoint(t *testing.T, b *buffer.Buffer, id, path string) (checkpoint, bool) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	key, err := identityOf(fi)
	if err != nil {
		t.Fatal(err)
	}
	v, ok, err := b.Checkpoint(fmt.Sprintf("file:%s:%d:%d", id, key.dev, key.ino))
	if err != nil || !ok {
		return checkpoint{}, false
	}
	c, err := decodeCheckpoint(v)
	if err != nil {
		t.Fatalf("checkpoint of %s: %v", path, err)
	}
	return c, true
}

// --- tests ---

func TestNew_Validates(t *testing.T) {
	b := openBuffer(t, buffer.Config{})
	for name, cfg := range map[string]Config{
		"no id":      {Paths: []string{"/x"}},
		"no paths":   {ID: "f"},
		"bad glob":   {ID: "f", Paths: []string{"/x/["}},
		"bad excl":   {ID: "f", Paths: []string{"/x"}, Exclude: []string{"["}},
		"bad parser": {ID: "f", Paths: []string{"/x"}, Parser: "nope"},
		"bad start":  {ID: "f", Paths: []string{"/x"}, StartAt: "middle"},
	} {
		if _, err := New(cfg, b, nil); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
	in, err := New(Config{ID: "f", Paths: []string{"/x"}}, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := in.cfg
	if c.Parser != "syslog" || c.StartAt != StartBeginning || c.PollInterval != 250*time.Millisecond ||
		c.ScanInterval != time.Second || c.BatchSize != 512 || c.MaxOpenFiles != 256 || c.MaxLine <= 0 {
		t.Fatalf("defaults not applied: %+v", c)
	}
}

func TestTail_Basic(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, text(lines("l", 0, 100)))
	b := openBuffer(t, buffer.Config{})
	r := start(t, fastConfig("files", path), b) // default parser "syslog"
	for round := 1; round < 4; round++ {
		for i := 0; i < 10; i++ {
			appendFile(t, path, text(lines("l", round*100+i*10, 10)))
		}
		time.Sleep(10 * time.Millisecond)
	}
	waitEvents(t, b, 400)
	r.stop(t)
	evs := events(t, b)
	equal(t, "events", originals(evs), lines("l", 0, 400))
	for _, e := range evs {
		if e.GetInput() != "files" {
			t.Fatalf("event input %q, want files", e.GetInput())
		}
	}
	if n := r.in.Counters().Records.Load(); n != 400 {
		t.Errorf("records_total %d, want 400", n)
	}
	fi, _ := os.Stat(path)
	if c, ok := fileCheckpoint(t, b, "files", path); !ok || c.Offset != fi.Size() || c.Path != path || c.FPLen != fingerprintMax {
		t.Errorf("checkpoint %+v (found %v), want offset %d", c, ok, fi.Size())
	}
}

func TestTail_Restart(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, text(lines("l", 0, 3000)))
	b := openBuffer(t, buffer.Config{})
	cfg := fastConfig("files", path)
	cfg.BatchSize = 10
	r := start(t, cfg, b)
	waitEvents(t, b, 200)
	r.stop(t)
	stoppedAt := int(b.LastSeq())
	if stoppedAt >= 3000 {
		t.Fatalf("input read all %d lines before the stop; the test proves nothing", stoppedAt)
	}
	appendFile(t, path, text(lines("l", 3000, 500)))
	r = start(t, cfg, b)
	waitEvents(t, b, 3500)
	r.stop(t)
	equal(t, "events", originals(events(t, b)), lines("l", 0, 3500))
	t.Logf("first run stopped after %d lines", stoppedAt)
}

func TestTail_PartialCRLFAndEmptyLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, "first\r\n\n\npar")
	b := openBuffer(t, buffer.Config{})
	cfg := fastConfig("files", path)
	cfg.Parser = "raw"
	r := start(t, cfg, b)
	waitEvents(t, b, 1)
	// The unfinished line is not emitted; its bytes are not checkpointed.
	c, _ := fileCheckpoint(t, b, "files", path)
	if c.Offset != int64(len("first\r\n\n\n")) {
		t.Fatalf("checkpoint offset %d before the partial line, want %d", c.Offset, len("first\r\n\n\n"))
	}
	time.Sleep(30 * time.Millisecond) // several polls
	if n := b.LastSeq(); n != 1 {
		t.Fatalf("%d events before the partial line ended, want 1", n)
	}
	appendFile(t, path, "tial\r\r\n\r\n\nlast\r\n\n")
	waitEvents(t, b, 3)
	waitFor(t, "checkpoint at the end", func() bool {
		c, _ := fileCheckpoint(t, b, "files", path)
		fi, _ := os.Stat(path)
		return c.Offset == fi.Size()
	})
	r.stop(t)
	equal(t, "events", originals(events(t, b)), []string{"first", "partial", "last"})
}

func TestTail_LongLines(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	const maxLine = 100
	b := openBuffer(t, buffer.Config{})
	cfg := fastConfig("files", path)
	cfg.Parser = "raw"
	cfg.MaxLine = maxLine
	appendFile(t, path, strings.Repeat("x", 1000)+"\nafter\n"+strings.Repeat("z", maxLine)+"\r\n")
	r := start(t, cfg, b)
	waitEvents(t, b, 3)
	// A line far longer than the 64 KiB read buffer, written across polls.
	appendFile(t, path, strings.Repeat("y", 100_000))
	time.Sleep(20 * time.Millisecond)
	appendFile(t, path, strings.Repeat("y", 100_000)+"\r\nend\n")
	waitEvents(t, b, 5)
	r.stop(t)
	evs := events(t, b)
	want := []string{strings.Repeat("x", maxLine), "after", strings.Repeat("z", maxLine), strings.Repeat("y", maxLine), "end"}
	equal(t, "events", originals(evs), want)
	for i, trunc := range []bool{true, false, false, true, false} {
		if got := slices.Contains(evs[i].GetTags(), "truncated"); got != trunc {
			t.Errorf("event %d tags %v, truncated want %v", i, evs[i].GetTags(), trunc)
		}
	}
	if n := r.in.Counters().Truncated.Load(); n != 2 {
		t.Errorf("truncated_total %d, want 2", n)
	}
}

func TestTail_RenameRotation(t *testing.T) {
	for _, tc := range []struct {
		name    string
		glob    string // relative to dir
		rotated string
	}{
		{"renamed out of the glob", "app.log", "app.log.1"},
		{"renamed within the glob", "app.log*", "app.log.1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "app.log")
			b := openBuffer(t, buffer.Config{})
			cfg := fastConfig("files", filepath.Join(dir, tc.glob))
			cfg.Parser = "raw"
			cfg.BatchSize = 50
			r := start(t, cfg, b)

			old, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			defer old.Close()
			for i := 0; i < 10; i++ {
				old.WriteString(text(lines("old", i*50, 50)))
				time.Sleep(2 * time.Millisecond)
			}
			// logrotate "create": rename, create a new file, and the daemon
			// keeps writing to the old descriptor until it reopens.
			if err := os.Rename(path, filepath.Join(dir, tc.rotated)); err != nil {
				t.Fatal(err)
			}
			appendFile(t, path, text(lines("new", 0, 100)))
			for i := 0; i < 4; i++ {
				old.WriteString(text(lines("old", 500+i*25, 25)))
				time.Sleep(10 * time.Millisecond)
			}
			old.WriteString("old-unterminated")
			for i := 1; i < 5; i++ {
				appendFile(t, path, text(lines("new", i*100, 100)))
				time.Sleep(2 * time.Millisecond)
			}
			waitEvents(t, b, 1100)
			got := originals(events(t, b))
			equal(t, "old file", withPrefix(got, "old-0"), lines("old", 0, 600))
			equal(t, "new file", withPrefix(got, "new-"), lines("new", 0, 500))
			if tc.glob == "app.log" {
				// Out of the glob: drained, its unfinished line emitted, closed.
				waitEvents(t, b, 1101)
				waitFor(t, "rotated file closed", func() bool { return r.in.FileCounters().Rotations.Load() == 1 })
				if n := len(withPrefix(originals(events(t, b)), "old-unterminated")); n != 1 {
					t.Fatalf("the rotated file's unfinished line was emitted %d times, want 1", n)
				}
			} else {
				// Still matched: followed under its new name; closed once deleted.
				if n := r.in.FileCounters().FilesOpen.Load(); n != 2 {
					t.Fatalf("%d files open, want 2", n)
				}
				os.Remove(filepath.Join(dir, tc.rotated))
				waitFor(t, "deleted file closed", func() bool { return r.in.FileCounters().FilesOpen.Load() == 1 })
			}
			r.stop(t)
			if n := b.LastSeq(); n != 1100 && n != 1101 {
				t.Fatalf("%d events, want 1100 or 1101", n)
			}
		})
	}
}

func TestTail_CopyTruncate(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, text(lines("a", 0, 100)))
	b := openBuffer(t, buffer.Config{})
	cfg := fastConfig("files", path)
	cfg.Parser = "raw"
	r := start(t, cfg, b)
	waitEvents(t, b, 100)

	// Truncated to shorter than what was read.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, text(lines("b", 0, 10)))
	waitEvents(t, b, 110)
	if n := r.in.FileCounters().CopyTruncates.Load(); n != 1 {
		t.Fatalf("copytruncates_total %d, want 1", n)
	}
	// Truncated and at once rewritten past the old offset: caught by the
	// size or by the fingerprint, whichever the poll sees.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, text(lines("c", 0, 200)))
	waitEvents(t, b, 310)
	r.stop(t)
	want := append(append(lines("a", 0, 100), lines("b", 0, 10)...), lines("c", 0, 200)...)
	equal(t, "events", originals(events(t, b)), want)
	if n := r.in.FileCounters().CopyTruncates.Load(); n != 2 {
		t.Errorf("copytruncates_total %d, want 2", n)
	}
}

func TestTail_TruncatedWhileStopped(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, text(lines("a", 0, 50)))
	b := openBuffer(t, buffer.Config{})
	cfg := fastConfig("files", path)
	cfg.Parser = "raw"
	r := start(t, cfg, b)
	waitEvents(t, b, 50)
	r.stop(t)
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, text(lines("b", 0, 5)))
	r = start(t, cfg, b)
	waitEvents(t, b, 55)
	r.stop(t)
	equal(t, "events", originals(events(t, b)), append(lines("a", 0, 50), lines("b", 0, 5)...))
	if n := r.in.FileCounters().CopyTruncates.Load(); n != 1 {
		t.Errorf("copytruncates_total %d, want 1", n)
	}
}

func TestTail_GlobNewFilesAndExclude(t *testing.T) {
	dir := t.TempDir()
	a := filepath.Join(dir, "a.log")
	appendFile(t, a, text(lines("a", 0, 20)))
	b := openBuffer(t, buffer.Config{})
	cfg := fastConfig("files", filepath.Join(dir, "*.log"))
	cfg.Exclude = []string{"*skip*"}
	cfg.Parser = "raw"
	cfg.StartAt = StartEnd // applies to a.log only: later files are new
	r := start(t, cfg, b)
	waitFor(t, "a.log's start checkpoint", func() bool {
		_, ok := fileCheckpoint(t, b, "files", a)
		return ok
	})
	appendFile(t, a, text(lines("a", 20, 10)))
	appendFile(t, filepath.Join(dir, "b.log"), text(lines("b", 0, 30)))
	appendFile(t, filepath.Join(dir, "skip.log"), text(lines("s", 0, 30)))
	os.Mkdir(filepath.Join(dir, "dir.log"), 0o755)
	waitEvents(t, b, 40)
	appendFile(t, filepath.Join(dir, "b.log"), text(lines("b", 30, 10)))
	waitEvents(t, b, 50)
	time.Sleep(50 * time.Millisecond) // a few scans for skip.log to (not) show up
	r.stop(t)
	got := originals(events(t, b))
	if len(got) != 50 {
		t.Fatalf("%d events, want 50: %v", len(got), got)
	}
	equal(t, "a.log", withPrefix(got, "a-"), lines("a", 20, 10))
	equal(t, "b.log", withPrefix(got, "b-"), lines("b", 0, 40))
}

func TestTail_StartAtEnd(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, text(lines("old", 0, 50))+"unfin")
	b := openBuffer(t, buffer.Config{})
	cfg := fastConfig("files", path)
	cfg.Parser = "raw"
	cfg.StartAt = StartEnd
	r := start(t, cfg, b)
	waitFor(t, "start checkpoint", func() bool {
		_, ok := fileCheckpoint(t, b, "files", path)
		return ok
	})
	appendFile(t, path, "ished\n"+text(lines("new", 0, 10)))
	waitEvents(t, b, 11)
	r.stop(t)
	// Written while stopped: the checkpoint wins over "end".
	appendFile(t, path, text(lines("new", 10, 10)))
	r = start(t, cfg, b)
	waitEvents(t, b, 21)
	r.stop(t)
	equal(t, "events", originals(events(t, b)), append([]string{"unfinished"}, lines("new", 0, 20)...))
}

func TestTail_DeletedFileIsDrained(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	b := openBuffer(t, buffer.Config{})
	cfg := fastConfig("files", path)
	cfg.Parser = "raw"
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	f.WriteString(text(lines("l", 0, 10)))
	r := start(t, cfg, b)
	waitEvents(t, b, 10)
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 5; i++ {
		f.WriteString(text(lines("l", i*10, 10)))
		time.Sleep(10 * time.Millisecond)
	}
	f.Close()
	waitEvents(t, b, 50)
	waitFor(t, "deleted file closed", func() bool {
		return r.in.FileCounters().FilesOpen.Load() == 0 && r.in.FileCounters().Rotations.Load() == 1
	})
	r.stop(t)
	equal(t, "events", originals(events(t, b)), lines("l", 0, 50))
}

func TestTail_MaxOpenFiles(t *testing.T) {
	dir := t.TempDir()
	b := openBuffer(t, buffer.Config{})
	cfg := fastConfig("files", filepath.Join(dir, "*.log"))
	cfg.Parser = "raw"
	cfg.MaxOpenFiles = 2
	names := []string{"a", "b", "c", "d", "e"}
	for _, n := range names {
		appendFile(t, filepath.Join(dir, n+".log"), text(lines(n, 0, 10)))
	}
	r := start(t, cfg, b)
	stopWatch := make(chan struct{})
	watched := make(chan int64)
	go func() {
		var peak int64
		for {
			peak = max(peak, r.in.FileCounters().FilesOpen.Load())
			select {
			case <-stopWatch:
				watched <- peak
				return
			case <-time.After(time.Millisecond):
			}
		}
	}()
	waitEvents(t, b, 50)
	for _, n := range names {
		appendFile(t, filepath.Join(dir, n+".log"), text(lines(n, 10, 5))+"part-"+n)
	}
	waitEvents(t, b, 75)
	for _, n := range names {
		appendFile(t, filepath.Join(dir, n+".log"), "ial\n"+text(lines(n, 15, 5)))
	}
	waitEvents(t, b, 105)
	close(stopWatch)
	peak := <-watched
	r.stop(t)
	got := originals(events(t, b))
	if len(got) != 105 {
		t.Fatalf("%d events, want 105", len(got))
	}
	for _, n := range names {
		want := append(append(lines(n, 0, 15), "part-"+n+"ial"), lines(n, 15, 5)...)
		equal(t, n+".log", slices.DeleteFunc(slices.Clone(got), func(s string) bool {
			return !strings.HasPrefix(s, n+"-") && s != "part-"+n+"ial"
		}), want)
	}
	if peak > 2 {
		t.Errorf("%d files open at once, limit 2", peak)
	}
	if r.in.FileCounters().OpenDeferred.Load() == 0 {
		t.Errorf("no open was deferred; the limit was not exercised")
	}
}

func TestTail_BackPressure(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "app.log")
	appendFile(t, path, text(lines("l", 0, 2000)))
	b := openBuffer(t, buffer.Config{MaxBytes: 16 << 10})
	cfg := fastConfig("files", path)
	cfg.Parser = "raw"
	cfg.BatchSize = 20
	r := start(t, cfg, b)
	waitFor(t, "the input to block on a full buffer", func() bool { return b.Stats().Blocked > 0 })
	var got []string
	next := uint64(1)
	waitFor(t, "all lines through a small buffer", func() bool {
		recs, err := b.Read(next, 100, 1<<20, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, rec := range recs {
			var e agentpb.Event
			if err := proto.Unmarshal(rec.Data, &e); err != nil {
				t.Fatal(err)
			}
			got = append(got, e.GetOriginal())
			next = rec.Seq + 1
		}
		if len(recs) > 0 {
			if err := b.Ack(next - 1); err != nil {
				t.Fatal(err)
			}
		}
		return len(got) >= 2000
	})
	equal(t, "events", got, lines("l", 0, 2000))
	// Blocked again, then stopped: Run returns promptly and cleanly.
	appendFile(t, path, text(lines("l", 2000, 2000)))
	waitFor(t, "the input to block again", func() bool { return b.Stats().Bytes > 12<<10 })
	r.stop(t)
}

// --- kill -9 ---

const (
	envChild    = "VIGIL_FILE_TEST_CHILD"
	envChildLog = "VIGIL_FILE_TEST_LOG"
	envChildBuf = "VIGIL_FILE_TEST_BUFFER"
	killLines   = 20_000
)

// TestKillChild is the child process of TestTail_Kill9ExactlyOnce: it tails
// the log into the buffer until the last line is appended.
func TestKillChild(t *testing.T) {
	if os.Getenv(envChild) == "" {
		t.Skip("helper process for TestTail_Kill9ExactlyOnce")
	}
	b, err := buffer.Open(buffer.Config{Dir: os.Getenv(envChildBuf)}, testLog(t), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	cfg := fastConfig("kill", os.Getenv(envChildLog))
	cfg.Parser = "raw"
	cfg.BatchSize = 64
	in, err := New(cfg, b, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- in.Run(ctx) }()
	last := fmt.Sprintf("line-%06d", killLines-1)
	for {
		select {
		case err := <-done:
			t.Fatalf("run ended: %v", err)
		case <-time.After(10 * time.Millisecond):
		}
		if seq := b.LastSeq(); seq > 0 {
			recs, err := b.Read(seq, 1, 1<<20, nil)
			if err != nil {
				t.Fatal(err)
			}
			var e agentpb.Event
			if len(recs) == 1 && proto.Unmarshal(recs[0].Data, &e) == nil && e.GetOriginal() == last {
				break
			}
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestTail_Kill9ExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	dir := t.TempDir()
	logPath := filepath.Join(dir, "app.log")
	bufDir := filepath.Join(dir, "buffer")
	appendFile(t, logPath, "")

	// The writer appends the lines in chunks that split lines anywhere.
	var all strings.Builder
	for i := range killLines {
		fmt.Fprintf(&all, "line-%06d\n", i)
	}
	data := all.String()
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		f, err := os.OpenFile(logPath, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer f.Close()
		seed := uint64(len(data))
		for off := 0; off < len(data); {
			seed = seed*6364136223846793005 + 1442695040888963407
			n := min(1+int(seed>>33)%2000, len(data)-off)
			if _, err := f.WriteString(data[off : off+n]); err != nil {
				t.Error(err)
				return
			}
			off += n
			time.Sleep(8 * time.Millisecond)
		}
	}()

	child := func() *os.Process {
		cmd := newChild(t, logPath, bufDir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd.Process
	}
	kills := 0
	var progress []uint64 // events in the buffer after each kill
	for i := 0; i < 10; i++ {
		p := child()
		// Random moments: 30..250ms after the start, past the child's start-up.
		time.Sleep(time.Duration(30+(time.Now().UnixNano()/1000)%220) * time.Millisecond)
		if err := p.Signal(syscall.SIGKILL); err == nil {
			kills++
		}
		p.Wait()
		progress = append(progress, lastSeq(t, bufDir))
	}
	<-writerDone
	cmd := newChild(t, logPath, bufDir)
	out, err := runWithin(cmd, 20*time.Second)
	if err != nil {
		t.Fatalf("final child: %v\n%s", err, out)
	}

	b := openBuffer(t, buffer.Config{Dir: bufDir})
	got := originals(events(t, b))
	want := make([]string, killLines)
	for i := range want {
		want[i] = fmt.Sprintf("line-%06d", i)
	}
	equal(t, "after "+strconv.Itoa(kills)+" kills", got, want)
	t.Logf("%d SIGKILLs at %v events, %d lines exactly once", kills, progress, len(got))
	mid := 0
	for _, n := range progress {
		if n > 0 && n < killLines {
			mid++
		}
	}
	if mid < 2 {
		t.Errorf("only %d kills landed mid-file (events after each kill: %v)", mid, progress)
	}
}

// lastSeq opens the buffer of a killed child to see how far it got.
func lastSeq(t *testing.T, dir string) uint64 {
	t.Helper()
	b, err := buffer.Open(buffer.Config{Dir: dir}, testLog(t), time.Now)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	return b.LastSeq()
}
