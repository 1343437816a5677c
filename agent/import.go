package agent

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"time"

	"github.com/vigil-sec/vigil/agent/inputs/scanner"
)

// ImportRequest is POST /import: a report on this host for the running
// agent to import (the agent reads the file itself).
type ImportRequest struct {
	Path   string `json:"path"`
	Parser string `json:"parser,omitempty"` // report format; empty: detect
}

// ImportProgress is one line of the answer, which streams newline-delimited
// JSON: progress lines with Findings, then one with Result.
type ImportProgress struct {
	Findings int             `json:"findings"`
	Result   *scanner.Result `json:"result,omitempty"`
	Error    string          `json:"error,omitempty"`
}

// importInput is the input id events imported on request carry.
const importInput = "import"

func (a *Agent) importRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /import", func(w http.ResponseWriter, r *http.Request) {
		var req ImportRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 64<<10)).Decode(&req); err != nil || req.Path == "" {
			http.Error(w, "body: want {\"path\": ...}", http.StatusBadRequest)
			return
		}
		if !filepath.IsAbs(req.Path) {
			http.Error(w, "path must be absolute: the agent resolves it, not the caller", http.StatusBadRequest)
			return
		}
		// One import at a time keeps the buffer's appends in report order
		// and the memory of imports bounded.
		a.importMu.Lock()
		defer a.importMu.Unlock()
		w.Header().Set("Content-Type", "application/x-ndjson")
		enc := json.NewEncoder(w)
		flusher, _ := w.(http.Flusher)
		lastSent := time.Now()
		im := scanner.NewImporter(importInput, a.buf, &a.imports, a.log.With("component", "import"))
		res, err := im.Import(r.Context(), req.Path, req.Parser, func(n int) {
			if time.Since(lastSent) < 500*time.Millisecond {
				return
			}
			lastSent = time.Now()
			_ = enc.Encode(ImportProgress{Findings: n})
			if flusher != nil {
				flusher.Flush()
			}
		})
		out := ImportProgress{Findings: res.Findings, Result: &res}
		if err != nil {
			out.Error = err.Error()
		}
		_ = enc.Encode(out)
	})
}
