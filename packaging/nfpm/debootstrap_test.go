package nfpm

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vigil-sec/vigil/agent"
	"github.com/vigil-sec/vigil/hub/hubtest"
	"github.com/vigil-sec/vigil/hub/store"
)

// The test here installs the agent package the way a branch host gets it,
// on a real (if minimal) Debian: a bookworm root made by debootstrap, in
// which dpkg, useradd and the maintainer scripts run under chroot as they
// would on the host itself, with no DPKG_ROOT and no stand-ins. The agent it
// installed runs in that root as the vigil user and ships to a real hub on
// the host over loopback (a chroot shares the host's network).

const (
	debootstrapSuite  = "bookworm"
	debootstrapMirror = "http://deb.debian.org/debian"
	// upgradeVersion is the version of the second agent package: it sorts
	// after testVersion, so dpkg -i upgrades.
	upgradeVersion = "0.0.1"
)

// debootstrapCacheDir holds the minimal root, built once and reused:
// DIR/root is the root, DIR/complete says debootstrap finished.
func debootstrapCacheDir() string {
	if d := os.Getenv("XDG_CACHE_HOME"); d != "" {
		return filepath.Join(d, "vigil-test", "debootstrap-"+debootstrapSuite)
	}
	return filepath.Join("/var/cache/vigil-test", "debootstrap-"+debootstrapSuite)
}

// debootstrapRoot returns the cached minbase root, running debootstrap
// first when there is none. The root is built in a temporary directory
// beside the cache and renamed into place once complete, so an interrupted
// build is never taken for a root. It skips when nothing is cached and the
// mirror cannot be reached.
func debootstrapRoot(t *testing.T) string {
	t.Helper()
	dir := debootstrapCacheDir()
	rootfs := filepath.Join(dir, "root")
	removeStale(t, filepath.Dir(dir), filepath.Base(dir)+".tmp-", filepath.Base(dir)+".run-")
	if exists(filepath.Join(dir, "complete")) {
		return rootfs
	}
	release := debootstrapMirror + "/dists/" + debootstrapSuite + "/Release"
	c := &http.Client{Timeout: 15 * time.Second}
	resp, err := c.Get(release)
	if err == nil {
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			err = errors.New(resp.Status)
		}
	}
	if err != nil {
		t.Skipf("no Debian root cached in %s and %s cannot be fetched (%v): debootstrap needs the network once", dir, release, err)
	}

	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(parent, filepath.Base(dir)+".tmp-")
	if err != nil {
		t.Fatal(err)
	}
	defer removeUnlessMounted(t, tmp)
	start := time.Now()
	t.Logf("no Debian root cached in %s: running debootstrap --variant=minbase %s (a few minutes, once)", dir, debootstrapSuite)
	cmd := exec.Command("debootstrap", "--variant=minbase", debootstrapSuite, filepath.Join(tmp, "root"), debootstrapMirror)
	out, err := cmd.CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(tmp, "root", "debootstrap", "debootstrap.log"))
		t.Fatalf("debootstrap: %v\n%s\n--- debootstrap.log (tail) ---\n%s", err, tail(out, 4000), tail(log, 4000))
	}
	writeFile(t, filepath.Join(tmp, "complete"), fmt.Sprintf("debootstrap --variant=minbase %s %s, %s\n",
		debootstrapSuite, debootstrapMirror, time.Now().UTC().Format(time.RFC3339)))
	if err := os.Rename(tmp, dir); err != nil {
		switch {
		case exists(filepath.Join(dir, "complete")):
			// Another run finished first: use its root, drop this one.
		case exists(dir):
			// Left incomplete by hand: replace it.
			removeUnlessMounted(t, dir)
			if err := os.Rename(tmp, dir); err != nil {
				t.Fatal(err)
			}
		default:
			t.Fatal(err)
		}
	}
	t.Logf("debootstrap: %s cached in %s", time.Since(start).Round(time.Second), dir)
	return rootfs
}

// removeStale deletes what interrupted builds and runs left beside the
// cache: directories named with one of prefixes, older than any debootstrap
// or test run takes.
func removeStale(t *testing.T, parent string, prefixes ...string) {
	t.Helper()
	entries, _ := os.ReadDir(parent)
	for _, e := range entries {
		if !e.IsDir() || !slices.ContainsFunc(prefixes, func(p string) bool { return strings.HasPrefix(e.Name(), p) }) {
			continue
		}
		if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > 2*time.Hour {
			removeUnlessMounted(t, filepath.Join(parent, e.Name()))
		}
	}
}

// removeUnlessMounted deletes dir, unless something is mounted below it (a
// debootstrap killed half-way may leave /proc or /sys mounted in its
// target): deleting through such a mount would reach the host.
func removeUnlessMounted(t *testing.T, dir string) {
	t.Helper()
	if !exists(dir) {
		return
	}
	if m := mountsUnder(dir); len(m) > 0 {
		t.Logf("not deleting %s: %s mounted below it", dir, strings.Join(m, ", "))
		return
	}
	if err := os.RemoveAll(dir); err != nil {
		t.Logf("delete %s: %v", dir, err)
	}
}

func mountsUnder(dir string) []string {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return []string{"(unknown: " + err.Error() + ")"}
	}
	var out []string
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		// Spaces and the like are octal escapes (\040).
		mp, err := strconv.Unquote(`"` + strings.ReplaceAll(f[1], `"`, `\"`) + `"`)
		if err != nil {
			mp = f[1]
		}
		if strings.HasPrefix(mp, dir+"/") {
			out = append(out, mp)
		}
	}
	return out
}

// copyRoot copies the cached root (cp -a) for one run and deletes the copy
// when the test ends. The copy goes beside the cache, on the filesystem
// where debootstrap's device nodes (/dev/null, ...) already worked, not to
// a /tmp that may be mounted nodev.
func copyRoot(t *testing.T, cached string) string {
	t.Helper()
	cache := filepath.Dir(cached)
	dir, err := os.MkdirTemp(filepath.Dir(cache), filepath.Base(cache)+".run-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeUnlessMounted(t, dir) })
	root := filepath.Join(dir, "root")
	if out, err := exec.Command("cp", "-a", cached, root).CombinedOutput(); err != nil {
		t.Fatalf("cp -a %s: %v\n%s", cached, err, out)
	}
	f, err := os.OpenFile(filepath.Join(root, "dev", "null"), os.O_WRONLY, 0)
	if err == nil {
		_, err = f.Write([]byte("x"))
		f.Close()
	}
	if err != nil {
		t.Fatalf("the copied root's /dev/null does not work (%v): is %s mounted nodev?", err, dir)
	}
	return root
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// agentDebAt packages the agent binary that packages built once more, at
// another version, with nfpm run as buildPackages runs it (buildPackages
// makes every package at testVersion only).
func agentDebAt(t *testing.T, version string) string {
	t.Helper()
	root := repoRoot(t)
	mod, err := nfpmModule(root)
	if err != nil {
		t.Fatal(err)
	}
	dist := t.TempDir()
	cmd := exec.Command("go", "run", mod, "package",
		"-f", filepath.Join("packaging", "nfpm", "vigil-agent.yaml"), "-p", "deb", "-t", dist+string(filepath.Separator))
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "VIGIL_VERSION="+version, "VIGIL_ARCH="+runtime.GOARCH,
		"VIGIL_BIN="+filepath.Dir(built.bins["vigil-agent"]), "SOURCE_DATE_EPOCH=1767225600")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nfpm vigil-agent deb %s: %v\n%s", version, err, out)
	}
	m, _ := filepath.Glob(filepath.Join(dist, "vigil-agent_*.deb"))
	if len(m) != 1 {
		t.Fatalf("nfpm vigil-agent deb %s: want one package, found %q", version, m)
	}
	return m[0]
}

// chrootRoot is a Debian root that commands run in through chroot(8).
type chrootRoot struct {
	t   *testing.T
	dir string
}

func (r chrootRoot) path(p string) string { return filepath.Join(r.dir, p) }

// command runs args in the root, as root or, with userspec (USER:GROUP,
// names looked up in the root), as that user, with a clean environment.
func (r chrootRoot) command(userspec string, args ...string) *exec.Cmd {
	a := []string{}
	if userspec != "" {
		a = append(a, "--userspec="+userspec)
	}
	a = append(append(a, r.dir), args...)
	cmd := exec.Command("chroot", a...)
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=/root", "LC_ALL=C", "DEBIAN_FRONTEND=noninteractive"}
	return cmd
}

// run runs args in the root and returns their output; it fails the test
// when they fail.
func (r chrootRoot) run(userspec string, args ...string) string {
	r.t.Helper()
	out, err := r.command(userspec, args...).CombinedOutput()
	if err != nil {
		r.t.Fatalf("chroot %s %s: %v\n%s", userspec, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// copyIn copies a host file to /tmp in the root and returns its path there.
func (r chrootRoot) copyIn(src string) string {
	r.t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		r.t.Fatal(err)
	}
	dst := "/tmp/" + filepath.Base(src)
	if err := os.WriteFile(r.path(dst), b, 0o644); err != nil {
		r.t.Fatal(err)
	}
	return dst
}

// dbEntry is the line of NAME in the root's passwd, group, shadow or
// gshadow, split at the colons; nil when there is none.
func (r chrootRoot) dbEntry(db, name string) []string {
	r.t.Helper()
	for _, line := range strings.Split(readFile(r.t, r.path("etc/"+db)), "\n") {
		if f := strings.Split(line, ":"); f[0] == name {
			return f
		}
	}
	return nil
}

// names maps the root's numeric IDs of db (passwd or group) to names.
func (r chrootRoot) names(db string) map[uint32]string {
	r.t.Helper()
	m := map[uint32]string{}
	for _, line := range strings.Split(readFile(r.t, r.path("etc/"+db)), "\n") {
		f := strings.Split(line, ":")
		if len(f) < 3 {
			continue
		}
		if id, err := strconv.ParseUint(f[2], 10, 32); err == nil {
			m[uint32(id)] = f[0]
		}
	}
	return m
}

// owner is a file's "user/group" by the root's own names.
func (r chrootRoot) owner(path string) (string, fs.FileMode) {
	r.t.Helper()
	fi, err := os.Lstat(r.path(path))
	if err != nil {
		r.t.Fatal(err)
	}
	st := fi.Sys().(*syscall.Stat_t)
	return r.names("passwd")[st.Uid] + "/" + r.names("group")[st.Gid], fi.Mode()
}

// status is dpkg's abbreviated state of pkg ("ii ", "rc ") and its version;
// empty when dpkg does not know it.
func (r chrootRoot) status(pkg string) (string, string) {
	out, err := r.command("", "dpkg-query", "-W", "-f", "${db:Status-Abbrev}|${Version}", pkg).Output()
	if err != nil {
		return "", ""
	}
	s, v, _ := strings.Cut(string(out), "|")
	return s, v
}

// sums is the SHA-256 of every regular file below dir in the root.
func (r chrootRoot) sums(dir string) map[string]string {
	r.t.Helper()
	m := map[string]string{}
	err := filepath.WalkDir(r.path(dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		m[strings.TrimPrefix(p, r.dir)] = hex.EncodeToString(sum[:])
		return nil
	})
	if err != nil {
		r.t.Fatal(err)
	}
	return m
}

// chrootAgent is vigil-agent run by the package's binary and configuration
// in the root, as the vigil user.
type chrootAgent struct {
	t      *testing.T
	cmd    *exec.Cmd
	done   chan struct{}
	status string // status_addr
}

func startChrootAgent(t *testing.T, r chrootRoot, statusAddr, logPath string) *chrootAgent {
	t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "=== start %s\n", time.Now().Format(time.RFC3339Nano))
	// chroot(8) execs the agent: the process is the agent itself.
	cmd := r.command("vigil:vigil", "/usr/bin/vigil-agent", "run", "-c", "/etc/vigil/agent.yaml")
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	a := &chrootAgent{t: t, cmd: cmd, done: make(chan struct{}), status: statusAddr}
	go func() { _ = cmd.Wait(); f.Close(); close(a.done) }()
	t.Cleanup(func() {
		if a.running() {
			_ = cmd.Process.Kill()
			<-a.done
		}
	})
	hubtest.WaitFor(t, 20*time.Second, "the agent's status endpoint", func() bool {
		if !a.running() {
			t.Fatalf("vigil-agent exited: %v\n%s", cmd.ProcessState, tail([]byte(readFile(t, logPath)), 4000))
		}
		_, err := a.tryStatus()
		return err == nil
	})
	return a
}

func (a *chrootAgent) running() bool {
	select {
	case <-a.done:
		return false
	default:
		return true
	}
}

func (a *chrootAgent) tryStatus() (agent.Status, error) {
	var st agent.Status
	c := &http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get("http://" + a.status + "/status")
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, errors.New(resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// waitStatus polls /status until cond holds and returns that status.
func (a *chrootAgent) waitStatus(what string, cond func(agent.Status) bool) agent.Status {
	a.t.Helper()
	var st agent.Status
	hubtest.WaitFor(a.t, 20*time.Second, what, func() bool {
		var err error
		st, err = a.tryStatus()
		return err == nil && cond(st)
	})
	return st
}

// stop sends SIGTERM, as systemctl stop does, and wants a clean exit.
func (a *chrootAgent) stop() {
	a.t.Helper()
	_ = a.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-a.done:
	case <-time.After(30 * time.Second): // TimeoutStopSec of the unit
		_ = a.cmd.Process.Kill()
		<-a.done
		a.t.Fatal("vigil-agent did not stop within 30 s of SIGTERM")
	}
	if !a.cmd.ProcessState.Success() {
		a.t.Errorf("vigil-agent stopped by SIGTERM: %v, want exit status 0", a.cmd.ProcessState)
	}
}

// sendSyslog sends one RFC 3164 line per mark: over UDP, one datagram each,
// or over one TCP connection, newline-framed.
func sendSyslog(t *testing.T, network, addr string, marks []string) {
	t.Helper()
	c, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	w := bufio.NewWriter(c)
	for _, m := range marks {
		fmt.Fprintf(w, "<13>Jan  2 03:04:05 branch-host app[42]: debootstrap test line %s\n", m)
		if network == "udp" {
			if err := w.Flush(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
}

// hubMarks counts, per mark, the events of agentID the hub stores whose
// original line holds it, and fails on events of the agent without one.
func hubMarks(t *testing.T, h *hubtest.Hub, agentID string) map[string]int {
	t.Helper()
	re := regexp.MustCompile(`debootstrap test line (\S+)$`)
	counts := map[string]int{}
	q := store.EventQuery{Agent: agentID, Limit: 10000}
	for {
		res, err := h.Srv.Store().Events(q)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range res.Events {
			m := re.FindStringSubmatch(e.Event.GetOriginal())
			if m == nil || e.AgentID != agentID {
				t.Fatalf("unexpected event at the hub: agent %s, %q", e.AgentID, e.Event.GetOriginal())
			}
			counts[m[1]]++
		}
		if res.Next == "" {
			return counts
		}
		q.Cursor = res.Next
	}
}

// exactlyOnceAtHub waits until the hub holds every mark and then checks
// that it holds each exactly once and nothing else.
func exactlyOnceAtHub(t *testing.T, h *hubtest.Hub, agentID string, marks []string) {
	t.Helper()
	var counts map[string]int
	hubtest.WaitFor(t, 30*time.Second, fmt.Sprintf("%d lines at the hub", len(marks)), func() bool {
		counts = hubMarks(t, h, agentID)
		for _, m := range marks {
			if counts[m] == 0 {
				return false
			}
		}
		return true
	})
	var dup, extra []string
	for _, m := range marks {
		if counts[m] != 1 {
			dup = append(dup, fmt.Sprintf("%s×%d", m, counts[m]))
		}
		delete(counts, m)
	}
	for m := range counts {
		extra = append(extra, m)
	}
	slices.Sort(extra)
	if len(dup) > 0 || len(extra) > 0 {
		t.Errorf("hub: lines stored more than once: %v; lines not expected yet: %v", dup, extra)
	}
}

func marks(prefix string, from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("%s-%04d", prefix, i))
	}
	return out
}

// TestDebootstrap_InstallRunUpgradePurge installs the agent package in a
// minimal Debian bookworm with chroot and the root's own dpkg, enrolls and
// runs the installed agent as the vigil user against a hub on the host,
// upgrades the package while the agent's buffer holds events the hub has
// not got, checks that the configuration and the enrollment survive and
// every line arrives exactly once, then removes and purges the package.
func TestDebootstrap_InstallRunUpgradePurge(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the debootstrap test runs only in the full test run")
	}
	if os.Geteuid() != 0 {
		t.Skip("debootstrap, chroot and dpkg in the root need root: not run as this user")
	}
	needTool(t, "debootstrap", "no minimal Debian root to install into (apt-get install debootstrap; .ci/run does)")
	needTool(t, "chroot", "cannot run dpkg and the agent inside the Debian root (coreutils)")
	cached := debootstrapRoot(t)
	building := time.Now()
	files := packages(t)
	oldDeb, newDeb := files["vigil-agent.deb"], agentDebAt(t, upgradeVersion)
	t.Logf("%-28s %6.2fs", "build the packages", time.Since(building).Seconds())

	began := time.Now()
	last := began
	phase := func(name string) {
		t.Helper()
		t.Logf("%-28s %6.2fs", name, time.Since(last).Seconds())
		last = time.Now()
	}
	work := t.TempDir()
	r := chrootRoot{t: t, dir: copyRoot(t, cached)}
	if exists(r.path("run/systemd/system")) {
		t.Fatal("the root claims systemd runs (/run/systemd/system): the scripts would call systemctl")
	}
	phase("copy the cached root")

	// 1. Install the older package.
	out := r.run("", "dpkg", "-i", r.copyIn(oldDeb))
	if st, v := r.status("vigil-agent"); st != "ii " || v != testVersion {
		t.Fatalf("after dpkg -i: vigil-agent %q %q, want installed at %s\n%s", st, v, testVersion, out)
	}
	pw := r.dbEntry("passwd", "vigil")
	if len(pw) != 7 {
		t.Fatalf("install: no vigil user in /etc/passwd:\n%s", readFile(t, r.path("etc/passwd")))
	}
	gr := r.dbEntry("group", "vigil")
	if len(gr) != 4 {
		t.Fatalf("install: no vigil group in /etc/group:\n%s", readFile(t, r.path("etc/group")))
	}
	uid, _ := strconv.Atoi(pw[2])
	if uid == 0 || uid >= 1000 || pw[3] != gr[2] || pw[4] != "Vigil agent and hub" || pw[5] != "/var/lib/vigil" || pw[6] != "/usr/sbin/nologin" {
		t.Errorf("install: vigil user %q (group %q), want a system user (uid 1-999) in group vigil, home /var/lib/vigil, shell /usr/sbin/nologin", strings.Join(pw, ":"), strings.Join(gr, ":"))
	}
	if sh := r.dbEntry("shadow", "vigil"); len(sh) < 2 || !strings.HasPrefix(sh[1], "!") && !strings.HasPrefix(sh[1], "*") {
		t.Errorf("install: vigil in /etc/shadow %q, want a locked password", strings.Join(sh, ":"))
	}
	if exists(r.path("var/lib/vigil/.profile")) || exists(r.path("var/lib/vigil/agent")) {
		t.Error("install: something made files in /var/lib/vigil (the user has no home to create)")
	}
	for _, f := range layout["vigil-agent"] {
		owner, mode := r.owner(f.path)
		if got, want := mode.String()+" "+owner, f.mode+" "+f.owner; got != want {
			t.Errorf("install: %s is %s, want %s", f.path, got, want)
		}
		if f.src != "" && readFile(t, r.path(f.path)) != string(sourceBytes(t, f.src)) {
			t.Errorf("install: %s differs from %s", f.path, f.src)
		}
	}
	if got, want := strings.Fields(r.run("", "dpkg-query", "-W", "-f", "${Conffiles}", "vigil-agent")), conffiles["vigil-agent"]; len(got) != 2 || got[0] != want {
		t.Errorf("install: dpkg lists conffiles %q, want %s", got, want)
	}
	if out := r.run("", "dpkg", "--verify", "vigil-agent"); out != "" {
		t.Errorf("install: dpkg --verify:\n%s", out)
	}
	if m, _ := filepath.Glob(r.path("etc/systemd/system/*.wants/vigil-agent.service")); len(m) > 0 {
		t.Errorf("install: the package enabled the unit: %q", m)
	}
	phase("install " + testVersion)

	// 2. Enroll with a hub on the host and run the agent as the unit
	// would: the vigil user, the packaged binary and agent.yaml. Without
	// the unit's CAP_NET_BIND_SERVICE the vigil user cannot listen on 514,
	// so the syslog inputs and status get free ports; hubs: is appended as
	// the install snippet does.
	h := hubtest.New(t, nil)
	syslogAddr := fmt.Sprintf("127.0.0.1:%d", hubtest.FreePort(t))
	statusAddr := fmt.Sprintf("127.0.0.1:%d", hubtest.FreePort(t))
	cfg := readFile(t, r.path("etc/vigil/agent.yaml"))
	for old, repl := range map[string]string{
		"listen: 0.0.0.0:514\n":         "listen: " + syslogAddr + "\n",
		"status_addr: 127.0.0.1:9774\n": "status_addr: " + statusAddr + "\n",
	} {
		if !strings.Contains(cfg, old) {
			t.Fatalf("agent.yaml has no %q to change for the test", old)
		}
		cfg = strings.ReplaceAll(cfg, old, repl)
	}
	cfg += fmt.Sprintf("hubs: [%q]\n", h.IngestAddr())
	// Rewritten in place: the file keeps its owner and mode.
	if err := os.WriteFile(r.path("etc/vigil/agent.yaml"), []byte(cfg), 0); err != nil {
		t.Fatal(err)
	}

	tok := h.CreateToken("debootstrap", time.Now().Add(time.Hour))
	out = r.run("vigil:vigil", "/usr/bin/vigil-agent", "enroll", "-hub", h.IngestAddr(), "-token", tok.String(), "-c", "/etc/vigil/agent.yaml")
	m := regexp.MustCompile(`Enrolled as agent (agt-\S+) in branch debootstrap`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("enroll: %s", out)
	}
	agentID := m[1]
	for _, f := range []string{"agent", "agent/tls", "agent/tls/agent.key", "agent/tls/agent.crt", "agent/tls/ca.crt", "agent/identity.json"} {
		owner, mode := r.owner("var/lib/vigil/" + f)
		want := "-rw------- vigil/vigil"
		if mode.IsDir() {
			want = "drwx------ vigil/vigil"
		}
		if got := mode.String() + " " + owner; got != want {
			t.Errorf("enroll: /var/lib/vigil/%s is %s, want %s", f, got, want)
		}
	}

	logPath := filepath.Join(work, "agent.log")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("--- agent log (tail) ---\n%s", tail(b, 8000))
		}
	})
	a := startChrootAgent(t, r, statusAddr, logPath)
	// The installed CLI finds the running agent through agent.yaml.
	if out := r.run("vigil:vigil", "/usr/bin/vigil-agent", "status", "-c", "/etc/vigil/agent.yaml"); !strings.Contains(out, agentID) {
		t.Errorf("vigil-agent status in the root does not name %s:\n%s", agentID, out)
	}
	runID := fmt.Sprintf("r%d", time.Now().UnixNano())
	first := marks(runID, 0, 20)
	sendSyslog(t, "udp", syslogAddr, first[:10])
	sendSyslog(t, "tcp", syslogAddr, first[10:])
	exactlyOnceAtHub(t, h, agentID, first)
	a.waitStatus("the agent to see its 20 events acknowledged", func(s agent.Status) bool {
		return s.Buffer.LastSeq == 20 && s.Buffer.AckedSeq == 20
	})
	phase("enroll, run, ship 20 lines")

	// 3. The hub goes away; the agent buffers what it receives.
	h.Stop()
	const buffered = 300
	second := marks(runID, 20, 20+buffered)
	sendSyslog(t, "tcp", syslogAddr, second)
	st := a.waitStatus(fmt.Sprintf("%d events buffered", buffered), func(s agent.Status) bool { return s.Buffer.LastSeq == 20+buffered })
	if st.Buffer.AckedSeq != 20 || st.Buffer.Depth != buffered || st.AgentID != agentID {
		t.Fatalf("agent with the hub down: agent %s, buffer %+v; want %d events waiting", st.AgentID, st.Buffer, buffered)
	}
	a.stop()
	phase(fmt.Sprintf("hub down, buffer %d lines", buffered))

	// 4. Upgrade while the buffer is full, as dpkg -i of the newer package.
	cfgBefore := readFile(t, r.path("etc/vigil/agent.yaml"))
	idBefore := r.sums("var/lib/vigil/agent/tls")
	for k, v := range r.sums("var/lib/vigil/agent") {
		if strings.HasSuffix(k, "/identity.json") {
			idBefore[k] = v
		}
	}
	if len(idBefore) != 4 {
		t.Fatalf("enrollment files: %v", idBefore)
	}
	out = r.run("", "dpkg", "-i", r.copyIn(newDeb))
	if !strings.Contains(out, "Unpacking vigil-agent ("+upgradeVersion+") over ("+testVersion+")") {
		t.Errorf("dpkg -i %s did not upgrade from %s:\n%s", upgradeVersion, testVersion, out)
	}
	if st, v := r.status("vigil-agent"); st != "ii " || v != upgradeVersion {
		t.Fatalf("after the upgrade: vigil-agent %q %q, want installed at %s", st, v, upgradeVersion)
	}
	if got := readFile(t, r.path("etc/vigil/agent.yaml")); got != cfgBefore {
		t.Errorf("upgrade changed the edited agent.yaml:\n%s\nwas:\n%s", got, cfgBefore)
	}
	if owner, mode := r.owner("etc/vigil/agent.yaml"); mode.String()+" "+owner != "-rw-r----- root/vigil" {
		t.Errorf("upgrade: agent.yaml is %s %s, want -rw-r----- root/vigil", mode, owner)
	}
	if m, _ := filepath.Glob(r.path("etc/vigil/*.dpkg-*")); len(m) > 0 {
		t.Errorf("upgrade left %q", m)
	}
	for k, v := range idBefore {
		if got := r.sums(filepath.Dir(k))[k]; got != v {
			t.Errorf("upgrade changed %s", k)
		}
	}
	if got := r.dbEntry("passwd", "vigil"); !slices.Equal(got, pw) {
		t.Errorf("upgrade changed the vigil user: %q, was %q", got, pw)
	}
	phase("upgrade to " + upgradeVersion)

	// The hub comes back, the upgraded agent starts: the buffered lines
	// arrive, each once, under the same enrollment.
	h.Start()
	a = startChrootAgent(t, r, statusAddr, logPath)
	all := append(slices.Clone(first), second...)
	exactlyOnceAtHub(t, h, agentID, all)
	st = a.waitStatus("the buffer to drain", func(s agent.Status) bool { return s.Buffer.AckedSeq == s.Buffer.LastSeq })
	if st.AgentID != agentID || st.Buffer.LastSeq != uint64(len(all)) {
		t.Errorf("after the upgrade: agent %s with %d events, want %s with %d", st.AgentID, st.Buffer.LastSeq, agentID, len(all))
	}
	if recs, err := h.Srv.Store().Agents(""); err != nil || len(recs) != 1 || recs[0].GetId() != agentID {
		t.Errorf("hub agents: %v %v, want only %s (no second enrollment)", recs, err, agentID)
	}
	a.stop()
	phase(fmt.Sprintf("restart, %d lines once each", len(all)))

	// 5. Remove: binary and unit go; configuration, state, enrollment and
	// the user stay.
	r.run("", "dpkg", "-r", "vigil-agent")
	if st, _ := r.status("vigil-agent"); st != "rc " {
		t.Errorf("after dpkg -r: status %q, want rc (configuration files left)", st)
	}
	for _, f := range []string{"usr/bin/vigil-agent", "usr/lib/systemd/system/vigil-agent.service"} {
		if exists(r.path(f)) {
			t.Errorf("dpkg -r left /%s", f)
		}
	}
	if got := readFile(t, r.path("etc/vigil/agent.yaml")); got != cfgBefore {
		t.Error("dpkg -r changed or deleted agent.yaml")
	}
	for k, v := range idBefore {
		if got := r.sums(filepath.Dir(k))[k]; got != v {
			t.Errorf("dpkg -r changed or deleted %s", k)
		}
	}
	if !exists(r.path("var/lib/vigil/agent/buffer")) {
		t.Error("dpkg -r deleted the buffer")
	}
	if r.dbEntry("passwd", "vigil") == nil || r.dbEntry("group", "vigil") == nil {
		t.Error("dpkg -r deleted the vigil user or group")
	}
	phase("remove")

	// Purge: the agent's state, configuration, and (nothing else being
	// left) /var/lib/vigil and the user go.
	r.run("", "dpkg", "-P", "vigil-agent")
	if st, _ := r.status("vigil-agent"); st != "" && st != "un " {
		t.Errorf("after dpkg -P: status %q, want not installed", st)
	}
	for _, f := range []string{"var/lib/vigil/agent", "var/lib/vigil", "etc/vigil"} {
		if exists(r.path(f)) {
			t.Errorf("dpkg -P left /%s", f)
		}
	}
	for _, db := range []string{"passwd", "group", "shadow", "gshadow"} {
		if e := r.dbEntry(db, "vigil"); e != nil {
			t.Errorf("dpkg -P left vigil in /etc/%s: %q", db, strings.Join(e, ":"))
		}
	}
	phase("purge")
	t.Logf("%-28s %6.2fs", "total (after the cache)", time.Since(began).Seconds())
}
