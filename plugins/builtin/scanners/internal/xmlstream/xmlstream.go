// Package xmlstream reads XML scanner reports as a stream with
// sdk.Limits enforced: nesting depth on every element, MaxField on every
// attribute and on the text of every element a parser reads, and MaxBytes
// through report.Source.
//
// A parser walks the document with Descend or Children and materialises
// only one record at a time (a ReportItem, a host, an issue) as a small Node
// tree, so memory stays proportional to the largest record, not the report.
// Text of the elements named as evidence is cut to report.EvidenceLimit
// instead of failing the parse; every other over-long value fails with an
// error wrapping sdk.ErrLimit.
package xmlstream

import (
	"bufio"
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/report"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// Decoder is a depth- and size-checked XML token reader over a report.
type Decoder struct {
	d        *xml.Decoder
	src      *report.Source
	lim      sdk.Limits
	depth    int
	evidence map[string]bool
	keep     int
	conv     *latin1 // set when the report declared a single-byte encoding
	format   string
}

// New returns a Decoder reading src under lim (defaults applied).
func New(src *report.Source, lim sdk.Limits) *Decoder {
	lim = lim.WithDefaults()
	xd := xml.NewDecoder(src)
	d := &Decoder{d: xd, src: src, lim: lim, keep: min(2*report.EvidenceMax, lim.MaxField)}
	xd.CharsetReader = func(label string, r io.Reader) (io.Reader, error) {
		cr, err := charsetReader(label, r)
		if l, ok := cr.(*latin1); ok {
			d.conv = l
		}
		return cr, err
	}
	// Scanners paste HTML into XML; the HTML entities are the ones seen.
	xd.Entity = xml.HTMLEntity
	return d
}

// Open returns a Decoder reading report r under lim; format names the
// report kind in errors ("Nessus").
func Open(format string, r io.Reader, lim sdk.Limits) *Decoder {
	d := New(report.NewSource(r, lim.WithDefaults().MaxBytes), lim)
	d.format = format
	return d
}

// Attr returns the value of the attribute of se with local name name.
func Attr(se xml.StartElement, name string) string {
	for _, a := range se.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// Evidence names elements (by local name) whose text is evidence: text beyond
// the evidence bound is dropped and counted in Node.Cut instead of failing.
func (d *Decoder) Evidence(names ...string) {
	if d.evidence == nil {
		d.evidence = make(map[string]bool, len(names))
	}
	for _, n := range names {
		d.evidence[n] = true
	}
}

// Limits returns the limits in force, defaults applied.
func (d *Decoder) Limits() sdk.Limits { return d.lim }

// Token returns the next token, counting depth and checking attributes.
// CharData is valid only until the next call.
func (d *Decoder) Token() (xml.Token, error) {
	tok, err := d.d.Token()
	if err != nil {
		return nil, err
	}
	switch t := tok.(type) {
	case xml.StartElement:
		if err := d.enter(t); err != nil {
			return nil, err
		}
	case xml.EndElement:
		d.depth--
	}
	// Text outside the records a parser reads is not held against MaxField:
	// encoding/xml has read it whole by now, so refusing it saves nothing,
	// and such values can be large in real reports (a current Nessus
	// policy's plugin_set is close to 1 MiB). Text read into a Node is
	// checked as it is kept.
	return tok, nil
}

// enter counts the depth of a start tag and checks its attributes.
func (d *Decoder) enter(t xml.StartElement) error {
	d.depth++
	if d.depth > d.lim.MaxDepth {
		return report.LimitError("XML nesting depth", d.lim.MaxDepth)
	}
	for _, a := range t.Attr {
		if len(a.Value) > d.lim.MaxField {
			return report.LimitError(fmt.Sprintf("attribute %s of <%s>", a.Name.Local, t.Name.Local), d.lim.MaxField)
		}
	}
	return nil
}

// trimPartial drops an incomplete UTF-8 sequence left at the end of b by a
// cut.
func trimPartial(b []byte) []byte {
	for i := len(b) - 1; i >= 0 && i >= len(b)-utf8.UTFMax; i-- {
		if utf8.RuneStart(b[i]) {
			if !utf8.FullRune(b[i:]) {
				return b[:i]
			}
			break
		}
	}
	return b
}

// Root skips the prolog (declaration, comments, doctype) and returns the
// document element. A report without one is malformed.
func (d *Decoder) Root() (xml.StartElement, error) {
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return xml.StartElement{}, errors.New("no XML root element")
		}
		if err != nil {
			return xml.StartElement{}, err
		}
		if se, ok := tok.(xml.StartElement); ok {
			return se, nil
		}
	}
}

// Finish reads what follows the root element (comments, whitespace) up to
// the end of the report, so that damage there is still reported.
func (d *Decoder) Finish() error {
	for {
		_, err := d.Token()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// Skip consumes the rest of the element whose start tag was just read.
func (d *Decoder) Skip() error {
	level := 0
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch tok.(type) {
		case xml.StartElement:
			level++
		case xml.EndElement:
			if level == 0 {
				return nil
			}
			level--
		}
	}
}

// Children calls fn for each child element of the element whose start tag
// was just read, up to its end tag. fn must consume the child (Node, Skip,
// Children or Descend).
func (d *Decoder) Children(fn func(xml.StartElement) error) error {
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := fn(t); err != nil {
				return err
			}
		case xml.EndElement:
			return nil
		}
	}
}

// Descend walks every element below the one whose start tag was just read,
// in document order, up to its end tag. fn returns true when it consumed the
// element (with Node or Skip); otherwise Descend walks into it.
func (d *Decoder) Descend(fn func(xml.StartElement) (bool, error)) error {
	level := 0
	for {
		tok, err := d.Token()
		if err != nil {
			return err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			done, err := fn(t)
			if err != nil {
				return err
			}
			if !done {
				level++
			}
		case xml.EndElement:
			if level == 0 {
				return nil
			}
			level--
		}
	}
}

// Node reads the element whose start tag was just read, with everything in
// it, into a tree.
func (d *Decoder) Node(start xml.StartElement) (*Node, error) {
	n := &Node{Name: start.Name.Local, Space: start.Name.Space, Attr: start.Attr}
	var text []byte
	cut := d.evidence[n.Name]
	for {
		tok, err := d.d.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if err := d.enter(t); err != nil {
				return nil, err
			}
			kid, err := d.Node(t)
			if err != nil {
				return nil, err
			}
			n.Kids = append(n.Kids, kid)
		case xml.CharData:
			switch {
			case cut && len(text)+len(t) > d.keep:
				room := d.keep - len(text)
				if room > 0 {
					text = append(text, t[:room]...)
				}
				n.Cut += len(t) - max(room, 0)
			case len(text)+len(t) > d.lim.MaxField:
				return nil, report.LimitError(fmt.Sprintf("text of <%s>", n.Name), d.lim.MaxField)
			default:
				text = append(text, t...)
			}
		case xml.EndElement:
			d.depth--
			if n.Cut > 0 {
				kept := trimPartial(text)
				n.Cut += len(text) - len(kept)
				text = kept
			}
			n.Text = string(text)
			return n, nil
		}
	}
}

// Err turns err into what Parse returns, locating parse errors at the
// decoder's position (see report.Locate).
func (d *Decoder) Err(err error) error {
	if err == nil || report.IsEmit(err) {
		return report.Locate(err, 0, 0)
	}
	line, _ := d.d.InputPos()
	var se *xml.SyntaxError
	if errors.As(err, &se) && se.Line > 0 {
		line = se.Line
	}
	if d.format != "" {
		err = fmt.Errorf("read %s report: %w", d.format, err)
	}
	off := d.d.InputOffset()
	if d.conv != nil {
		// The decoder counts converted bytes; the report has one byte
		// fewer for each character converted to two.
		off -= d.conv.extra
	}
	return report.Locate(err, d.src.Offset(off), line)
}

// Node is one element read whole: its local name, attributes, direct text
// and child elements.
type Node struct {
	Name  string
	Space string // namespace URI
	Attr  []xml.Attr
	Text  string
	Cut   int // bytes of evidence text dropped
	Kids  []*Node
}

// Get returns the first child named name, or nil. It is nil-safe, so calls
// chain: n.Get("a").Get("b").String().
func (n *Node) Get(name string) *Node {
	if n == nil {
		return nil
	}
	for _, k := range n.Kids {
		if k.Name == name {
			return k
		}
	}
	return nil
}

// All returns the children named name.
func (n *Node) All(name string) []*Node {
	if n == nil {
		return nil
	}
	var out []*Node
	for _, k := range n.Kids {
		if k.Name == name {
			out = append(out, k)
		}
	}
	return out
}

// Path follows child names separated by "/" and returns the node, or nil.
func (n *Node) Path(path string) *Node {
	for _, name := range strings.Split(path, "/") {
		n = n.Get(name)
	}
	return n
}

// Str returns the trimmed text of the node at path ("" for n itself).
func (n *Node) Str(path string) string {
	if path != "" {
		n = n.Path(path)
	}
	if n == nil {
		return ""
	}
	return strings.TrimSpace(n.Text)
}

// AttrVal returns the value of the attribute with local name name.
func (n *Node) AttrVal(name string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attr {
		if a.Name.Local == name {
			return a.Value
		}
	}
	return ""
}

// Walk calls fn for n and every node below it, in document order.
func (n *Node) Walk(fn func(*Node)) {
	if n == nil {
		return
	}
	fn(n)
	for _, k := range n.Kids {
		k.Walk(fn)
	}
}

// Flat returns the text of the whole subtree, one line per element that has
// text, with runs of blanks inside a line collapsed: the form wanted for
// report prose split into <Paragraph> and <ListItem> elements.
func (n *Node) Flat() string {
	var lines []string
	n.Walk(func(k *Node) {
		if t := strings.Join(strings.Fields(k.Text), " "); t != "" {
			lines = append(lines, t)
		}
	})
	return strings.Join(lines, "\n")
}

// Sniff returns the document element of the start of a report, and false
// when head holds none (not XML, or cut before the root).
func Sniff(head []byte) (xml.StartElement, bool) {
	head = bytes.TrimPrefix(head, []byte{0xEF, 0xBB, 0xBF})
	d := xml.NewDecoder(bytes.NewReader(head))
	d.CharsetReader = charsetReader
	d.Strict = false
	for range 64 {
		tok, err := d.Token()
		if err != nil {
			return xml.StartElement{}, false
		}
		switch t := tok.(type) {
		case xml.StartElement:
			return t, true
		case xml.CharData:
			if len(bytes.TrimSpace(t)) > 0 {
				return xml.StartElement{}, false
			}
		}
	}
	return xml.StartElement{}, false
}

// charsetReader accepts the single-byte encodings scanners declare besides
// UTF-8. windows-1252 is read as ISO-8859-1, which differs only in 0x80-0x9F.
func charsetReader(label string, r io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "windows-1252", "cp1252":
		br, ok := r.(io.ByteReader)
		if !ok {
			br = bufio.NewReader(r)
		}
		return &latin1{r: br}, nil
	case "us-ascii", "ascii":
		return r, nil
	}
	return nil, fmt.Errorf("unsupported XML encoding %q", label)
}

// latin1 converts ISO-8859-1 to UTF-8 a byte at a time. It is an
// io.ByteReader so that encoding/xml reads it without buffering ahead, which
// keeps extra (the bytes added by the conversion so far) in step with the
// decoder's offset.
type latin1 struct {
	r     io.ByteReader
	half  byte // second byte of a two-byte sequence not yet delivered
	extra int64
}

func (l *latin1) ReadByte() (byte, error) {
	if l.half != 0 {
		b := l.half
		l.half = 0
		l.extra++
		return b, nil
	}
	b, err := l.r.ReadByte()
	if err != nil || b < 0x80 {
		return b, err
	}
	l.half = 0x80 | b&0x3F
	return 0xC0 | b>>6, nil
}

func (l *latin1) Read(p []byte) (int, error) {
	for i := range p {
		b, err := l.ReadByte()
		if err != nil {
			return i, err
		}
		p[i] = b
	}
	return len(p), nil
}
