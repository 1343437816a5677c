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
}

// Stats counts what a Processor flagged.
type Stats struct {
	Records     uint64
	Truncated   uint64
	InvalidUTF8 uint64
	ParseErrors uint64
}

// NewProcessor returns a Processor for the named input.
func NewProcessor(input string, p sdk.Parser, maxLine int) *Processor {
	if maxLine <= 0 {
		maxLine = DefaultMaxLine
	}
	return &Processor{input: input, parser: p, maxLine: maxLine}
}

// Stats returns the counters so far.
func (p *Processor) Stats() Stats { return p.stats }

// Process parses one record and returns its encoded event, valid until the
// next call. received is when the agent read the record; it becomes
// event.created, and @timestamp when the record carries no time.
func (p *Processor) Process(raw []byte, received time.Time) []byte {
	// Millisecond precision is what event.created needs, and it lets
	// records read in the same millisecond share their time bytes, which
	// compresses markedly better than nanosecond noise.
	received = received.Truncate(time.Millisecond)
	p.stats.Records++
	truncated := false
	if len(raw) > p.maxLine {
		raw = cutAt(raw, p.maxLine)
		truncated = true
		p.stats.Truncated++
	}
	valid := utf8.Valid(raw)
	p.ev.Reset()
	perr := p.parser.Parse(raw, &p.ev)
	ts := received.UnixNano()
	if !p.ev.Timestamp.IsZero() {
		ts = p.ev.Timestamp.UnixNano()
	}
	orig := ""
	if valid {
		if orig = p.ev.Original; orig == "" {
			orig = string(raw)
		}
	}
	p.enc.Begin(ts, received.UnixNano(), p.input, p.parser.ID(), orig)
	if !valid {
		p.enc.OriginalBytes(raw)
		p.stats.InvalidUTF8++
	}
	for _, f := range p.ev.Fields {
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
	for _, t := range p.ev.Tags {
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
