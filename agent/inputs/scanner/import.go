// Package scanner imports security-scanner reports into the agent's buffer:
// the scanner input watches a drop directory, and the agent's import
// endpoint (vigil-agent import) takes single files. Each report is parsed by
// a report parser of plugins/builtin/scanners, streamed, never held whole in
// memory; its findings are appended like events, and its content hash is
// remembered in the buffer together with the progress, so a file is
// imported once however often it is dropped, and an import cut short by a
// crash resumes after the last finding appended. A report that breaks part
// way is never silently half-imported: an explicit import record says how
// many findings came before the error and where the error is.
package scanner

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/vigil-sec/vigil/agent/buffer"
	"github.com/vigil-sec/vigil/agent/inputs"
	"github.com/vigil-sec/vigil/agent/parsers"
	"github.com/vigil-sec/vigil/plugins/builtin/scanners"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// Counters are the import totals of one input.
type Counters struct {
	inputs.Counters
	FilesImported  atomic.Uint64 // whole reports
	FilesPartial   atomic.Uint64 // reports that broke part way
	FilesFailed    atomic.Uint64 // unreadable or of no known format
	FilesDuplicate atomic.Uint64 // already imported
	Findings       atomic.Uint64
}

// Snapshot returns the counters for status output.
func (c *Counters) Snapshot() map[string]uint64 {
	m := c.Counters.Snapshot()
	m["files_imported_total"] = c.FilesImported.Load()
	m["files_partial_total"] = c.FilesPartial.Load()
	m["files_failed_total"] = c.FilesFailed.Load()
	m["files_duplicate_total"] = c.FilesDuplicate.Load()
	m["findings_total"] = c.Findings.Load()
	return m
}

// Result says what became of one report.
type Result struct {
	File     string `json:"file"`
	SHA256   string `json:"sha256"`
	Parser   string `json:"parser,omitempty"`
	Findings int    `json:"findings"`
	// Duplicate: a file with this content was imported before; nothing
	// was appended.
	Duplicate bool `json:"duplicate,omitempty"`
	// Partial: the report broke after Findings findings, which were
	// imported together with a record that says so.
	Partial bool `json:"partial,omitempty"`
	// Error is why the report was not imported whole.
	Error string `json:"error,omitempty"`
}

// progress is what the buffer remembers of a report, under its hash.
type progress struct {
	File     string `json:"file"`
	Parser   string `json:"parser"`
	Done     int    `json:"done"` // findings appended
	Complete bool   `json:"complete"`
	Partial  bool   `json:"partial,omitempty"`
	Error    string `json:"error,omitempty"`
}

// Importer imports reports for one input. It is used by one goroutine at a
// time.
type Importer struct {
	input string
	sink  inputs.Sink
	ctr   *Counters
	log   *slog.Logger
	proc  *parsers.Processor
	// BatchSize bounds findings per buffer append (default 512).
	BatchSize int
	// Limits bound each report (sdk.Limits defaults when zero).
	Limits sdk.Limits
}

// NewImporter returns an importer that records events as coming from input.
func NewImporter(input string, sink inputs.Sink, ctr *Counters, log *slog.Logger) *Importer {
	return &Importer{input: input, sink: sink, ctr: ctr, log: log, proc: parsers.NewProcessor(input, nil, 0), BatchSize: 512}
}

func checkpointName(sum string) string { return "scan/" + sum }

// Import imports one report. parserID names the format ("scanner.nmap");
// empty detects it from the content. onProgress, when not nil, is called
// after each append with the findings imported so far. The returned error
// is for failures that stopped the import without recording anything (the
// buffer is closed, ctx ended); a bad report is a Result with Error set.
func (im *Importer) Import(ctx context.Context, path, parserID string, onProgress func(findings int)) (Result, error) {
	res := Result{File: path}
	sum, err := hashFile(path)
	if err != nil {
		im.ctr.FilesFailed.Add(1)
		res.Error = err.Error()
		return res, nil
	}
	res.SHA256 = sum
	var prev progress
	if v, ok, err := im.sink.Checkpoint(checkpointName(sum)); err != nil {
		return res, err
	} else if ok {
		if err := json.Unmarshal(v, &prev); err != nil {
			return res, fmt.Errorf("import %s: progress record: %w", path, err)
		}
	}
	if prev.Complete {
		im.ctr.FilesDuplicate.Add(1)
		res.Duplicate, res.Parser, res.Findings, res.Partial, res.Error = true, prev.Parser, prev.Done, prev.Partial, prev.Error
		return res, nil
	}
	f, err := os.Open(path)
	if err != nil {
		im.ctr.FilesFailed.Add(1)
		res.Error = err.Error()
		return res, nil
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(64 << 10)
	var p sdk.ReportParser
	if parserID != "" {
		var ok bool
		if p, ok = scanners.ByID(parserID); !ok {
			return res, fmt.Errorf("unknown report format %q", parserID)
		}
	} else if p, err = scanners.Detect(head); err != nil {
		im.ctr.FilesFailed.Add(1)
		res.Error = err.Error()
		return res, im.appendSummary(ctx, &res, progress{File: path, Complete: true, Error: res.Error})
	}
	res.Parser = p.ID()
	received := time.Now()
	cp := progress{File: path, Parser: p.ID()}
	var (
		recs  [][]byte
		arena []byte
		ends  []int
		n     int
		ev    sdk.Event
	)
	flush := func(final []byte) error {
		recs = recs[:0]
		start := 0
		for _, end := range ends {
			recs = append(recs, arena[start:end:end])
			start = end
		}
		if final != nil {
			recs = append(recs, final)
		}
		cp.Done = n
		v, _ := json.Marshal(cp)
		if _, err := im.sink.Append(ctx, recs, buffer.Checkpoint{Name: checkpointName(sum), Value: v}); err != nil {
			return err
		}
		im.ctr.Records.Add(uint64(len(recs)))
		arena, ends = arena[:0], ends[:0]
		if onProgress != nil {
			onProgress(n)
		}
		return nil
	}
	var appendErr error
	perr := p.Parse(br, im.Limits, func(fd *sdk.Finding) error {
		n++
		if n <= prev.Done {
			return nil // appended before a restart
		}
		ev.Reset()
		fd.ToEvent(&ev)
		ev.SetStr("file.name", filepath.Base(path))
		ev.SetStr("file.hash.sha256", sum)
		arena = append(arena, im.proc.ProcessEvent(&ev, p.ID(), received)...)
		ends = append(ends, len(arena))
		im.ctr.Findings.Add(1)
		if len(ends) >= im.BatchSize || len(arena) >= inputs.BatchByteLimit(im.sink) {
			if err := flush(nil); err != nil {
				appendErr = err
				return err
			}
		}
		return nil
	})
	if appendErr != nil {
		return res, appendErr
	}
	res.Findings = n
	cp.Complete = true
	if perr != nil {
		res.Partial = true
		res.Error = fmt.Sprintf("%s: %v", filepath.Base(path), perr)
		cp.Partial, cp.Error = true, res.Error
		im.ctr.FilesPartial.Add(1)
	} else {
		im.ctr.FilesImported.Add(1)
	}
	summary := im.summaryEvent(&res, received)
	cp.Done = n
	if err := flush(summary); err != nil {
		return res, err
	}
	if res.Partial {
		im.log.Warn("report imported in part", "file", path, "parser", res.Parser, "findings", n, "error", perr)
	} else {
		im.log.Info("report imported", "file", path, "parser", res.Parser, "findings", n)
	}
	return res, nil
}

// appendSummary appends only the import record (a report that could not be
// parsed at all) with the progress marked complete.
func (im *Importer) appendSummary(ctx context.Context, res *Result, cp progress) error {
	v, _ := json.Marshal(cp)
	rec := im.summaryEvent(res, time.Now())
	if _, err := im.sink.Append(ctx, [][]byte{rec}, buffer.Checkpoint{Name: checkpointName(res.SHA256), Value: v}); err != nil {
		return err
	}
	im.ctr.Records.Add(1)
	im.log.Warn("report not imported", "file", res.File, "error", res.Error)
	return nil
}

// summaryEvent is the import record: one per report, saying how it went.
func (im *Importer) summaryEvent(res *Result, received time.Time) []byte {
	var ev sdk.Event
	action, outcome := "report-imported", "success"
	switch {
	case res.Partial:
		action, outcome = "report-import-partial", "failure"
	case res.Error != "":
		action, outcome = "report-import-failed", "failure"
	}
	ev.Original = fmt.Sprintf("%s %s: %d findings", action, filepath.Base(res.File), res.Findings)
	if res.Error != "" {
		ev.Original += ": " + res.Error
	}
	ev.SetStr("event.kind", "event")
	ev.SetStr("event.dataset", "vigil.report_import")
	ev.SetStr("event.action", action)
	ev.SetStr("event.outcome", outcome)
	ev.SetStr("file.path", res.File)
	ev.SetStr("file.name", filepath.Base(res.File))
	ev.SetStr("file.hash.sha256", res.SHA256)
	ev.SetStr("vulnerability.scanner.parser", res.Parser)
	ev.SetInt("vigil.import.findings", int64(res.Findings))
	ev.SetStr("error.message", res.Error)
	id := res.Parser
	if id == "" {
		id = "scanner.unknown"
	}
	return append([]byte(nil), im.proc.ProcessEvent(&ev, id, received)...)
}

func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("read %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
