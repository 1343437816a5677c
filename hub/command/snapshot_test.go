package command_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/hub/api"
	"github.com/vigil-sec/vigil/hub/hubtest"
)

func apiFlags(h *hubtest.Hub) []string {
	return []string{"-addr", "https://" + h.Cfg.APIAddr, "-token", h.Admin, "-ca-file", filepath.Join(h.Cfg.TLSDir(), "ca.crt")}
}

func TestSnapshot_SaveInspectRestore(t *testing.T) {
	src := hubtest.New(t, nil)
	for i := 0; i < 5; i++ {
		src.CreateToken("north", time.Now().Add(time.Hour))
	}
	file := filepath.Join(t.TempDir(), "state.snap")
	code, out, errs := run(append([]string{"snapshot", "save", file}, apiFlags(src)...)...)
	if code != 0 || !strings.Contains(out, "Saved snapshot at index") || !strings.Contains(out, "State hash: ") {
		t.Fatalf("snapshot save = %d, %q, %q", code, out, errs)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("saved file: %v, %v; want mode 0600", fi.Mode(), err)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(file), ".*.tmp")); len(left) != 0 {
		t.Errorf("temporary files left: %v", left)
	}

	// Inspect works offline.
	code, out, errs = run("snapshot", "inspect", file)
	for _, want := range []string{"Applied index", "Size", "(verified)", "State hash", "Data hash", "tokens", "events"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("snapshot inspect = %d, %q, %q; want %q", code, out, errs, want)
		}
	}
	code, out, _ = run("snapshot", "inspect", "-json", file)
	var info api.SnapshotInfo
	if code != 0 || json.Unmarshal([]byte(out), &info) != nil || info.Records["tokens"] != 5 || info.Hash == "" || info.AppliedIndex == 0 {
		t.Errorf("snapshot inspect -json = %d, %s", code, out)
	}

	// A corrupt file is refused, by inspect and (before any upload) by restore.
	b, _ := os.ReadFile(file)
	b[len(b)/2] ^= 0xff
	bad := filepath.Join(t.TempDir(), "bad.snap")
	if err := os.WriteFile(bad, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errs := run("snapshot", "inspect", bad); code != 1 || !strings.Contains(errs, "checksum mismatch") {
		t.Errorf("inspect of a corrupt file = %d, %q", code, errs)
	}

	dst := hubtest.New(t, nil)
	if code, _, errs := run(append([]string{"snapshot", "restore", bad}, apiFlags(dst)...)...); code != 1 || !strings.Contains(errs, "checksum mismatch") {
		t.Errorf("restore of a corrupt file = %d, %q", code, errs)
	}
	code, out, errs = run(append([]string{"snapshot", "restore", file}, apiFlags(dst)...)...)
	if code != 0 || !strings.Contains(out, "Restored snapshot at index") || !strings.Contains(out, "Data hash:  "+info.DataHash) {
		t.Fatalf("snapshot restore = %d, %q, %q", code, out, errs)
	}
	var toks []api.TokenInfo
	c, err := api.NewClient("https://"+dst.Cfg.APIAddr, dst.Admin, filepath.Join(dst.Cfg.TLSDir(), "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Do("GET", "/v1/enroll-tokens", nil, nil, &toks); err != nil || len(toks) != 5 {
		t.Errorf("tokens after restore: %d (%v), want 5", len(toks), err)
	}

	// Usage mistakes.
	if code, _, errs := run("snapshot", "inspect"); code != 1 || !strings.Contains(errs, "FILE is required") {
		t.Errorf("inspect without FILE = %d, %q", code, errs)
	}
	if code, _, errs := run("snapshot", "inspect", file, "extra"); code != 1 || !strings.Contains(errs, `unexpected argument "extra"`) {
		t.Errorf("inspect with two files = %d, %q", code, errs)
	}
	if code, _, _ := run("snapshot", "save", "-h"); code != 0 {
		t.Errorf("save -h = %d", code)
	}
}
