// Package report holds what every scanner-report parser shares beyond the
// syntax of its format: the byte source that enforces sdk.Limits.MaxBytes and
// knows line numbers, the emitter that enforces MaxFindings and keeps emit's
// errors apart from parse errors, the bounded evidence builder, and small
// normalisers for values scanners spell in many ways (scores, CWE ids, times,
// host names).
//
// Parse errors leave a parser as *sdk.ReportError built by Locate; an error
// returned by the caller's emit function is passed through untouched, as the
// sdk.ReportParser contract requires.
package report

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/vigil-sec/vigil/plugins/sdk"
)

var bom = []byte{0xEF, 0xBB, 0xBF}

// Source wraps a report reader. It fails with an error wrapping sdk.ErrLimit
// once more than max bytes arrive, drops a leading UTF-8 byte-order mark
// (encoding/json and encoding/csv do not), and counts the newlines it has
// passed on so that a decoder's byte offset can be turned into a line.
type Source struct {
	r       io.Reader
	max     int64
	n       int64 // bytes passed on, after the mark
	lines   int   // newlines passed on
	base    int64 // length of the dropped mark
	pending []byte
	started bool
}

// NewSource returns a Source reading r with at most max bytes.
func NewSource(r io.Reader, max int64) *Source {
	return &Source{r: r, max: max}
}

// Read implements io.Reader.
func (s *Source) Read(p []byte) (int, error) {
	if !s.started {
		s.started = true
		var head [3]byte
		n, err := io.ReadFull(s.r, head[:])
		if n == 3 && bytes.Equal(head[:], bom) {
			s.base = 3
		} else {
			s.pending = append(s.pending, head[:n]...)
		}
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			return 0, err
		}
	}
	if len(p) == 0 {
		return 0, nil
	}
	if s.n >= s.max {
		// Probe for one more byte: a report of exactly max bytes is fine.
		if len(s.pending) > 0 {
			return 0, s.limitErr()
		}
		var one [1]byte
		n, err := s.r.Read(one[:])
		if n > 0 {
			return 0, s.limitErr()
		}
		return 0, err
	}
	if rem := s.max - s.n; int64(len(p)) > rem {
		p = p[:rem]
	}
	var n int
	var err error
	if len(s.pending) > 0 {
		n = copy(p, s.pending)
		s.pending = s.pending[n:]
	} else {
		n, err = s.r.Read(p)
	}
	s.n += int64(n)
	s.lines += bytes.Count(p[:n], []byte{'\n'})
	return n, err
}

func (s *Source) limitErr() error {
	return fmt.Errorf("report larger than %d bytes: %w", s.max, sdk.ErrLimit)
}

// Offset turns a decoder's offset (bytes after the byte-order mark) into
// the report's, kept within what has been read so that an estimate (from a
// decoder that converted the encoding) never points past the input.
func (s *Source) Offset(decoded int64) int64 {
	return s.base + min(max(decoded, 0), s.n)
}

// LineAt returns the 1-based line of the byte that follows everything passed
// on except unread, the bytes a decoder has buffered but not consumed.
func (s *Source) LineAt(unread []byte) int {
	return s.lines - bytes.Count(unread, []byte{'\n'}) + 1
}

// emitError marks an error returned by the caller's emit function, which
// Parse must return as is rather than as a *sdk.ReportError.
type emitError struct{ err error }

func (e *emitError) Error() string { return e.err.Error() }
func (e *emitError) Unwrap() error { return e.err }

// Locate turns err into what Parse returns: nil stays nil, an error from
// emit is returned unchanged, a *sdk.ReportError is kept, and anything else
// becomes a *sdk.ReportError at offset and line.
func Locate(err error, offset int64, line int) error {
	if err == nil {
		return nil
	}
	var ee *emitError
	if errors.As(err, &ee) {
		return ee.err
	}
	var re *sdk.ReportError
	if errors.As(err, &re) {
		return re
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return &sdk.ReportError{Offset: offset, Line: line, Err: err}
}

// IsEmit reports whether err came from the caller's emit function; parsers
// use it to stop without adding context to such errors.
func IsEmit(err error) bool {
	var ee *emitError
	return errors.As(err, &ee)
}

// Emitter hands findings to the caller's emit function, one reused Finding
// at a time, and stops the parse once MaxFindings have been emitted or held.
type Emitter struct {
	emit    func(*sdk.Finding) error
	scanner string
	max     int
	n       int
	f       sdk.Finding
	held    []sdk.Finding
}

// NewEmitter returns an Emitter that stamps scanner on every finding.
func NewEmitter(scanner string, lim sdk.Limits, emit func(*sdk.Finding) error) *Emitter {
	return &Emitter{emit: emit, scanner: scanner, max: lim.WithDefaults().MaxFindings}
}

// Next resets the scratch finding and returns it with Scanner set.
func (e *Emitter) Next() *sdk.Finding {
	e.f.Reset()
	e.f.Scanner = e.scanner
	return &e.f
}

// Emit passes f to the caller after checking the findings limit.
func (e *Emitter) Emit(f *sdk.Finding) error {
	if err := e.count(); err != nil {
		return err
	}
	if err := e.emit(f); err != nil {
		return &emitError{err}
	}
	return nil
}

// Hold keeps a copy of f to be emitted by Release. Formats that write their
// rule definitions after the results (Nexpose, Qualys WAS and asset data
// reports) hold findings until the definitions have been read.
func (e *Emitter) Hold(f *sdk.Finding) error {
	if err := e.count(); err != nil {
		return err
	}
	c := *f
	c.CVEs = append([]string(nil), f.CVEs...)
	c.CWEs = append([]string(nil), f.CWEs...)
	c.References = append([]string(nil), f.References...)
	e.held = append(e.held, c)
	return nil
}

// Held reports how many findings wait for Release.
func (e *Emitter) Held() int { return len(e.held) }

// Release calls fill on each held finding, in the order held, and emits it.
func (e *Emitter) Release(fill func(*sdk.Finding)) error {
	held := e.held
	e.held = nil
	for i := range held {
		f := &held[i]
		if fill != nil {
			fill(f)
		}
		if err := e.emit(f); err != nil {
			return &emitError{err}
		}
	}
	return nil
}

// Count is the number of findings emitted or held so far.
func (e *Emitter) Count() int { return e.n }

func (e *Emitter) count() error {
	if e.n >= e.max {
		return fmt.Errorf("more than %d findings: %w", e.max, sdk.ErrLimit)
	}
	e.n++
	return nil
}

// LimitError returns an error wrapping sdk.ErrLimit for a value that exceeds
// a limit; what names the value ("text of <description>").
func LimitError(what string, limit int) error {
	return fmt.Errorf("%s exceeds %d: %w", what, limit, sdk.ErrLimit)
}

// IsXML peeks at r and reports whether its first byte that is not blank (or
// part of a UTF-8 byte-order mark) is '<'; for parsers that accept both XML
// and JSON. Read the report from the returned reader.
func IsXML(r io.Reader) (io.Reader, bool) {
	br := bufio.NewReader(r)
	for i := 0; i < br.Size(); i++ {
		b, err := br.Peek(i + 1)
		if err != nil {
			break
		}
		if c := b[i]; c != ' ' && c != '\t' && c != '\r' && c != '\n' && (i >= 3 || c != bom[i]) {
			return br, c == '<'
		}
	}
	return br, false
}
