package nfpm

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// The maintainer scripts run here against a temporary root: DPKG_ROOT (as
// under dpkg --force-script-chrootless) points every path they touch into
// it, and stand-ins for useradd, groupadd, userdel, groupdel and systemctl
// come first in PATH. The stand-ins log each call; the user tools refuse to
// run without --prefix, so nothing here can change the real system.

// stub is the stand-in for the commands the scripts run.
const stub = `#!/bin/sh
cmd=${0##*/}
echo "$cmd $*" >> "$STUB_LOG"
case $cmd in
systemctl)
	[ "$1" != is-active ] || [ "${STUB_ACTIVE:-}" = 1 ]
	exit
	;;
esac
prefix= name=
while [ $# -gt 0 ]; do
	case $1 in
	--prefix) prefix=$2; shift 2 ;;
	--gid | --home-dir | --shell | --comment) shift 2 ;;
	-*) shift ;;
	*) name=$1; shift ;;
	esac
done
if [ -z "$prefix" ]; then
	echo "$cmd: the test stand-in refuses to run without --prefix" >&2
	exit 1
fi
case $cmd in
useradd) echo "$name:x:999:999::/var/lib/vigil:/bin/false" >> "$prefix/etc/passwd" ;;
groupadd) echo "$name:x:999:" >> "$prefix/etc/group" ;;
userdel) grep -v "^$name:" "$prefix/etc/passwd" > "$prefix/etc/passwd.new" || true; mv "$prefix/etc/passwd.new" "$prefix/etc/passwd" ;;
groupdel) grep -v "^$name:" "$prefix/etc/group" > "$prefix/etc/group.new" || true; mv "$prefix/etc/group.new" "$prefix/etc/group" ;;
esac
`

// sandbox is a temporary root for the scripts and the log of their calls.
type sandbox struct {
	root, stubs, log string
	active           bool // systemctl is-active answers yes
}

func newSandbox(t *testing.T) *sandbox {
	t.Helper()
	dir := t.TempDir()
	s := &sandbox{root: filepath.Join(dir, "root"), stubs: filepath.Join(dir, "stubs"), log: filepath.Join(dir, "calls.log")}
	for _, d := range []string{s.stubs, filepath.Join(s.root, "etc")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"etc/passwd", "etc/group"} {
		writeFile(t, filepath.Join(s.root, f), "")
	}
	if err := os.WriteFile(filepath.Join(s.stubs, "stub"), []byte(stub), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []string{"useradd", "groupadd", "userdel", "groupdel", "systemctl"} {
		if err := os.Symlink("stub", filepath.Join(s.stubs, c)); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, s.log, "")
	return s
}

func (s *sandbox) env() []string {
	env := []string{
		"PATH=" + s.stubs + string(os.PathListSeparator) + os.Getenv("PATH"),
		"DPKG_ROOT=" + s.root,
		"STUB_LOG=" + s.log,
		"LC_ALL=C",
	}
	if s.active {
		env = append(env, "STUB_ACTIVE=1")
	}
	return env
}

// run runs a script of scripts/ with /bin/sh and returns its output.
func (s *sandbox) run(t *testing.T, script string, args ...string) string {
	t.Helper()
	if s.root == "" || !strings.HasPrefix(s.root, os.TempDir()) {
		t.Fatalf("refusing to run %s outside a temporary root", script)
	}
	cmd := exec.Command("/bin/sh", append([]string{filepath.Join("scripts", script)}, args...)...)
	cmd.Env = s.env()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", script, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// calls returns the commands run since the last call, with the root
// written as ROOT.
func (s *sandbox) calls(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(s.log)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, s.log, "")
	var calls []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line != "" {
			calls = append(calls, strings.ReplaceAll(line, s.root, "ROOT"))
		}
	}
	return calls
}

func (s *sandbox) path(rel string) string { return filepath.Join(s.root, rel) }

// systemd makes systemd count as running in the root.
func (s *sandbox) systemd(t *testing.T) {
	t.Helper()
	if err := os.MkdirAll(s.path("run/systemd/system"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

func wantCalls(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: calls\n  %s\nwant\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func scriptFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("scripts", "*.sh"))
	if err != nil || len(files) != 7 {
		t.Fatalf("scripts/*.sh: %q %v, want 7 scripts", files, err)
	}
	return files
}

func TestScripts_ArePOSIXShWithSetE(t *testing.T) {
	shells := [][]string{{"sh", "-n"}}
	for _, sh := range [][]string{{"dash", "-n"}, {"bash", "--posix", "-n"}, {"busybox", "sh", "-n"}} {
		if _, err := exec.LookPath(sh[0]); err == nil {
			shells = append(shells, sh)
		}
	}
	for _, f := range scriptFiles(t) {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(string(b), "#!/bin/sh\n") || !strings.Contains(string(b), "\nset -e\n") {
			t.Errorf("%s: want #!/bin/sh and set -e", f)
		}
		for _, sh := range shells {
			if out, err := exec.Command(sh[0], append(sh[1:], f)...).CombinedOutput(); err != nil {
				t.Errorf("%s %s: %v\n%s", strings.Join(sh, " "), f, err, out)
			}
		}
	}
}

func TestScripts_PreinstallCreatesUserAndGroupOnce(t *testing.T) {
	s := newSandbox(t)
	// Only a nologin of the root being installed into counts.
	writeFile(t, s.path("usr/sbin/nologin"), "")
	if err := os.Chmod(s.path("usr/sbin/nologin"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, arg := range []string{"install", "1"} {
		s.run(t, "preinstall.sh", arg)
		wantCalls(t, "first preinstall "+arg, s.calls(t),
			"groupadd --prefix ROOT --system vigil",
			"useradd --prefix ROOT --system --gid vigil --home-dir /var/lib/vigil --no-create-home --shell /usr/sbin/nologin --comment Vigil agent and hub vigil")
		// Again, as on an upgrade or for the second package: nothing.
		for _, again := range []string{"upgrade", "2", "install"} {
			s.run(t, "preinstall.sh", again)
			wantCalls(t, "preinstall "+again+" with the user present", s.calls(t))
		}
		writeFile(t, s.path("etc/passwd"), "")
		writeFile(t, s.path("etc/group"), "")
	}

	// A group made by hand is used; only the user is added.
	writeFile(t, s.path("etc/group"), "vigil:x:4242:\n")
	s.run(t, "preinstall.sh", "install")
	wantCalls(t, "preinstall with a group made by hand", s.calls(t),
		"useradd --prefix ROOT --system --gid vigil --home-dir /var/lib/vigil --no-create-home --shell /usr/sbin/nologin --comment Vigil agent and hub vigil")
}

func TestScripts_PostinstallReloadsSystemdOnlyWhenItRuns(t *testing.T) {
	for _, p := range []string{"agent", "hub"} {
		script := p + "-postinstall.sh"
		s := newSandbox(t)
		// Without systemd (container, chroot): no systemctl at all.
		for _, args := range [][]string{{"configure", ""}, {"configure", "0.0.1"}, {"1"}, {"2"}, {"abort-upgrade", "0.0.1"}} {
			s.run(t, script, args...)
			wantCalls(t, script+" "+strings.Join(args, " ")+" without systemd", s.calls(t))
		}

		s.systemd(t)
		for _, args := range [][]string{{"configure", ""}, {"1"}} {
			if out := s.run(t, script, args...); out != "" {
				t.Errorf("%s on install printed %q", script, out)
			}
			wantCalls(t, script+" "+strings.Join(args, " "), s.calls(t), "systemctl daemon-reload")
		}
		// An upgrade with the service running: reload and a reminder, but
		// no restart, start or enable.
		s.active = true
		for _, args := range [][]string{{"configure", "0.0.1"}, {"2"}} {
			out := s.run(t, script, args...)
			wantCalls(t, script+" "+strings.Join(args, " "), s.calls(t),
				"systemctl daemon-reload", "systemctl is-active --quiet vigil-"+p+".service")
			if !strings.Contains(out, "vigil-"+p+".service still runs the previous version") {
				t.Errorf("%s %s: no restart reminder in %q", script, strings.Join(args, " "), out)
			}
		}
		s.run(t, script, "abort-upgrade", "0.0.1")
		wantCalls(t, script+" abort-upgrade", s.calls(t))
	}
}

func TestScripts_PreremoveStopsOnRemovalNotUpgrade(t *testing.T) {
	for _, p := range []string{"agent", "hub"} {
		script := p + "-preremove.sh"
		s := newSandbox(t)
		s.run(t, script, "remove")
		wantCalls(t, script+" remove without systemd", s.calls(t))

		s.systemd(t)
		for _, arg := range []string{"remove", "0"} {
			s.run(t, script, arg)
			wantCalls(t, script+" "+arg, s.calls(t), "systemctl stop vigil-"+p+".service")
		}
		for _, arg := range []string{"upgrade", "1", "deconfigure", "failed-upgrade"} {
			s.run(t, script, arg)
			wantCalls(t, script+" "+arg, s.calls(t))
		}
	}
}

// installed lays out an installed package's leftovers in the sandbox:
// state, configuration, an enablement link and the user.
func installed(t *testing.T, s *sandbox, p string) {
	t.Helper()
	writeFile(t, s.path("etc/passwd"), "vigil:x:999:999::/var/lib/vigil:/bin/false\n")
	writeFile(t, s.path("etc/group"), "vigil:x:999:\n")
	writeFile(t, s.path("var/lib/vigil/"+p+"/buffer/000001.log"), "events")
	writeFile(t, s.path("etc/vigil/agent.yaml"), "data_dir: /var/lib/vigil/agent\n")
	writeFile(t, s.path("etc/vigil/enroll.token"), "vigil1.x.y\n")
	writeFile(t, s.path("etc/vigil/hub.yaml"), "node_id: hub-1\n")
	if err := os.MkdirAll(s.path("etc/systemd/system/multi-user.target.wants"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/usr/lib/systemd/system/vigil-"+p+".service", s.path("etc/systemd/system/multi-user.target.wants/vigil-"+p+".service")); err != nil {
		t.Fatal(err)
	}
}

func TestScripts_PostremoveKeepsEverythingOnRemoveAndPurgesOnPurge(t *testing.T) {
	for _, p := range []string{"agent", "hub"} {
		script := p + "-postremove.sh"
		own := map[string]string{"agent": "etc/vigil/enroll.token", "hub": "etc/vigil/hub.yaml"}[p]
		link := "etc/systemd/system/multi-user.target.wants/vigil-" + p + ".service"
		s := newSandbox(t)
		installed(t, s, p)
		s.systemd(t)

		s.run(t, script, "remove")
		wantCalls(t, script+" remove", s.calls(t), "systemctl daemon-reload")
		for _, f := range []string{"var/lib/vigil/" + p + "/buffer/000001.log", own, link} {
			if !exists(s.path(f)) {
				t.Errorf("%s remove deleted %s", script, f)
			}
		}
		for _, arg := range []string{"upgrade", "1", "failed-upgrade", "abort-install", "abort-upgrade", "disappear"} {
			s.run(t, script, arg)
			wantCalls(t, script+" "+arg, s.calls(t))
		}

		// The agent.yaml conffile is dpkg's to delete; keep the sandbox's
		// /etc/vigil as dpkg leaves it.
		for _, f := range []string{"etc/vigil/agent.yaml", "etc/vigil/enroll.token", "etc/vigil/hub.yaml"} {
			if f != own {
				_ = os.Remove(s.path(f))
			}
		}
		s.run(t, script, "purge")
		wantCalls(t, script+" purge", s.calls(t),
			"userdel --prefix ROOT vigil", "groupdel --prefix ROOT vigil", "systemctl daemon-reload")
		for _, f := range []string{"var/lib/vigil", "etc/vigil", link} {
			if exists(s.path(f)) {
				t.Errorf("%s purge left %s", script, f)
			}
		}
		if b, _ := os.ReadFile(s.path("etc/passwd")); len(b) != 0 {
			t.Errorf("%s purge left the user: %q", script, b)
		}

		// A second purge (one that failed half-way, repeated) does no harm.
		s.run(t, script, "purge")
		wantCalls(t, script+" second purge", s.calls(t), "systemctl daemon-reload")
	}
}

func TestScripts_PostremovePurgeSparesTheOtherPackage(t *testing.T) {
	for _, p := range []string{"agent", "hub"} {
		other := map[string]string{"agent": "hub", "hub": "agent"}[p]
		script := p + "-postremove.sh"

		// The other package installed: its data, the directory and the
		// user stay.
		s := newSandbox(t)
		installed(t, s, p)
		writeFile(t, s.path("usr/bin/vigil-"+other), "")
		writeFile(t, s.path("var/lib/vigil/"+other+"/state"), "")
		s.run(t, script, "purge")
		wantCalls(t, script+" purge beside vigil-"+other, s.calls(t))
		if exists(s.path("var/lib/vigil/" + p)) {
			t.Errorf("%s purge kept its own data", script)
		}
		if !exists(s.path("var/lib/vigil/"+other+"/state")) || !strings.Contains(readFile(t, s.path("etc/passwd")), "vigil:") {
			t.Errorf("%s purge beside vigil-%s deleted its data or the user", script, other)
		}

		// The other package removed but not purged: its data stays, and
		// with it the user that owns it.
		s = newSandbox(t)
		installed(t, s, p)
		writeFile(t, s.path("var/lib/vigil/"+other+"/state"), "")
		out := s.run(t, script, "purge")
		wantCalls(t, script+" purge with vigil-"+other+" data left", s.calls(t))
		if !strings.Contains(out, "kept /var/lib/vigil and the vigil user") {
			t.Errorf("%s: no word on what was kept: %q", script, out)
		}
		if !exists(s.path("var/lib/vigil/"+other+"/state")) || !strings.Contains(readFile(t, s.path("etc/passwd")), "vigil:") {
			t.Errorf("%s purge deleted vigil-%s's data or the user", script, other)
		}
	}
}

func TestScripts_PostremoveRPMEraseKeepsStateAndUser(t *testing.T) {
	for _, p := range []string{"agent", "hub"} {
		script := p + "-postremove.sh"
		s := newSandbox(t)
		installed(t, s, p)
		s.systemd(t)
		s.run(t, script, "0")
		wantCalls(t, script+" 0", s.calls(t), "systemctl daemon-reload")
		if exists(s.path("etc/systemd/system/multi-user.target.wants/vigil-" + p + ".service")) {
			t.Errorf("%s 0 kept the enablement link", script)
		}
		for _, f := range []string{"var/lib/vigil/" + p + "/buffer/000001.log", "etc/vigil/agent.yaml", "etc/vigil/hub.yaml"} {
			if !exists(s.path(f)) {
				t.Errorf("%s 0 deleted %s", script, f)
			}
		}
		if !strings.Contains(readFile(t, s.path("etc/passwd")), "vigil:") {
			t.Errorf("%s 0 deleted the user", script)
		}
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestDeb_InstallUpgradeRemovePurgeWithDpkg has the real dpkg install the
// agent package into a temporary root, running its maintainer scripts
// without chroot (--force-script-chrootless sets DPKG_ROOT), then reinstall
// it as an upgrade, remove it and purge it.
func TestDeb_InstallUpgradeRemovePurgeWithDpkg(t *testing.T) {
	files := packages(t)
	needTool(t, "dpkg", "dpkg does not install the package into a temporary root here")
	if os.Geteuid() != 0 {
		t.Skip("dpkg --root needs root: not checked as this user")
	}
	if out, _ := exec.Command("dpkg", "--force-help").CombinedOutput(); !strings.Contains(string(out), "script-chrootless") {
		t.Skip("this dpkg has no --force-script-chrootless")
	}
	s := newSandbox(t)
	for _, d := range []string{"var/lib/dpkg/info", "var/lib/dpkg/updates"} {
		if err := os.MkdirAll(s.path(d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writeFile(t, s.path("var/lib/dpkg/status"), "")
	dpkg := func(args ...string) string {
		t.Helper()
		// Pre-Depends: passwd is not in the empty root's database.
		cmd := exec.Command("dpkg", append([]string{"--root=" + s.root, "--force-script-chrootless", "--force-depends", "--log=/dev/null"}, args...)...)
		cmd.Env = s.env()
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	deb := files["vigil-agent.deb"]

	dpkg("-i", deb)
	wantCalls(t, "install", s.calls(t),
		"groupadd --prefix ROOT --system vigil",
		"useradd --prefix ROOT --system --gid vigil --home-dir /var/lib/vigil --no-create-home --shell /bin/false --comment Vigil agent and hub vigil")
	for _, f := range []string{"usr/bin/vigil-agent", "usr/lib/systemd/system/vigil-agent.service", "etc/vigil/agent.yaml", "var/lib/vigil"} {
		if !exists(s.path(f)) {
			t.Errorf("install: no %s", f)
		}
	}
	if st, err := os.Stat(s.path("var/lib/vigil")); err != nil {
		t.Error(err)
	} else if st.Mode().Perm() != 0o750 {
		t.Errorf("install: /var/lib/vigil has mode %v, want 0750", st.Mode().Perm())
	}

	// Used: enrolled by the install snippet, events buffered, enabled; and
	// systemd runs from now on.
	f, err := os.OpenFile(s.path("etc/vigil/agent.yaml"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = f.WriteString("hubs: [\"10.0.0.10:7443\"]\n")
	_ = f.Close()
	changed := readFile(t, s.path("etc/vigil/agent.yaml"))
	writeFile(t, s.path("var/lib/vigil/agent/buffer/000001.log"), "events")
	if err := os.MkdirAll(s.path("etc/systemd/system/multi-user.target.wants"), 0o755); err != nil {
		t.Fatal(err)
	}
	link := s.path("etc/systemd/system/multi-user.target.wants/vigil-agent.service")
	if err := os.Symlink("/usr/lib/systemd/system/vigil-agent.service", link); err != nil {
		t.Fatal(err)
	}
	s.systemd(t)
	s.active = true

	// Upgrade (the same version again): prerm upgrade, preinst upgrade,
	// postrm upgrade, postinst configure OLD. No stop, no restart; the
	// changed configuration and the buffer stay.
	out := dpkg("-i", deb)
	wantCalls(t, "upgrade", s.calls(t), "systemctl daemon-reload", "systemctl is-active --quiet vigil-agent.service")
	if !strings.Contains(out, "still runs the previous version") {
		t.Errorf("upgrade: no restart reminder in\n%s", out)
	}
	if got := readFile(t, s.path("etc/vigil/agent.yaml")); got != changed {
		t.Errorf("upgrade replaced the changed agent.yaml:\n%s", got)
	}
	if !exists(s.path("var/lib/vigil/agent/buffer/000001.log")) || !exists(link) {
		t.Error("upgrade lost the buffer or the enablement")
	}

	dpkg("--remove", "vigil-agent")
	wantCalls(t, "remove", s.calls(t), "systemctl stop vigil-agent.service", "systemctl daemon-reload")
	if exists(s.path("usr/bin/vigil-agent")) || !exists(s.path("etc/vigil/agent.yaml")) || !exists(s.path("var/lib/vigil/agent/buffer/000001.log")) {
		t.Error("remove: want the binary gone, the configuration and the buffer kept")
	}

	dpkg("--purge", "vigil-agent")
	wantCalls(t, "purge", s.calls(t), "userdel --prefix ROOT vigil", "groupdel --prefix ROOT vigil", "systemctl daemon-reload")
	for _, f := range []string{"etc/vigil", "var/lib/vigil", "usr/lib/systemd/system/vigil-agent.service"} {
		if exists(s.path(f)) {
			t.Errorf("purge left %s", f)
		}
	}
	if exists(link) {
		t.Error("purge left the enablement link")
	}
	if got := readFile(t, s.path("etc/passwd")); got != "" {
		t.Errorf("purge left the user: %q", got)
	}
}
