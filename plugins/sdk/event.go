package sdk

import (
	"errors"
	"time"
)

// APIVersion is the semantic version of the parser surface. It changes only
// by the compatibility rules in docs/protocol.md.
const APIVersion = "0.1.0"

// Kind says which member of a Field holds its value.
type Kind uint8

const (
	KindString Kind = iota
	KindInt
	KindFloat
	KindBool
)

// Field is one ECS-named value. Fields are kept in a slice rather than a map so
// that a parser can fill an Event without allocating per field.
type Field struct {
	Key   string
	Kind  Kind
	Str   string
	Int   int64
	Float float64
	Bool  bool
}

// Value returns the field's value as a Go value suitable for JSON encoding.
func (f Field) Value() any {
	switch f.Kind {
	case KindInt:
		return f.Int
	case KindFloat:
		return f.Float
	case KindBool:
		return f.Bool
	default:
		return f.Str
	}
}

// Tags the pipeline sets on an event (ECS "tags").
const (
	TagTruncated   = "truncated"    // the raw record was cut at the line limit
	TagInvalidUTF8 = "invalid_utf8" // the raw record is not valid UTF-8; kept as is
	TagParseError  = "parse_error"  // the parser failed; see event.parse_error
)

// Event is one normalized record. The raw record is always kept in Original
// (ECS event.original).
type Event struct {
	// Timestamp is @timestamp: the time the record itself carries, or the zero
	// time when it carries none (the pipeline then uses the receive time).
	Timestamp time.Time
	// Original is event.original, the raw record exactly as received (after
	// truncation at the line limit).
	Original string
	// Fields holds every other ECS field, in the order the parser set them.
	Fields []Field
	// Tags holds pipeline flags (TagTruncated, TagInvalidUTF8, TagParseError).
	Tags []string
}

// Reset clears the event for reuse without giving up its backing arrays.
func (e *Event) Reset() {
	e.Timestamp = time.Time{}
	e.Original = ""
	e.Fields = e.Fields[:0]
	e.Tags = e.Tags[:0]
}

// SetStr appends a string field; an empty value is not stored.
func (e *Event) SetStr(key, v string) {
	if v == "" {
		return
	}
	e.Fields = append(e.Fields, Field{Key: key, Kind: KindString, Str: v})
}

// SetInt appends an integer field.
func (e *Event) SetInt(key string, v int64) {
	e.Fields = append(e.Fields, Field{Key: key, Kind: KindInt, Int: v})
}

// SetFloat appends a floating-point field.
func (e *Event) SetFloat(key string, v float64) {
	e.Fields = append(e.Fields, Field{Key: key, Kind: KindFloat, Float: v})
}

// SetBool appends a boolean field.
func (e *Event) SetBool(key string, v bool) {
	e.Fields = append(e.Fields, Field{Key: key, Kind: KindBool, Bool: v})
}

// Get returns the first field with the given key.
func (e *Event) Get(key string) (Field, bool) {
	for _, f := range e.Fields {
		if f.Key == key {
			return f, true
		}
	}
	return Field{}, false
}

// AddTag adds a tag once.
func (e *Event) AddTag(tag string) {
	for _, t := range e.Tags {
		if t == tag {
			return
		}
	}
	e.Tags = append(e.Tags, tag)
}

// ErrNotMatched is returned by a parser when the record is not in its format.
// The pipeline then keeps the record as a raw event with event.parse_error.
var ErrNotMatched = errors.New("record not in this parser's format")

// Parser turns one raw record into a normalized event.
//
// Parse must not retain raw or ev after it returns, must set ev.Original, and
// must fill whatever it could even when it returns an error: the pipeline keeps
// the event either way (a parse failure is recorded, never dropped). Parse must
// be safe to call from one goroutine at a time per Parser value; the pipeline
// gives each input its own Parser.
type Parser interface {
	// ID is the dotted component id, for example "parser.syslog_rfc5424".
	ID() string
	Parse(raw []byte, ev *Event) error
}
