package parsers

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/plugins/sdk"
	"github.com/vigil-sec/vigil/protocol/event"
)

// DefaultMaxLine is the record size limit unless configured (64 KiB).
const DefaultMaxLine = 64 << 10

// Processor turns raw records of one input into encoded events. It is used
// by one goroutine at a time.
type Processor struct {
	input   string
	parser  sdk.Parser
	maxLine int
	ev      sdk.Event
	enc     event.Encoder
	stats   Stats

	batch BatchParser // set: records are parsed in batches through it
	id    string      // component id of the parser of the record being encoded

	// Scratch for ProcessBatch.
	bRaws  [][]byte
	bFlags [][2]bool // truncated, valid
	bEvs   []sdk.Event
	bErrs  []error
	bKept  []bool
}

// Stats counts what a Processor flagged.
type Stats struct {
	Records     uint64
	Truncated   uint64
	InvalidUTF8 uint64
	ParseErrors uint64
	DeadLetters uint64
}

// NewProcessor returns a Processor for the named input.
func NewProcessor(input string, p sdk.Parser, maxLine int) *Processor {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	return &Processor{input: input, parser: p, maxLine: maxLine}
}

// NewBatchProcessor returns a Processor that parses through bp, a batch at
// a time (see ProcessBatch).
func NewBatchProcessor(input string, bp BatchParser, maxLine int) *Processor {
	p := NewProcessor(input, nil, maxLine)
	p.batch = bp
	return p
}

// NewProcessorFor returns the Processor an input uses: one that parses
// through bp when a plugin is configured, else one with the built-in parser
// name.
func NewProcessorFor(input, name string, bp BatchParser, maxLine int) (*Processor, error) {
	if bp != nil {
		return NewBatchProcessor(input, bp, maxLine), nil
	}
	p, err := New(name)
	if err != nil {
		return nil, err
	}
	return NewProcessor(input, p, maxLine), nil
}

// Batcher is the batch parser of a Processor made by NewBatchProcessor, else
// nil.
func (p *Processor) Batcher() BatchParser { return p.batch }

// Stats returns the counters so far.
func (p *Processor) Stats() Stats { return p.stats }

// BatchParser parses many records per call, as a parser plugin does (one
// round trip per batch). kept[i] false means record i was set aside (a
// dead letter) and produces no event.
type BatchParser interface {
	ID() string
	ParseBatch(input string, raws [][]byte, received []time.Time, evs []sdk.Event, errs []error, kept []bool)
}

// Process parses one record and returns its encoded event, valid until the
// next call. received is when the agent read the record; it becomes
// event.created, and @timestamp when the record carries no time.
func (p *Processor) Process(raw []byte, received time.Time) []byte {
	received = received.Truncate(time.Millisecond)
	raw, truncated, valid := p.prepare(raw)
	p.ev.Reset()
	perr := p.parser.Parse(raw, &p.ev)
	p.id = p.parser.ID()
	return p.encode(raw, received.UnixNano(), truncated, valid, &p.ev, perr)
}

// ProcessBatch parses records with bp in one call and passes each encoded
// event to emit (valid during the call), in order. It returns how many
// records were set aside as dead letters.
func (p *Processor) ProcessBatch(bp BatchParser, raws [][]byte, received []time.Time, emit func([]byte)) int {
	n := len(raws)
	p.bRaws = p.bRaws[:0]
	p.bFlags = p.bFlags[:0]
	for i, raw := range raws {
		received[i] = received[i].Truncate(time.Millisecond)
		cut, truncated, valid := p.prepare(raw)
		p.bRaws = append(p.bRaws, cut)
		p.bFlags = append(p.bFlags, [2]bool{truncated, valid})
	}
	if cap(p.bEvs) < n {
		p.bEvs = make([]sdk.Event, n)
		p.bErrs = make([]error, n)
		p.bKept = make([]bool, n)
	}
	evs, errs, kept := p.bEvs[:n], p.bErrs[:n], p.bKept[:n]
	bp.ParseBatch(p.input, p.bRaws, received, evs, errs, kept)
	dead := 0
	p.id = bp.ID()
	for i := range n {
		if !kept[i] {
			dead++
			continue
		}
		emit(p.encode(p.bRaws[i], received[i].UnixNano(), p.bFlags[i][0], p.bFlags[i][1], &evs[i], errs[i]))
	}
	p.stats.DeadLetters += uint64(dead)
	return dead
}

// ProcessEvent encodes an event that was already parsed (a finding of a
// scanner report, say), with ev.Original as its original.
func (p *Processor) ProcessEvent(ev *sdk.Event, parserID string, received time.Time) []byte {
	p.stats.Records++
	received = received.Truncate(time.Millisecond)
	p.id = parserID
	return p.encode([]byte(ev.Original), received.UnixNano(), false, utf8.ValidString(ev.Original), ev, nil)
}

// prepare counts the record and cuts it at the line limit.
func (p *Processor) prepare(raw []byte) (cut []byte, truncated, valid bool) {
	p.stats.Records++
	if len(raw) > p.maxLine {
		raw = cutAt(raw, p.maxLine)
		truncated = true
		p.stats.Truncated++
	}
	return raw, truncated, utf8.Valid(raw)
}

// encode builds the event record from a parse result. Millisecond precision
// of received is what event.created needs, and it lets records read in the
// same millisecond share their time bytes, which compresses markedly better
// than nanosecond noise.
// The parser's id comes from p.id: every argument left in a register keeps
// this per-record call cheap.
func (p *Processor) encode(raw []byte, received int64, truncated, valid bool, ev *sdk.Event, perr error) []byte {
	ts := received
	if !ev.Timestamp.IsZero() {
		ts = ev.Timestamp.UnixNano()
	}
	orig := ""
	if valid {
		if orig = ev.Original; orig == "" {
			orig = string(raw)
		}
	}
	p.enc.Begin(ts, received, p.input, p.id, orig)
	if !valid {
		p.enc.OriginalBytes(raw)
		p.stats.InvalidUTF8++
	}
	for _, f := range ev.Fields {
		switch f.Kind {
		case sdk.KindInt:
			p.enc.Int(f.Key, f.Int)
		case sdk.KindFloat:
			p.enc.Float(f.Key, f.Float)
		case sdk.KindBool:
			p.enc.Bool(f.Key, f.Bool)
		default:
			s := f.Str
			if !valid {
				// Protobuf strings must be UTF-8; the exact bytes are kept in
				// original_bytes.
				s = strings.ToValidUTF8(s, "\uFFFD")
			}
			p.enc.String(f.Key, s)
		}
	}
	if perr != nil {
		p.stats.ParseErrors++
		// The raw record is already in event.original; it is not copied
		// into message, which would double the event's size.
		msg := perr.Error()
		if !utf8.ValidString(msg) {
			msg = strings.ToValidUTF8(msg, "\uFFFD")
		}
		p.enc.String("event.parse_error", msg)
		p.enc.Tag(sdk.TagParseError)
	}
	if truncated {
		p.enc.Tag(sdk.TagTruncated)
	}
	if !valid {
		p.enc.Tag(sdk.TagInvalidUTF8)
	}
	for _, t := range ev.Tags {
		if t != sdk.TagParseError && t != sdk.TagTruncated && t != sdk.TagInvalidUTF8 {
			p.enc.Tag(t)
		}
	}
	return p.enc.Bytes()
}

// cutAt shortens b to at most n bytes without splitting a UTF-8 sequence of
// an otherwise valid record.
func cutAt(b []byte, n int) []byte {
	cut := b[:n]
	if utf8.Valid(b) {
		for n > 0 && !utf8.RuneStart(b[n]) {
			n--
		}
		cut = b[:n]
	}
	return cut
}
