package command

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/vigil-sec/vigil/agent/parsers"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// detectOrder is the order line parsers are tried in when none is given:
// the specific formats first, so that on a tie they win over the generic
// syslog parser that would also accept their lines.
var detectOrder = []string{"cef", "leef", "json", "cisco_asa", "iptables", "sshd", "accesslog", "kv", "syslog"}

// detectLines is how many records detection looks at.
const detectLines = 200

// runParse is `vigil-agent parse [-parser ID] FILE|-`: it runs a parser on a
// file and prints one JSON object per event or finding, then a summary on
// stderr. It needs no running agent and no enrollment.
func runParse(env Env, args []string) error {
	fs := newFlags("parse", env)
	parserID := fs.String("parser", "", "parser or report format (syslog, cef, ..., scanner.nmap, ...); detected from the content when not given")
	maxLine := fs.Int("max-line", parsers.DefaultMaxLine, "record size limit in bytes (longer records are cut)")
	if err := parsePositional(fs, args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return &usageError{"usage: vigil-agent parse [-parser ID] FILE|-"}
	}
	name := fs.Arg(0)
	var in io.Reader = env.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		in = f
	}
	br := bufio.NewReaderSize(in, 64<<10)
	head, _ := br.Peek(64 << 10) // short files give less, with io.EOF
	out := bufio.NewWriter(env.Stdout)
	defer out.Flush()

	if rp, ok, err := reportParser(*parserID, head); err != nil {
		return err
	} else if ok {
		return parseReport(env, out, rp, name, br)
	}
	lp, err := lineParser(*parserID, head)
	if err != nil {
		return err
	}
	return parseLines(env, out, lp, br, *maxLine)
}

// reportParser picks a scanner report parser: the one named, or the one
// whose detection accepts the head when no parser is named.
func reportParser(id string, head []byte) (sdk.ReportParser, bool, error) {
	if id != "" {
		if p, ok := scanners.ByID(id); ok {
			return p, true, nil
		}
		return nil, false, nil
	}
	p, err := scanners.Detect(head)
	if err != nil {
		return nil, false, nil // not a report: try line formats
	}
	return p, true, nil
}

// lineParser picks a line parser: the one named, or the one that parses
// most of the first records (the earliest in detectOrder on a tie).
func lineParser(id string, head []byte) (sdk.Parser, error) {
	if id != "" {
		return parsers.New(id)
	}
	var lines [][]byte
	for _, l := range bytes.Split(head, []byte("\n")) {
		l = bytes.TrimRight(l, "\r")
		if len(l) > 0 {
			lines = append(lines, l)
		}
		if len(lines) == detectLines {
			break
		}
	}
	if len(lines) > 1 && len(head) == 64<<10 {
		lines = lines[:len(lines)-1] // the last line may be cut by the peek
	}
	best, bestScore := "raw", 0
	var ev sdk.Event
	for _, name := range detectOrder {
		p, err := parsers.New(name)
		if err != nil {
			continue
		}
		score := 0
		for _, l := range lines {
			ev.Reset()
			if p.Parse(l, &ev) == nil {
				score++
			}
		}
		if score > bestScore {
			best, bestScore = name, score
		}
	}
	return parsers.New(best)
}

func parseLines(env Env, out *bufio.Writer, p sdk.Parser, r *bufio.Reader, maxLine int) error {
	var ev sdk.Event
	records, failed, notMatched := 0, 0, 0
	enc := json.NewEncoder(out)
	for {
		line, err := r.ReadBytes('\n')
		if len(line) > 0 {
			line = bytes.TrimRight(line, "\r\n")
			if len(line) > 0 {
				if len(line) > maxLine {
					line = line[:maxLine]
				}
				records++
				ev.Reset()
				perr := p.Parse(line, &ev)
				if ev.Original == "" {
					ev.Original = string(line)
				}
				m := eventJSON(&ev, p.ID())
				switch {
				case errors.Is(perr, sdk.ErrNotMatched):
					notMatched++
					m["event.parse_error"] = perr.Error()
				case perr != nil:
					failed++
					m["event.parse_error"] = perr.Error()
				}
				if err := enc.Encode(m); err != nil {
					return err
				}
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
	}
	fmt.Fprintf(env.Stderr, "%s: %d records, %d parsed, %d not in the format, %d parse errors\n", p.ID(), records, records-failed-notMatched, notMatched, failed)
	return nil
}

func parseReport(env Env, out *bufio.Writer, p sdk.ReportParser, name string, r io.Reader) error {
	enc := json.NewEncoder(out)
	n := 0
	var ev sdk.Event
	err := p.Parse(r, sdk.Limits{}, func(f *sdk.Finding) error {
		n++
		ev.Reset()
		f.ToEvent(&ev)
		return enc.Encode(eventJSON(&ev, p.ID()))
	})
	if err != nil {
		fmt.Fprintf(env.Stderr, "%s: %s: %d findings before the error\n", p.ID(), name, n)
		return fmt.Errorf("%s: %w", name, err)
	}
	fmt.Fprintf(env.Stderr, "%s: %s: %d findings\n", p.ID(), name, n)
	return nil
}

// eventJSON flattens an event to one JSON object: ECS names as keys, a key
// set more than once becoming an array.
func eventJSON(ev *sdk.Event, parser string) map[string]any {
	m := map[string]any{"vigil.parser": parser, "event.original": ev.Original}
	if !ev.Timestamp.IsZero() {
		m["@timestamp"] = ev.Timestamp.UTC().Format(time.RFC3339Nano)
	}
	for _, f := range ev.Fields {
		v := f.Value()
		switch old := m[f.Key].(type) {
		case nil:
			m[f.Key] = v
		case []any:
			m[f.Key] = append(old, v)
		default:
			m[f.Key] = []any{old, v}
		}
	}
	if len(ev.Tags) > 0 {
		m["tags"] = append([]string(nil), ev.Tags...)
	}
	return m
}
