package syslog_test

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/agent/inputs/syslog"
	"github.com/vigil-sec/vigil/protocol/agentpb"
)

func fieldStr(ev *agentpb.Event, key string) (string, bool) {
	for _, f := range ev.Fields {
		if f.Key == key {
			if s, ok := f.Value.(*agentpb.Field_Str); ok {
				return s.Str, true
			}
		}
	}
	return "", false
}

func TestInput_UDPDatagrams(t *testing.T) {
	buf := openBuffer(t, 0)
	in := startInput(t, syslog.Config{ID: "udp_in", Protocol: "udp"}, buf)
	c := dial(t, "udp", in)
	lines := []string{
		"<34>Oct 11 22:14:15 mymachine su: 'su root' failed",
		"<13>1 2024-05-06T07:08:09Z host2 app 42 - - rfc5424 message",
		"<13>Oct 11 22:14:16 mymachine cron: with newline\n",
	}
	for _, l := range lines {
		write(t, c, l)
		// Datagrams may be reordered only across sockets; one socket on
		// loopback keeps order, but wait for each to be safe.
	}
	evs := readEvents(t, buf, 3)
	want := []string{lines[0], lines[1], strings.TrimSuffix(lines[2], "\n")}
	if got := originals(evs); !slices.Equal(got, want) {
		t.Fatalf("originals = %q, want %q", got, want)
	}
	for _, ev := range evs {
		if ev.Input != "udp_in" || ev.Parser != "parser.syslog" {
			t.Errorf("input/parser = %q/%q, want udp_in/parser.syslog", ev.Input, ev.Parser)
		}
		if len(ev.Tags) != 0 {
			t.Errorf("tags = %q, want none", ev.Tags)
		}
	}
	if h, _ := fieldStr(evs[1], "host.name"); h != "host2" {
		t.Errorf("host.name = %q, want host2", h)
	}
	if ts := time.Unix(0, evs[1].TimestampUnixNano).UTC(); !ts.Equal(time.Date(2024, 5, 6, 7, 8, 9, 0, time.UTC)) {
		t.Errorf("timestamp = %v", ts)
	}
	ctr := in.Counters()
	waitFor(t, 5*time.Second, "records counter", func() bool { return ctr.Records.Load() == 3 })
	if got, want := ctr.Bytes.Load(), uint64(len(want[0])+len(want[1])+len(want[2])); got != want {
		t.Errorf("bytes counter = %d, want %d", got, want)
	}
	if ctr.DroppedFull.Load() != 0 || ctr.ParseErrors.Load() != 0 {
		t.Errorf("counters = %v", ctr.Snapshot())
	}
}

func TestInput_TCPNewlineFraming(t *testing.T) {
	buf := openBuffer(t, 0)
	in := startInput(t, syslog.Config{Protocol: "tcp", Framing: "newline"}, buf)
	c := dial(t, "tcp", in)
	// A line starting with a digit is not an octet count in newline mode;
	// empty lines between records are skipped.
	write(t, c, "<13>first\n\n123 not a length\n<13>third")
	write(t, c, " part two\n")
	evs := readEvents(t, buf, 3)
	want := []string{"<13>first", "123 not a length", "<13>third part two"}
	if got := originals(evs); !slices.Equal(got, want) {
		t.Fatalf("originals = %q, want %q", got, want)
	}
	if evs[1].Tags[0] != "parse_error" {
		t.Errorf("non-syslog line tags = %q, want parse_error", evs[1].Tags)
	}
	waitFor(t, 5*time.Second, "connection counter", func() bool { return in.Counters().Connections.Load() == 1 })
	c.Close()
	waitFor(t, 5*time.Second, "connection closed", func() bool { return in.Counters().Connections.Load() == 0 })
}

func TestInput_TCPLastLineWithoutNewlineKeptAtClose(t *testing.T) {
	buf := openBuffer(t, 0)
	in := startInput(t, syslog.Config{Protocol: "tcp"}, buf)
	c := dial(t, "tcp", in)
	write(t, c, "<13>one\n<13>two without newline")
	c.(*net.TCPConn).CloseWrite()
	evs := readEvents(t, buf, 2)
	if got, want := originals(evs), []string{"<13>one", "<13>two without newline"}; !slices.Equal(got, want) {
		t.Fatalf("originals = %q, want %q", got, want)
	}
}

func octet(s string) string { return fmt.Sprintf("%d %s", len(s), s) }

func TestInput_TCPOctetCounting(t *testing.T) {
	buf := openBuffer(t, 0)
	in := startInput(t, syslog.Config{Protocol: "tcp", Framing: "octet"}, buf)
	c := dial(t, "tcp", in)
	// Octet-counted frames may contain newlines and need no separator.
	msgs := []string{"<13>one", "<13>two\nwith newline inside", "<13>three"}
	var stream string
	for _, m := range msgs {
		stream += octet(m)
	}
	// Split the stream mid-frame and mid-length to exercise partial reads.
	write(t, c, stream[:5])
	write(t, c, stream[5:12])
	write(t, c, stream[12:])
	evs := readEvents(t, buf, 3)
	if got := originals(evs); !slices.Equal(got, msgs) {
		t.Fatalf("originals = %q, want %q", got, msgs)
	}
}

func TestInput_AutoFramingMixedOnOneConnection(t *testing.T) {
	buf := openBuffer(t, 0)
	in := startInput(t, syslog.Config{Protocol: "tcp"}, buf) // framing auto by default
	c := dial(t, "tcp", in)
	write(t, c, "<13>newline one\n"+octet("<13>octet two")+octet("<13>octet\nthree")+"<13>newline four\n"+octet("<13>octet five")+"\n")
	evs := readEvents(t, buf, 5)
	want := []string{"<13>newline one", "<13>octet two", "<13>octet\nthree", "<13>newline four", "<13>octet five"}
	if got := originals(evs); !slices.Equal(got, want) {
		t.Fatalf("originals = %q, want %q", got, want)
	}
}

func TestInput_CRLFLineEndings(t *testing.T) {
	buf := openBuffer(t, 0)
	in := startInput(t, syslog.Config{Protocol: "tcp"}, buf)
	c := dial(t, "tcp", in)
	write(t, c, "<13>Oct 11 22:14:15 host app: a\r\n<13>Oct 11 22:14:15 host app: b\r\n\r\n<13>c\r\n")
	evs := readEvents(t, buf, 3)
	want := []string{"<13>Oct 11 22:14:15 host app: a", "<13>Oct 11 22:14:15 host app: b", "<13>c"}
	if got := originals(evs); !slices.Equal(got, want) {
		t.Fatalf("originals = %q, want %q", got, want)
	}
	if m, _ := fieldStr(evs[1], "message"); m != "b" {
		t.Errorf("message = %q, want b (no CR)", m)
	}
}

func TestInput_OverlongLineTruncatedRestDiscarded(t *testing.T) {
	buf := openBuffer(t, 0)
	in := startInput(t, syslog.Config{Protocol: "tcp", MaxLine: 16}, buf)
	c := dial(t, "tcp", in)
	long := "<13>" + strings.Repeat("x", 100) + "TAIL"
	write(t, c, long+"\n<13>next\n")
	evs := readEvents(t, buf, 2)
	if want := long[:16]; evs[0].Original != want {
		t.Errorf("first original = %q, want %q", evs[0].Original, want)
	}
	if !slices.Contains(evs[0].Tags, "truncated") {
		t.Errorf("first tags = %q, want truncated", evs[0].Tags)
	}
	if evs[1].Original != "<13>next" || slices.Contains(evs[1].Tags, "truncated") {
		t.Errorf("second record = %q tags %q; the rest of the long line leaked", evs[1].Original, evs[1].Tags)
	}
	waitFor(t, 5*time.Second, "truncated counter", func() bool { return in.Counters().Truncated.Load() == 1 })
}

func TestInput_OverlongLineLargerThanReadBuffer(t *testing.T) {
	buf := openBuffer(t, 0)
	in := startInput(t, syslog.Config{Protocol: "tcp", Framing: "newline", MaxLine: 100}, buf)
	c := dial(t, "tcp", in)
	// 300 KB: several times the input's 64 KiB read buffer.
	long := "<13>" + strings.Repeat("y", 300<<10)
	go func() { _, _ = c.Write([]byte(long + "\n<13>after\n")) }()
	evs := readEvents(t, buf, 2)
	if want := long[:100]; evs[0].Original != want || !slices.Contains(evs[0].Tags, "truncated") {
		t.Errorf("first record = %d bytes, tags %q; want %d bytes tagged truncated", len(evs[0].Original), evs[0].Tags, len(want))
	}
	if evs[1].Original != "<13>after" {
		t.Errorf("second record = %q, want <13>after", evs[1].Original)
	}
}

func TestInput_OverlongOctetFrameTruncatedStreamContinues(t *testing.T) {
	buf := openBuffer(t, 0)
	in := startInput(t, syslog.Config{Protocol: "tcp", MaxLine: 16}, buf)
	c := dial(t, "tcp", in)
	big := "<13>" + strings.Repeat("z", 200) + "\nEND"
	write(t, c, octet(big)+octet("<13>small")+"<13>line\n")
	evs := readEvents(t, buf, 3)
	if evs[0].Original != big[:16] || !slices.Contains(evs[0].Tags, "truncated") {
		t.Errorf("first record = %q tags %q; want %q tagged truncated", evs[0].Original, evs[0].Tags, big[:16])
	}
	if got, want := originals(evs[1:]), []string{"<13>small", "<13>line"}; !slices.Equal(got, want) {
		t.Errorf("following records = %q, want %q", got, want)
	}
	if d := in.Counters().DroppedInvalid.Load(); d != 0 {
		t.Errorf("dropped_invalid_frame = %d, want 0", d)
	}
	// The connection stays usable.
	write(t, c, "<13>still open\n")
	evs = readEvents(t, buf, 4)
	if evs[3].Original != "<13>still open" {
		t.Errorf("fourth record = %q", evs[3].Original)
	}
}

// A record cut at the limit must be tagged even when the byte at the cut
// happens to be an end-of-line character.
func TestInput_TruncationAtLineEndCharacterIsTagged(t *testing.T) {
	buf := openBuffer(t, 0)
	in := startInput(t, syslog.Config{Protocol: "tcp", MaxLine: 10}, buf)
	c := dial(t, "tcp", in)
	// Newline framing: byte 11 of the line is a CR that is not the line end.
	// Octet framing: byte 11 of the frame is a LF inside the message.
	write(t, c, "<13>123456\rLOST\n"+octet("<13>abcdef\nLOST TOO"))
	evs := readEvents(t, buf, 2)
	for i, want := range []string{"<13>123456", "<13>abcdef"} {
		if evs[i].Original != want {
			t.Errorf("record %d original = %q, want %q", i, evs[i].Original, want)
		}
		if !slices.Contains(evs[i].Tags, "truncated") {
			t.Errorf("record %d lost bytes but tags = %q, want truncated", i, evs[i].Tags)
		}
	}
}

func TestInput_BadOctetCountClosesOnlyThatConnection(t *testing.T) {
	buf := openBuffer(t, 0)
	in := startInput(t, syslog.Config{Protocol: "tcp", Framing: "octet"}, buf)
	good := dial(t, "tcp", in)
	write(t, good, octet("<13>good one"))
	readEvents(t, buf, 1)

	bad := dial(t, "tcp", in)
	write(t, bad, octet("<13>before bad")+"12x <13>bad frame")
	waitClosed(t, bad, 5*time.Second)
	ctr := in.Counters()
	waitFor(t, 5*time.Second, "dropped_invalid_frame", func() bool { return ctr.DroppedInvalid.Load() == 1 })

	// The record before the bad frame was kept; the other connection works.
	write(t, good, octet("<13>good two"))
	evs := readEvents(t, buf, 3)
	if got, want := originals(evs), []string{"<13>good one", "<13>before bad", "<13>good two"}; !slices.Equal(got, want) {
		t.Fatalf("originals = %q, want %q", got, want)
	}
	waitFor(t, 5*time.Second, "one open connection", func() bool { return ctr.Connections.Load() == 1 })
	if d := ctr.DroppedInvalid.Load(); d != 1 {
		t.Errorf("dropped_invalid_frame = %d, want 1", d)
	}
}

func TestInput_BadOctetFramesEachCounted(t *testing.T) {
	buf := openBuffer(t, 0)
	in := startInput(t, syslog.Config{Protocol: "tcp", Framing: "octet"}, buf)
	for _, payload := range []string{"0 <13>zero length", "1234567890 <13>too many digits", "<13>not a number in octet mode"} {
		c := dial(t, "tcp", in)
		write(t, c, payload)
		waitClosed(t, c, 5*time.Second)
	}
	waitFor(t, 5*time.Second, "dropped_invalid_frame", func() bool { return in.Counters().DroppedInvalid.Load() == 3 })
	if n := buf.LastSeq(); n != 0 {
		t.Errorf("buffer holds %d records, want 0", n)
	}
}

func TestInput_MaxConnectionsRefusesExtra(t *testing.T) {
	buf := openBuffer(t, 0)
	in := startInput(t, syslog.Config{Protocol: "tcp", MaxConnections: 1}, buf)
	ctr := in.Counters()
	first := dial(t, "tcp", in)
	write(t, first, "<13>first\n")
	readEvents(t, buf, 1)
	waitFor(t, 5*time.Second, "first connection counted", func() bool { return ctr.Connections.Load() == 1 })

	second := dial(t, "tcp", in)
	_, _ = second.Write([]byte("<13>refused\n"))
	waitClosed(t, second, 5*time.Second)
	waitFor(t, 5*time.Second, "connections_refused_total", func() bool { return ctr.ConnRefused.Load() == 1 })

	write(t, first, "<13>first again\n")
	evs := readEvents(t, buf, 2)
	if got, want := originals(evs), []string{"<13>first", "<13>first again"}; !slices.Equal(got, want) {
		t.Fatalf("originals = %q, want %q", got, want)
	}

	// Once the first connection goes, a new one is accepted.
	first.Close()
	waitFor(t, 5*time.Second, "first connection released", func() bool { return ctr.Connections.Load() == 0 })
	third := dial(t, "tcp", in)
	write(t, third, "<13>third\n")
	evs = readEvents(t, buf, 3)
	if evs[2].Original != "<13>third" {
		t.Errorf("third record = %q", evs[2].Original)
	}
	if r := ctr.ConnRefused.Load(); r != 1 {
		t.Errorf("connections_refused_total = %d, want 1", r)
	}
}

func TestInput_TLSListener(t *testing.T) {
	serverTLS, pool := selfSignedTLS(t)
	buf := openBuffer(t, 0)
	in := startInput(t, syslog.Config{Protocol: "tls", TLS: serverTLS}, buf)
	c, err := tls.Dial("tcp", in.Addr().String(), &tls.Config{RootCAs: pool, ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("tls dial: %v", err)
	}
	defer c.Close()
	if _, err := c.Write([]byte("<13>over tls\n" + octet("<13>octet over tls"))); err != nil {
		t.Fatal(err)
	}
	evs := readEvents(t, buf, 2)
	if got, want := originals(evs), []string{"<13>over tls", "<13>octet over tls"}; !slices.Equal(got, want) {
		t.Fatalf("originals = %q, want %q", got, want)
	}

	// A plain-text client gets nothing stored.
	plain := dial(t, "tcp", in)
	_, _ = plain.Write([]byte("<13>plain text\n"))
	waitClosed(t, plain, 5*time.Second)
	if n := buf.LastSeq(); n != 2 {
		t.Errorf("buffer holds %d records after a plain-text client, want 2", n)
	}
}

func TestNew_RejectsBadConfig(t *testing.T) {
	buf := openBuffer(t, 0)
	cases := []struct {
		cfg  syslog.Config
		want string
	}{
		{syslog.Config{ID: "a", Protocol: "sctp", Listen: "127.0.0.1:0"}, `protocol must be udp, tcp or tls, not "sctp"`},
		{syslog.Config{ID: "b", Protocol: "tcp", Listen: "127.0.0.1:0", Framing: "lines"}, `framing must be auto, newline or octet, not "lines"`},
		{syslog.Config{ID: "c", Protocol: "tls", Listen: "127.0.0.1:0"}, "protocol tls needs tls_cert and tls_key"},
		{syslog.Config{ID: "d", Protocol: "udp", Listen: "127.0.0.1:0", Parser: "no_such_parser"}, `unknown parser "no_such_parser"`},
		{syslog.Config{ID: "e", Protocol: "tcp", Listen: "256.0.0.1:1"}, "input e: listen tcp/256.0.0.1:1"},
	}
	for _, c := range cases {
		in, err := syslog.New(c.cfg, buf, quiet)
		if err == nil {
			t.Errorf("New(%+v) succeeded on %v, want error %q", c.cfg, in.Addr(), c.want)
			continue
		}
		if !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "input "+c.cfg.ID) {
			t.Errorf("New(%s) error = %q, want it to contain %q and the input id", c.cfg.ID, err, c.want)
		}
	}
}

func TestInput_UDPFullBufferCountsDrops(t *testing.T) {
	// Room for a handful of records only; nothing acknowledges them.
	buf := openBuffer(t, 600)
	in := startInput(t, syslog.Config{Protocol: "udp", BatchSize: 1}, buf)
	c := dial(t, "udp", in)
	const sent = 40
	for i := 0; i < sent; i++ {
		write(t, c, fmt.Sprintf("<13>Oct 11 22:14:15 host app: datagram %02d", i))
	}
	ctr := in.Counters()
	waitFor(t, 10*time.Second, "every datagram stored or dropped", func() bool {
		return ctr.Records.Load()+ctr.DroppedFull.Load() == sent
	})
	stored := buf.LastSeq()
	if stored == 0 || stored == sent {
		t.Fatalf("stored %d of %d datagrams; want some stored and some dropped", stored, sent)
	}
	if got := ctr.Records.Load(); got != stored {
		t.Errorf("records_total = %d, buffer holds %d", got, stored)
	}
	if got := ctr.DroppedFull.Load(); got != sent-stored {
		t.Errorf("dropped_buffer_full = %d, want %d (sent %d, stored %d)", got, sent-stored, sent, stored)
	}
	if got := buf.Stats().DroppedFull; got != sent-stored {
		t.Errorf("buffer dropped_full_total = %d, want %d", got, sent-stored)
	}
	// The stored ones are the first datagrams, in order.
	evs := readEvents(t, buf, int(stored))
	for i, ev := range evs {
		if want := fmt.Sprintf("<13>Oct 11 22:14:15 host app: datagram %02d", i); ev.Original != want {
			t.Errorf("record %d = %q, want %q", i, ev.Original, want)
		}
	}
}

// countingConn counts bytes written.
type countingConn struct {
	net.Conn
	n atomic.Int64
}

func (c *countingConn) Write(b []byte) (int, error) {
	n, err := c.Conn.Write(b)
	c.n.Add(int64(n))
	return n, err
}

func TestInput_TCPFullBufferBlocksSenderUntilAck(t *testing.T) {
	buf := openBuffer(t, 256<<10)
	// Batches of 16 records (64 KiB) fit the 256 KiB buffer several times.
	in := startInput(t, syslog.Config{Protocol: "tcp", Framing: "newline", BatchSize: 16}, buf)
	raw := dial(t, "tcp", in)
	c := &countingConn{Conn: raw}

	// 16 MiB of 4 KiB lines: far more than the buffer, the input's read
	// buffer and the kernel's socket buffers together.
	const lineLen, lines = 4096, 4096
	line := func(i int) string {
		head := fmt.Sprintf("<13>line %05d ", i)
		return head + strings.Repeat("p", lineLen-len(head)-1) + "\n"
	}
	var stream bytes.Buffer
	for i := 0; i < lines; i++ {
		stream.WriteString(line(i))
	}
	total := int64(stream.Len())
	sendDone := make(chan error, 1)
	go func() {
		// Small writes, so the byte count shows where the sender stopped.
		data := stream.Bytes()
		for len(data) > 0 {
			n := min(len(data), 32<<10)
			if _, err := c.Write(data[:n]); err != nil {
				sendDone <- err
				return
			}
			data = data[n:]
		}
		sendDone <- nil
	}()

	// The input fills the buffer and then blocks in Append.
	waitFor(t, 10*time.Second, "input blocked on a full buffer", func() bool { return buf.Stats().Blocked > 0 })
	// The sender stops making progress: poll until its byte count is stable.
	var last int64 = -1
	stableSince := time.Now()
	waitFor(t, 10*time.Second, "sender to stall", func() bool {
		n := c.n.Load()
		if n != last {
			last, stableSince = n, time.Now()
			return false
		}
		return time.Since(stableSince) > 300*time.Millisecond
	})
	select {
	case err := <-sendDone:
		t.Fatalf("sender finished (%v) while the buffer was full and unacknowledged", err)
	default:
	}
	if w := c.n.Load(); w >= total {
		t.Fatalf("sender wrote all %d bytes while the buffer was full", w)
	}
	heldSeq := buf.LastSeq()
	if heldSeq == 0 || heldSeq >= lines {
		t.Fatalf("buffer holds %d records while full, want between 1 and %d", heldSeq, lines-1)
	}

	// Drain like the shipper: read, check, acknowledge.
	next := uint64(1)
	deadline := time.Now().Add(30 * time.Second)
	for next <= lines {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d records arrived after draining", next-1, lines)
		}
		recs, err := buf.Read(next, 500, 8<<20, nil)
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			time.Sleep(2 * time.Millisecond)
			continue
		}
		for _, r := range recs {
			if r.Seq != next {
				t.Fatalf("got seq %d, want %d", r.Seq, next)
			}
			ev := decodeEvent(t, r.Data)
			if want := strings.TrimSuffix(line(int(next-1)), "\n"); ev.Original != want {
				t.Fatalf("seq %d original starts %q, want %q", r.Seq, ev.Original[:20], want[:20])
			}
			next++
		}
		if err := buf.Ack(recs[len(recs)-1].Seq); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-sendDone:
		if err != nil {
			t.Fatalf("sender: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sender still blocked after the buffer was drained")
	}
	if got := in.Counters().Records.Load(); got != lines {
		t.Errorf("records_total = %d, want %d", got, lines)
	}
	if d := in.Counters().DroppedFull.Load(); d != 0 {
		t.Errorf("a stream input dropped %d records on a full buffer", d)
	}
	if n := buf.LastSeq(); n != lines {
		t.Errorf("last seq = %d, want %d (no duplicates)", n, lines)
	}
}

// A complete record must reach the buffer even when the bytes after it do
// not complete another record and the sender pauses with the connection open.
func TestInput_RecordNotHeldBehindIncompleteData(t *testing.T) {
	cases := map[string]string{
		"blank line after":          "<13>one\n\n",
		"CR after":                  "<13>one\n\r",
		"partial line after":        "<13>one\n<13>partial line",
		"LF after octet frame":      octet("<13>one") + "\n",
		"partial length after":      octet("<13>one") + "12",
		"partial octet frame after": octet("<13>one") + "20 <13>part",
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			buf := openBuffer(t, 0)
			in := startInput(t, syslog.Config{Protocol: "tcp"}, buf)
			c := dial(t, "tcp", in)
			write(t, c, data)
			evs := readEvents(t, buf, 1)
			if evs[0].Original != "<13>one" {
				t.Errorf("record = %q, want <13>one", evs[0].Original)
			}
		})
	}
}

// TestInput_AutoFramingDigitLeadingLine checks that in auto framing a
// newline-framed line that starts with a digit (a timestamp without PRI) is
// a line, not an octet count; that an octet frame is still recognised by
// "LEN <"; and that once a connection has used octet counting, frames whose
// message lacks a PRI are octet-counted too.
func TestInput_AutoFramingDigitLeadingLine(t *testing.T) {
	buf := openBuffer(t, 0)
	in := startInput(t, syslog.Config{Protocol: "tcp"}, buf)
	c := dial(t, "tcp", in)
	write(t, c, "2026-12-02T10:00:00Z host app: no pri\n13 <13>octet one")
	evs := readEvents(t, buf, 2)
	if got, want := originals(evs), []string{"2026-12-02T10:00:00Z host app: no pri", "<13>octet one"}; !slices.Equal(got, want) {
		t.Fatalf("originals = %q, want %q", got, want)
	}
	c2 := dial(t, "tcp", in)
	write(t, c2, octet("<13>first")+octet("Jan  2 10:00:00 h app: no pri")+octet("12345 digits first"))
	evs = readEvents(t, buf, 5)
	if got, want := originals(evs[2:]), []string{"<13>first", "Jan  2 10:00:00 h app: no pri", "12345 digits first"}; !slices.Equal(got, want) {
		t.Fatalf("octet originals = %q, want %q", got, want)
	}
	if n := in.Counters().DroppedInvalid.Load(); n != 0 {
		t.Fatalf("dropped_invalid_frame = %d", n)
	}
}
