// Package jsonstream reads JSON scanner reports as a stream of tokens with
// sdk.Limits enforced: nesting depth on every array and object, MaxField on
// every key and scalar a parser reads, MaxBytes through report.Source.
//
// A parser walks the document with Object and Array and materialises one
// record at a time (a match, a vulnerability, a result line) as a Value tree.
// String values under keys named as evidence are cut to the evidence bound
// rather than failing; any other over-long value fails with an error wrapping
// sdk.ErrLimit. Several top-level values in a row (JSON Lines) are read one
// after another.
package jsonstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/report"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// frame is one open array or object: for an object, whether the next string
// is a key, and the key whose value is being read.
type frame struct {
	obj     bool
	wantKey bool
	key     string
}

type token struct {
	tok json.Token
	cut int
}

// Decoder is a depth- and size-checked JSON token reader over a report.
type Decoder struct {
	d        *json.Decoder
	src      *report.Source
	lim      sdk.Limits
	stack    []frame
	evidence map[string]bool
	keep     int
	peeked   *token
	format   string
	skipping bool // inside Skip: values are dropped, not kept
}

// New returns a Decoder reading src under lim (defaults applied). Numbers are
// kept as their literal text.
func New(src *report.Source, lim sdk.Limits) *Decoder {
	lim = lim.WithDefaults()
	d := json.NewDecoder(src)
	d.UseNumber()
	return &Decoder{d: d, src: src, lim: lim, keep: min(2*report.EvidenceMax, lim.MaxField)}
}

// Open returns a Decoder reading report r under lim; format names the
// report kind in errors ("Trivy").
func Open(format string, r io.Reader, lim sdk.Limits) *Decoder {
	d := New(report.NewSource(r, lim.WithDefaults().MaxBytes), lim)
	d.format = format
	return d
}

// Evidence names keys whose string values are evidence: beyond the evidence
// bound they are cut (Value.Cut counts the bytes dropped) instead of failing.
func (d *Decoder) Evidence(keys ...string) {
	if d.evidence == nil {
		d.evidence = make(map[string]bool, len(keys))
	}
	for _, k := range keys {
		d.evidence[k] = true
	}
}

// Limits returns the limits in force, defaults applied.
func (d *Decoder) Limits() sdk.Limits { return d.lim }

// next reads one token from the underlying decoder and applies the limits.
func (d *Decoder) next() (token, error) {
	tok, err := d.d.Token()
	if err == io.EOF && len(d.stack) > 0 {
		// encoding/json reports a report cut inside a value as a plain EOF.
		return token{}, io.ErrUnexpectedEOF
	}
	if err != nil {
		return token{}, err
	}
	var top *frame
	if n := len(d.stack); n > 0 {
		top = &d.stack[n-1]
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{', '[':
			if top != nil && top.obj {
				top.wantKey = true
			}
			if len(d.stack) >= d.lim.MaxDepth {
				return token{}, report.LimitError("JSON nesting depth", d.lim.MaxDepth)
			}
			d.stack = append(d.stack, frame{obj: t == '{', wantKey: true})
		default:
			d.stack = d.stack[:len(d.stack)-1]
		}
	case string:
		if top != nil && top.obj && top.wantKey {
			if len(t) > d.lim.MaxField && !d.skipping {
				return token{}, report.LimitError("JSON key", d.lim.MaxField)
			}
			top.key, top.wantKey = t, false
			return token{tok: t}, nil
		}
		key := ""
		if top != nil && top.obj {
			key, top.wantKey = top.key, true
		}
		if d.skipping {
			break
		}
		if len(t) > d.lim.MaxField || d.evidence[key] && len(t) > d.keep {
			if !d.evidence[key] {
				return token{}, report.LimitError(fmt.Sprintf("JSON string value of %q", key), d.lim.MaxField)
			}
			kept := report.Prefix(t, d.keep)
			return token{tok: kept, cut: len(t) - len(kept)}, nil
		}
	case json.Number:
		if top != nil && top.obj {
			top.wantKey = true
		}
		if len(t) > d.lim.MaxField {
			return token{}, report.LimitError("JSON number", d.lim.MaxField)
		}
	default: // bool, null
		if top != nil && top.obj {
			top.wantKey = true
		}
	}
	return token{tok: tok}, nil
}

func (d *Decoder) take() (token, error) {
	if d.peeked != nil {
		t := *d.peeked
		d.peeked = nil
		return t, nil
	}
	return d.next()
}

// Peek returns the next token without consuming it; io.EOF at the end of the
// report (between top-level values).
func (d *Decoder) Peek() (json.Token, error) {
	if d.peeked == nil {
		t, err := d.next()
		if err != nil {
			return nil, err
		}
		d.peeked = &t
	}
	return d.peeked.tok, nil
}

// Value reads the next complete value.
func (d *Decoder) Value() (*Value, error) {
	t, err := d.take()
	if err != nil {
		return nil, err
	}
	return d.build(t)
}

func (d *Decoder) build(t token) (*Value, error) {
	switch tok := t.tok.(type) {
	case json.Delim:
		switch tok {
		case '{':
			v := &Value{Kind: Object}
			for {
				kt, err := d.take()
				if err != nil {
					return nil, err
				}
				if kt.tok == json.Delim('}') {
					return v, nil
				}
				key, ok := kt.tok.(string)
				if !ok {
					return nil, fmt.Errorf("object key expected, found %v", kt.tok)
				}
				val, err := d.Value()
				if err != nil {
					return nil, err
				}
				v.Keys = append(v.Keys, key)
				v.Vals = append(v.Vals, val)
			}
		case '[':
			v := &Value{Kind: Array}
			for {
				p, err := d.Peek()
				if err != nil {
					return nil, err
				}
				if p == json.Delim(']') {
					_, _ = d.take()
					return v, nil
				}
				el, err := d.Value()
				if err != nil {
					return nil, err
				}
				v.Arr = append(v.Arr, el)
			}
		}
		return nil, fmt.Errorf("unexpected %v", tok)
	case string:
		return &Value{Kind: String, S: tok, Cut: t.cut}, nil
	case json.Number:
		return &Value{Kind: Number, S: string(tok)}, nil
	case bool:
		return &Value{Kind: Bool, S: strconv.FormatBool(tok)}, nil
	case nil:
		return &Value{Kind: Null}, nil
	}
	return nil, fmt.Errorf("unexpected token %v", t.tok)
}

// Skip consumes the next value. Strings in it are not held against
// MaxField: encoding/json has read each whole by the time it could be
// checked, so refusing it would save nothing, and nothing is kept.
func (d *Decoder) Skip() error {
	if !d.skipping {
		d.skipping = true
		defer func() { d.skipping = false }()
	}
	level := 0
	for {
		t, err := d.take()
		if err != nil {
			return err
		}
		switch t.tok {
		case json.Delim('{'), json.Delim('['):
			level++
		case json.Delim('}'), json.Delim(']'):
			level--
		}
		if level == 0 {
			return nil
		}
	}
}

// Object reads the next value as an object, calling fn with each key; fn
// must consume the member's value (Value, Skip, Object or Array). null is an
// empty object; any other value is an error.
func (d *Decoder) Object(fn func(key string) error) error {
	t, err := d.take()
	if err != nil {
		return err
	}
	switch t.tok {
	case nil:
		return nil
	case json.Delim('{'):
	default:
		return fmt.Errorf("object expected, found %s", describe(t.tok))
	}
	for {
		kt, err := d.take()
		if err != nil {
			return err
		}
		if kt.tok == json.Delim('}') {
			return nil
		}
		key, ok := kt.tok.(string)
		if !ok {
			return fmt.Errorf("object key expected, found %s", describe(kt.tok))
		}
		if err := fn(key); err != nil {
			return err
		}
	}
}

// Array reads the next value as a list, calling fn once per element; fn
// must consume it. null is an empty list, and a value that is not an array
// is a list of one, because several exporters (ZAP's legacy report, Nikto)
// write a single element without the brackets.
func (d *Decoder) Array(fn func() error) error {
	p, err := d.Peek()
	if err != nil {
		return err
	}
	switch p {
	case nil:
		_, err := d.take()
		return err
	case json.Delim('['):
		if _, err := d.take(); err != nil {
			return err
		}
	default:
		return fn()
	}
	for {
		p, err := d.Peek()
		if err != nil {
			return err
		}
		if p == json.Delim(']') {
			_, err := d.take()
			return err
		}
		if err := fn(); err != nil {
			return err
		}
	}
}

// Start reads the first token of the report without consuming it; an empty
// report is an error.
func (d *Decoder) Start() (json.Token, error) {
	p, err := d.Peek()
	if err == io.EOF {
		return nil, errors.New("empty report")
	}
	return p, err
}

// Finish checks that nothing but blanks follows the report's value.
func (d *Decoder) Finish() error {
	p, err := d.Peek()
	if err == io.EOF {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("unexpected %s after the report", describe(p))
}

// Err turns err into what Parse returns, locating parse errors at the
// decoder's offset (see report.Locate).
func (d *Decoder) Err(err error) error {
	if err == nil || report.IsEmit(err) {
		return report.Locate(err, 0, 0)
	}
	if d.format != "" {
		err = fmt.Errorf("read %s report: %w", d.format, err)
	}
	var unread bytes.Buffer
	_, _ = unread.ReadFrom(d.d.Buffered())
	return report.Locate(err, d.src.Offset(d.d.InputOffset()), d.src.LineAt(unread.Bytes()))
}

func describe(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		return fmt.Sprintf("%q", string(t))
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", tok)
}

// Kind is the type of a Value.
type Kind uint8

// The JSON value kinds.
const (
	Null Kind = iota
	Bool
	Number
	String
	Array
	Object
)

// Value is one JSON value read whole. Scalars keep their text in S (numbers
// as written, booleans as "true"/"false"); objects keep key order.
type Value struct {
	Kind Kind
	S    string
	Cut  int // bytes of an evidence string dropped
	Arr  []*Value
	Keys []string
	Vals []*Value
}

// Get returns the member key of an object, or nil. It is nil-safe, so calls
// chain.
func (v *Value) Get(key string) *Value {
	if v == nil || v.Kind != Object {
		return nil
	}
	for i, k := range v.Keys {
		if k == key {
			return v.Vals[i]
		}
	}
	return nil
}

// Path follows object keys.
func (v *Value) Path(keys ...string) *Value {
	for _, k := range keys {
		v = v.Get(k)
	}
	return v
}

// Str returns a scalar's text, trimmed; "" for null, arrays and objects.
func (v *Value) Str() string {
	if v == nil || v.Kind == Array || v.Kind == Object {
		return ""
	}
	return strings.TrimSpace(v.S)
}

// Float returns a number (or a string holding one), and false otherwise.
func (v *Value) Float() (float64, bool) {
	if v == nil || v.Kind != Number && v.Kind != String {
		return 0, false
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(v.S), 64)
	return f, err == nil
}

// Items returns an array's elements; any other non-null value is a list of
// one (see Decoder.Array), null or missing an empty list.
func (v *Value) Items() []*Value {
	switch {
	case v == nil || v.Kind == Null:
		return nil
	case v.Kind == Array:
		return v.Arr
	}
	return []*Value{v}
}

// Strings returns the scalar texts of Items, skipping empty ones.
func (v *Value) Strings() []string {
	var out []string
	for _, it := range v.Items() {
		if s := it.Str(); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// Head is what Sniff learns from the start of a JSON report.
type Head struct {
	// Array is true when the report is an array (its first element is the
	// record described below).
	Array bool
	// Keys holds key paths of the first record up to three levels, joined
	// by "/" ("Results/Target", "info/severity"); arrays are transparent.
	Keys map[string]bool
	// Strings holds the string values of the record's top-level keys.
	Strings map[string]string
}

// Has reports whether any of the key paths is present.
func (h Head) Has(paths ...string) bool {
	for _, p := range paths {
		if h.Keys[p] {
			return true
		}
	}
	return false
}

// Sniff reads the start of a report (possibly cut anywhere) and returns
// what it holds; ok is false when head does not start with a JSON object or
// array of objects.
func Sniff(head []byte) (h Head, ok bool) {
	head = bytes.TrimPrefix(head, []byte{0xEF, 0xBB, 0xBF})
	d := json.NewDecoder(bytes.NewReader(head))
	h = Head{Keys: map[string]bool{}, Strings: map[string]string{}}
	first, err := d.Token()
	if err != nil {
		return h, false
	}
	switch first {
	case json.Delim('['):
		h.Array = true
		t, err := d.Token()
		if err != nil || t != json.Delim('{') {
			return h, false
		}
	case json.Delim('{'):
	default:
		return h, false
	}
	// Walk the record keeping, per open array or object, the key path that
	// leads to it and the key being read.
	type level struct {
		obj, wantKey bool
		prefix, key  string
	}
	join := func(a, b string) string {
		if a == "" {
			return b
		}
		return a + "/" + b
	}
	stack := []level{{obj: true, wantKey: true}}
	for len(stack) > 0 {
		t, err := d.Token()
		if err != nil {
			break // cut off: keep what was seen
		}
		top := &stack[len(stack)-1]
		switch tok := t.(type) {
		case json.Delim:
			switch tok {
			case '{', '[':
				p := top.prefix
				if top.obj {
					p = join(top.prefix, top.key)
					top.wantKey = true
				}
				stack = append(stack, level{obj: tok == '{', wantKey: true, prefix: p})
			default:
				stack = stack[:len(stack)-1]
			}
		case string:
			if top.obj && top.wantKey {
				top.key, top.wantKey = tok, false
				if p := join(top.prefix, tok); strings.Count(p, "/") < 3 {
					h.Keys[p] = true
				}
				continue
			}
			if top.obj {
				if len(stack) == 1 {
					h.Strings[top.key] = tok
				}
				top.wantKey = true
			}
		default:
			if top.obj {
				top.wantKey = true
			}
		}
	}
	return h, true
}
