package agent

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/vigil-sec/vigil/agent/buffer"
	"github.com/vigil-sec/vigil/agent/parsers"
	"github.com/vigil-sec/vigil/agent/plugins"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// DeadLetterView is a dead letter as the status endpoint shows it: the
// record as text when it is UTF-8 (Record, base64 in JSON, always holds the
// exact bytes).
type DeadLetterView struct {
	buffer.DeadLetter
	Text string `json:"text,omitempty"`
}

// DeadLetterList is GET /deadletters.
type DeadLetterList struct {
	Total int              `json:"total"`
	Items []DeadLetterView `json:"items"`
}

func viewOf(dl buffer.DeadLetter) DeadLetterView {
	v := DeadLetterView{DeadLetter: dl}
	if utf8.Valid(dl.Record) {
		v.Text = string(dl.Record)
	}
	return v
}

// deadLetterRoutes serves the dead-letter store on the status listener
// (loopback only): list, show, replay and drop. `vigil-agent deadletter`
// is their client.
func (a *Agent) deadLetterRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /deadletters", func(w http.ResponseWriter, r *http.Request) {
		after, _ := strconv.ParseUint(r.URL.Query().Get("after"), 10, 64)
		limit, err := strconv.Atoi(r.URL.Query().Get("limit"))
		if err != nil || limit <= 0 || limit > 1000 {
			limit = 100
		}
		list, total, err := a.buf.DeadLetters(after, limit)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		out := DeadLetterList{Total: total, Items: []DeadLetterView{}}
		for _, dl := range list {
			out.Items = append(out.Items, viewOf(dl))
		}
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("GET /deadletters/{id}", func(w http.ResponseWriter, r *http.Request) {
		dl, ok := a.deadLetter(w, r)
		if ok {
			writeJSON(w, http.StatusOK, viewOf(dl))
		}
	})
	mux.HandleFunc("DELETE /deadletters/{id}", func(w http.ResponseWriter, r *http.Request) {
		dl, ok := a.deadLetter(w, r)
		if !ok {
			return
		}
		if _, err := a.buf.DeleteDeadLetter(dl.ID); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		a.log.Warn("dead letter dropped by the operator", "dead_letter_id", dl.ID, "input", dl.Input)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("POST /deadletters/{id}/replay", func(w http.ResponseWriter, r *http.Request) {
		dl, ok := a.deadLetter(w, r)
		if !ok {
			return
		}
		if err := a.replay(r.Context(), dl); err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

func (a *Agent) deadLetter(w http.ResponseWriter, r *http.Request) (buffer.DeadLetter, bool) {
	id, err := strconv.ParseUint(r.PathValue("id"), 10, 64)
	if err != nil {
		http.Error(w, "dead letter id: want a number", http.StatusBadRequest)
		return buffer.DeadLetter{}, false
	}
	dl, ok, err := a.buf.DeadLetter(id)
	switch {
	case err != nil:
		http.Error(w, err.Error(), http.StatusInternalServerError)
	case !ok:
		http.Error(w, "no dead letter "+strconv.FormatUint(id, 10), http.StatusNotFound)
	}
	return dl, err == nil && ok
}

// heldBack collects the dead letters of a replay instead of storing them
// again: the original stays until the replay succeeds.
type heldBack struct{ last *buffer.DeadLetter }

func (h *heldBack) PutDeadLetter(dl buffer.DeadLetter) (uint64, error) {
	h.last = &dl
	return 0, nil
}

// replayParser parses through a supervisor with dead letters held back.
type replayParser struct {
	sup  *plugins.Supervisor
	held *heldBack
}

func (p replayParser) ID() string { return p.sup.ID() }

func (p replayParser) ParseBatch(input string, raws [][]byte, received []time.Time, evs []sdk.Event, errs []error, kept []bool) {
	p.sup.ParseBatchTo(p.held, input, raws, received, evs, errs, kept)
}

// replay parses a dead letter again with its plugin (perhaps fixed or
// upgraded since), appends the event to the buffer and only then deletes
// the dead letter. A crash between the two replays it once more, never
// loses it.
func (a *Agent) replay(ctx context.Context, dl buffer.DeadLetter) error {
	sup, ok := a.plugins[dl.Parser]
	if !ok {
		return errors.New("plugin " + dl.Parser + " is not configured: add it back to agent.yaml, or drop the dead letter")
	}
	held := &heldBack{}
	proc := parsers.NewBatchProcessor(dl.Input, replayParser{sup, held}, 0)
	var rec []byte
	received := dl.Received
	if received.IsZero() {
		received = dl.Time
	}
	proc.ProcessBatch(replayParser{sup, held}, [][]byte{dl.Record}, []time.Time{received}, func(enc []byte) {
		rec = append([]byte(nil), enc...)
	})
	if held.last != nil {
		return errors.New("the plugin still fails on this record: " + held.last.Error)
	}
	if rec == nil {
		return errors.New("the plugin produced no event")
	}
	if _, err := a.buf.Append(ctx, [][]byte{rec}); err != nil {
		return err
	}
	if _, err := a.buf.DeleteDeadLetter(dl.ID); err != nil {
		return err
	}
	a.log.Info("dead letter replayed", "dead_letter_id", dl.ID, "input", dl.Input)
	return nil
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// logWriter turns a plugin's standard error into log records, a line each.
type logWriter struct{ l *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	for _, line := range strings.Split(strings.TrimRight(string(p), "\n"), "\n") {
		if line != "" {
			w.l.Warn(line, "stream", "stderr")
		}
	}
	return len(p), nil
}
