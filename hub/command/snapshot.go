package command

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/vigil-sec/vigil/hub"
	"github.com/vigil-sec/vigil/hub/api"
)

// parseFile parses flags around exactly one FILE argument (flags may come
// before or after it).
func parseFile(fs *flag.FlagSet, args []string) (string, error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return "", err
		}
		return "", &usageError{err.Error()}
	}
	if fs.NArg() == 0 {
		return "", &usageError{"FILE is required"}
	}
	file := fs.Arg(0)
	if err := parse(fs, fs.Args()[1:]); err != nil {
		return "", err
	}
	return file, nil
}

// rawDo sends a request whose body or answer is not JSON; an error status
// becomes an *api.StatusError as with Client.Do. The caller closes the
// answer's body.
func rawDo(c *api.Client, method, path string, body io.Reader, size int64) (*http.Response, error) {
	req, err := http.NewRequest(method, c.Addr+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
		req.ContentLength = size
	}
	// A snapshot may take longer than the client's usual time limit.
	hc := *c.HTTP
	hc.Timeout = 0
	resp, err := hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 300 {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
		var eb api.ErrorBody
		if json.Unmarshal(data, &eb) == nil && eb.Error != "" {
			return nil, &api.StatusError{Code: resp.StatusCode, Msg: eb.Error}
		}
		return nil, &api.StatusError{Code: resp.StatusCode, Msg: strings.TrimSpace(string(data))}
	}
	return resp, nil
}

func runSnapshotSave(env Env, args []string) error {
	fs := newFlags("snapshot save", env)
	var cf clientFlags
	cf.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: vigil-hub snapshot save [options] FILE\n\nWrites a consistent snapshot of the cluster's state to FILE (mode 0600).")
		fs.PrintDefaults()
	}
	file, err := parseFile(fs, args)
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	resp, err := rawDo(c, "GET", "/v1/operator/snapshot", nil, 0)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// Write beside FILE and rename once verified, so FILE is either the
	// old file or a complete snapshot.
	tmp, err := os.CreateTemp(filepath.Dir(file), "."+filepath.Base(file)+".*.tmp")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := io.Copy(tmp, resp.Body); err != nil {
		tmp.Close()
		return fmt.Errorf("receive snapshot: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	info, err := hub.InspectSnapshotFile(tmp.Name())
	if err != nil {
		return fmt.Errorf("received snapshot: %w", err)
	}
	if want := resp.Header.Get(api.HeaderStateHash); want != "" && want != info.Hash {
		return fmt.Errorf("received snapshot has state hash %s, the hub announced %s", info.Hash, want)
	}
	if err := os.Rename(tmp.Name(), file); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Saved snapshot at index %d to %s (%d bytes, %d records)\nState hash: %s\nData hash:  %s\n",
		info.AppliedIndex, file, info.Size, total(info.Records), info.Hash, info.DataHash)
	return nil
}

func runSnapshotRestore(env Env, args []string) error {
	fs := newFlags("snapshot restore", env)
	var cf clientFlags
	cf.register(fs)
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: vigil-hub snapshot restore [options] FILE\n\n"+
			"Replaces the whole state of the cluster with the snapshot in FILE. The cluster keeps\n"+
			"its own CA and member records; agents and tokens come from the snapshot (agents\n"+
			"enrolled with another cluster's CA must enroll again).")
		fs.PrintDefaults()
	}
	file, err := parseFile(fs, args)
	if err != nil {
		return err
	}
	// Refuse a bad file before sending it; the hub checks it again.
	info, err := hub.InspectSnapshotFile(file)
	if err != nil {
		return err
	}
	c, err := cf.client()
	if err != nil {
		return err
	}
	f, err := os.Open(file)
	if err != nil {
		return err
	}
	defer f.Close()
	resp, err := rawDo(c, "POST", "/v1/operator/snapshot", f, info.Size)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var res api.RestoreResult
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return fmt.Errorf("decode answer: %w", err)
	}
	fmt.Fprintf(env.Stdout, "Restored snapshot at index %d (%d records)\nState hash: %s (snapshot: %s)\nData hash:  %s (snapshot: %s)\nKept this cluster's members: %s\n",
		res.Snapshot.AppliedIndex, total(res.Snapshot.Records), res.State.Hash, res.Snapshot.Hash,
		res.State.DataHash, res.Snapshot.DataHash, strings.Join(res.KeptMembers, ", "))
	if res.State.DataHash != res.Snapshot.DataHash {
		// Writes that landed right after the restore change it too.
		fmt.Fprintln(env.Stderr, "Warning: the cluster's data hash right after the restore differs from the snapshot's")
	}
	return nil
}

func runSnapshotInspect(env Env, args []string) error {
	fs := newFlags("snapshot inspect", env)
	asJSON := fs.Bool("json", false, "print JSON")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "Usage: vigil-hub snapshot inspect [options] FILE\n\nVerifies a snapshot file offline and describes it.")
		fs.PrintDefaults()
	}
	file, err := parseFile(fs, args)
	if err != nil {
		return err
	}
	info, err := hub.InspectSnapshotFile(file)
	if err != nil {
		return err
	}
	if *asJSON {
		return json.NewEncoder(env.Stdout).Encode(info)
	}
	var b bytes.Buffer
	tw := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "Applied index\t%d\n", info.AppliedIndex)
	fmt.Fprintf(tw, "Format version\t%d\n", info.FormatVersion)
	fmt.Fprintf(tw, "Size\t%d bytes\n", info.Size)
	fmt.Fprintf(tw, "Checksum\tSHA-256 %s (verified)\n", info.Checksum)
	fmt.Fprintf(tw, "State hash\t%s\n", info.Hash)
	fmt.Fprintf(tw, "Data hash\t%s\n", info.DataHash)
	fmt.Fprintln(tw, "\nTable\tRecords")
	names := make([]string, 0, len(info.Records))
	for n := range info.Records {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(tw, "%s\t%d\n", n, info.Records[n])
	}
	fmt.Fprintf(tw, "total\t%d\n", total(info.Records))
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err = env.Stdout.Write(b.Bytes())
	return err
}

func total(m map[string]uint64) uint64 {
	var n uint64
	for _, v := range m {
		n += v
	}
	return n
}
