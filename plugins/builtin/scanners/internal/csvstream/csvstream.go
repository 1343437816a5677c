// Package csvstream reads CSV scanner exports row by row with sdk.Limits
// enforced (MaxBytes through report.Source, MaxField on every cell; CSV has
// no nesting) and gives access to cells by header name, so that the column
// sets of different exporters and versions map onto one parser.
package csvstream

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/plugins/builtin/scanners/internal/report"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// Reader reads one CSV report: a header row, then data rows.
type Reader struct {
	r       *csv.Reader
	src     *report.Source
	lim     sdk.Limits
	cols    map[string]int
	row     []string
	line    int   // line the current row starts on
	errAt   int64 // where the failed row (or the bad byte in it) starts
	errLine int   // the line csv reported a syntax error on
	format  string
}

// New returns a Reader over src under lim (defaults applied).
func New(src *report.Source, lim sdk.Limits) *Reader {
	r := csv.NewReader(src)
	r.FieldsPerRecord = -1 // exporters pad or drop trailing cells
	r.ReuseRecord = true
	return &Reader{r: r, src: src, lim: lim.WithDefaults(), errAt: -1}
}

// Open returns a Reader over report r under lim; format names the report
// kind in errors ("Nessus CSV").
func Open(format string, r io.Reader, lim sdk.Limits) *Reader {
	c := New(report.NewSource(r, lim.WithDefaults().MaxBytes), lim)
	c.format = format
	return c
}

// Header reads the header row. Names are matched case-insensitively with
// surrounding blanks ignored.
func (r *Reader) Header() error {
	rec, err := r.read()
	if err == io.EOF {
		return errors.New("empty report: no CSV header")
	}
	if err != nil {
		return err
	}
	r.cols = make(map[string]int, len(rec))
	for i, name := range rec {
		name = Norm(name)
		if _, dup := r.cols[name]; !dup {
			r.cols[name] = i
		}
	}
	return nil
}

// Has reports whether the header has the column.
func (r *Reader) Has(name string) bool {
	_, ok := r.cols[Norm(name)]
	return ok
}

// Next reads the next data row, skipping rows whose cells are all blank
// (spreadsheet tools leave them). It returns false at the end.
func (r *Reader) Next() (bool, error) {
	for {
		rec, err := r.read()
		if err == io.EOF {
			return false, nil
		}
		if err != nil {
			return false, err
		}
		blank := true
		for _, c := range rec {
			if strings.TrimSpace(c) != "" {
				blank = false
				break
			}
		}
		if !blank {
			r.row = rec
			return true, nil
		}
	}
}

func (r *Reader) read() ([]string, error) {
	start := r.r.InputOffset()
	rec, err := r.r.Read()
	if err != nil {
		r.errAt = start
		var pe *csv.ParseError
		if errors.As(err, &pe) {
			r.errLine = pe.Line
			if pe.Line == pe.StartLine && pe.Column > 0 {
				r.errAt = start + int64(pe.Column) - 1
			}
		}
		return nil, err
	}
	r.line, _ = r.r.FieldPos(0)
	for i, c := range rec {
		if len(c) > r.lim.MaxField {
			r.errAt, r.errLine = start, r.line
			return nil, report.LimitError(fmt.Sprintf("CSV cell %d", i+1), r.lim.MaxField)
		}
	}
	return rec, nil
}

// Get returns the trimmed cell of the first of names the header has.
func (r *Reader) Get(names ...string) string {
	for _, n := range names {
		if i, ok := r.cols[Norm(n)]; ok {
			if i < len(r.row) {
				return strings.TrimSpace(text(r.row[i]))
			}
			return ""
		}
	}
	return ""
}

// Line is the line on which the current row starts.
func (r *Reader) Line() int { return r.line }

// Err turns err into what Parse returns, locating parse errors at the
// reader's position (see report.Locate).
func (r *Reader) Err(err error) error {
	if err == nil || report.IsEmit(err) {
		return report.Locate(err, 0, 0)
	}
	if r.format != "" {
		err = fmt.Errorf("read %s report: %w", r.format, err)
	}
	at, line := r.errAt, r.errLine
	if line == 0 {
		line = r.line
	}
	if at < 0 {
		at = r.r.InputOffset()
	}
	return report.Locate(err, r.src.Offset(at), line)
}

// Norm is the form header names are compared in.
func Norm(name string) string {
	return strings.ToLower(strings.TrimSpace(name))
}

// Sniff returns the normalised header names of the first line of head, and
// false when head does not start with a CSV record of at least two cells.
func Sniff(head []byte) (map[string]bool, bool) {
	head = bytes.TrimPrefix(head, []byte{0xEF, 0xBB, 0xBF})
	r := csv.NewReader(bytes.NewReader(head))
	r.FieldsPerRecord = -1
	rec, err := r.Read()
	if err != nil || len(rec) < 2 {
		return nil, false
	}
	names := make(map[string]bool, len(rec))
	for _, n := range rec {
		names[Norm(n)] = true
	}
	return names, true
}

// text returns a cell as UTF-8. Spreadsheet tools save CSV in the Windows
// code page; a cell that is not UTF-8 is read as ISO-8859-1, which maps
// every byte to a character.
func text(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	r := make([]rune, 0, len(s))
	for i := 0; i < len(s); i++ {
		r = append(r, rune(s[i]))
	}
	return string(r)
}
