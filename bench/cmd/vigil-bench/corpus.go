package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// corpus is the set of log lines the corpus-based figures use, in file order.
type corpus struct {
	source string   // "shared corpus DIR" or "repository samples"
	files  []string // files the lines came from, sorted
	lines  [][]byte // non-empty lines, CR/LF removed
	bytes  int      // sum of len(lines[i])
}

// loadCorpus reads every record file (*.log, *.raw) under dir, or, when dir
// does not exist, the repository's own samples: test/demo/sample.log and
// plugins/builtin/syslog/testdata/*.log. Expectation tables, manifests and
// metadata (*.tsv, *.csv, *.json, *.md, *.yml) are not log records and are
// skipped.
func loadCorpus(dir, root string) (*corpus, error) {
	c := &corpus{}
	if st, err := os.Stat(dir); err == nil && st.IsDir() {
		c.source = "shared corpus " + filepath.Clean(dir)
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && (strings.HasSuffix(p, ".log") || strings.HasSuffix(p, ".raw")) {
				c.files = append(c.files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("read corpus %s: %w", dir, err)
		}
	} else {
		c.source = fmt.Sprintf("repository samples (%s not found)", filepath.Clean(dir))
		c.files = append(c.files, filepath.Join(root, "test", "demo", "sample.log"))
		m, err := filepath.Glob(filepath.Join(root, "plugins", "builtin", "syslog", "testdata", "*.log"))
		if err != nil {
			return nil, err
		}
		c.files = append(c.files, m...)
	}
	sort.Strings(c.files)
	for _, f := range c.files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, fmt.Errorf("read corpus: %w", err)
		}
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			l := bytes.TrimRight(sc.Bytes(), "\r")
			if len(l) == 0 {
				continue
			}
			c.lines = append(c.lines, append([]byte(nil), l...))
			c.bytes += len(l)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("read corpus %s: %w", f, err)
		}
	}
	if len(c.lines) == 0 {
		return nil, fmt.Errorf("corpus %s: no log lines", c.source)
	}
	return c, nil
}

func (c *corpus) describe() string {
	return fmt.Sprintf("%s: %d files, %d lines, %d bytes (%.0f bytes/line)",
		c.source, len(c.files), len(c.lines), c.bytes, float64(c.bytes)/float64(len(c.lines)))
}

// line returns the corpus line i, cycling through the corpus.
func (c *corpus) line(i int) []byte { return c.lines[i%len(c.lines)] }

// writeLines writes n corpus lines, starting at line offset, one per line, to
// path; sysloggen -file sends them.
func (c *corpus) writeLines(path string, offset, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	for i := 0; i < n; i++ {
		w.Write(c.line(offset + i))
		w.WriteByte('\n')
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
