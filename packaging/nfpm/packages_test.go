package nfpm

import (
	"archive/tar"
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
)

// testVersion is the version the tests give the packages: an untagged
// build, whose "~" must reach both formats unchanged.
const testVersion = "0.0.0~git42.abcdef0"

// pkgNames are the two packages.
var pkgNames = []string{"vigil-agent", "vigil-hub"}

// repoRoot is the repository root: the tests run in packaging/nfpm.
func repoRoot(t testing.TB) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// built holds the packages that buildPackages makes once for every test.
var built struct {
	once  sync.Once
	dir   string            // temporary directory: bin/ and dist/
	files map[string]string // "vigil-agent.deb" → path
	bins  map[string]string // "vigil-agent" → the binary packaged
	skip  string            // why the packages could not be built here
	err   error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		_ = os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// packages returns the four packages, built on first use: vigil-agent and
// vigil-hub compiled by go build, then packaged by nfpm (go run at the
// version the Makefile pins) as .deb and .rpm. It skips in -short runs and
// when nfpm cannot be fetched.
func packages(t *testing.T) map[string]string {
	t.Helper()
	if testing.Short() {
		t.Skip("-short: the .deb and .rpm packages are built only by the full test run")
	}
	built.once.Do(func() { built.err = buildPackages(repoRoot(t)) })
	if built.skip != "" {
		t.Skip(built.skip)
	}
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.files
}

func buildPackages(root string) error {
	mod, err := nfpmModule(root)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "vigil-packages-")
	if err != nil {
		return err
	}
	built.dir = dir
	bin, dist := filepath.Join(dir, "bin"), filepath.Join(dir, "dist")
	build := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", bin+string(filepath.Separator),
		"./agent/cmd/vigil-agent", "./hub/cmd/vigil-hub")
	build.Dir = root
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build: %v\n%s", err, out)
	}
	built.bins = map[string]string{}
	for _, p := range pkgNames {
		built.bins[p] = filepath.Join(bin, p)
	}

	var wg sync.WaitGroup
	errs := make([]error, 4)
	outs := make([]string, 4)
	i := 0
	for _, p := range pkgNames {
		for _, format := range []string{"deb", "rpm"} {
			wg.Add(1)
			go func(i int, p, format string) {
				defer wg.Done()
				cmd := exec.Command("go", "run", mod, "package",
					"-f", filepath.Join("packaging", "nfpm", p+".yaml"), "-p", format, "-t", dist+string(filepath.Separator))
				cmd.Dir = root
				cmd.Env = append(os.Environ(), "VIGIL_VERSION="+testVersion, "VIGIL_ARCH="+runtime.GOARCH, "VIGIL_BIN="+bin,
					"SOURCE_DATE_EPOCH=1767225600")
				out, err := cmd.CombinedOutput()
				outs[i] = string(out)
				if err != nil {
					errs[i] = fmt.Errorf("nfpm %s %s: %v\n%s", p, format, err, out)
				}
			}(i, p, format)
			i++
		}
	}
	if err := os.MkdirAll(dist, 0o755); err != nil {
		return err
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && offline(outs[i]) {
			built.skip = "nfpm could not be fetched from the Go module proxy (offline?), so no package was built: " + firstLine(outs[i])
			return nil
		}
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}

	// The install snippet of `vigil-hub token create` installs
	// ./vigil-agent_*.deb or ./vigil-agent-*.rpm: one file each.
	built.files = map[string]string{}
	for _, p := range pkgNames {
		for format, glob := range map[string]string{"deb": p + "_*.deb", "rpm": p + "-*.rpm"} {
			m, _ := filepath.Glob(filepath.Join(dist, glob))
			if len(m) != 1 {
				return fmt.Errorf("%s: want one package, found %q", glob, m)
			}
			built.files[p+"."+format] = m[0]
		}
	}
	return nil
}

// nfpmModule reads the nfpm module@version the Makefile runs.
func nfpmModule(root string) (string, error) {
	b, err := os.ReadFile(filepath.Join(root, "Makefile"))
	if err != nil {
		return "", err
	}
	m := regexp.MustCompile(`(?m)^NFPM\s*:=\s*(\S+@v\S+)\s*$`).FindSubmatch(b)
	if m == nil {
		return "", errors.New("Makefile: no NFPM := module@version line")
	}
	return string(m[1]), nil
}

// offline tells a failed module download from a failed build.
func offline(out string) bool {
	for _, s := range []string{"dial tcp", "no such host", "GOPROXY=off", "module lookup disabled", "i/o timeout", "connection refused", "network is unreachable"} {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// needTool skips the test when name is not installed.
func needTool(t *testing.T, name, why string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		t.Skipf("%s not installed: %s", name, why)
	}
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, ee.Stderr)
		}
		t.Fatalf("%s %s: %v", name, strings.Join(args, " "), err)
	}
	return string(out)
}

// pkgFile is one file of a package as the tests expect it.
type pkgFile struct {
	mode, owner, path string
	src               string // repository file (or "bin:NAME") whose bytes it must hold
}

// layout is what each package installs. Directories that dpkg lists but
// rpm does not own (/etc, /usr, ...) are in debDirs.
var layout = map[string][]pkgFile{
	"vigil-agent": {
		{"drwxr-x---", "root/vigil", "/etc/vigil/", ""},
		{"-rw-r-----", "root/vigil", "/etc/vigil/agent.yaml", "packaging/nfpm/agent.yaml"},
		{"-rwxr-xr-x", "root/root", "/usr/bin/vigil-agent", "bin:vigil-agent"},
		{"-rw-r--r--", "root/root", "/usr/lib/systemd/system/vigil-agent.service", "systemd/vigil-agent.service"},
		{"drwxr-x---", "vigil/vigil", "/var/lib/vigil/", ""},
	},
	"vigil-hub": {
		{"drwxr-x---", "root/vigil", "/etc/vigil/", ""},
		{"-rw-r-----", "root/vigil", "/etc/vigil/hub.yaml.example", "packaging/nfpm/hub.yaml.example"},
		{"-rwxr-xr-x", "root/root", "/usr/bin/vigil-hub", "bin:vigil-hub"},
		{"-rw-r--r--", "root/root", "/usr/lib/systemd/system/vigil-hub.service", "systemd/vigil-hub.service"},
		{"drwxr-x---", "vigil/vigil", "/var/lib/vigil/", ""},
	},
}

var debDirs = []string{"/etc/", "/usr/", "/usr/bin/", "/usr/lib/", "/usr/lib/systemd/", "/usr/lib/systemd/system/", "/var/", "/var/lib/"}

// conffiles are each package's configuration files: never replaced on
// upgrade.
var conffiles = map[string]string{
	"vigil-agent": "/etc/vigil/agent.yaml",
	"vigil-hub":   "/etc/vigil/hub.yaml.example",
}

// scriptSources maps each maintainer script to its source in scripts/.
func scriptSources(pkg string) map[string]string {
	short := strings.TrimPrefix(pkg, "vigil-")
	return map[string]string{
		"preinst":  "packaging/nfpm/scripts/preinstall.sh",
		"postinst": "packaging/nfpm/scripts/" + short + "-postinstall.sh",
		"prerm":    "packaging/nfpm/scripts/" + short + "-preremove.sh",
		"postrm":   "packaging/nfpm/scripts/" + short + "-postremove.sh",
	}
}

func sourceBytes(t *testing.T, src string) []byte {
	t.Helper()
	path := filepath.Join(repoRoot(t), src)
	if name, ok := strings.CutPrefix(src, "bin:"); ok {
		path = built.bins[name]
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var debArch = map[string]string{"amd64": "amd64", "arm64": "arm64"}
var rpmArch = map[string]string{"amd64": "x86_64", "arm64": "aarch64"}

func TestPackages_FileNamesMatchInstallSnippet(t *testing.T) {
	files := packages(t)
	deb, rpm := debArch[runtime.GOARCH], rpmArch[runtime.GOARCH]
	if deb == "" {
		t.Skipf("no expected package architecture names for GOARCH %s", runtime.GOARCH)
	}
	for _, p := range pkgNames {
		if got, want := filepath.Base(files[p+".deb"]), p+"_"+testVersion+"_"+deb+".deb"; got != want {
			t.Errorf("deb file %s, want %s", got, want)
		}
		if got, want := filepath.Base(files[p+".rpm"]), p+"-"+testVersion+"-1."+rpm+".rpm"; got != want {
			t.Errorf("rpm file %s, want %s", got, want)
		}
	}
}

func TestDeb_ContentsHaveExactPathsOwnersAndModes(t *testing.T) {
	files := packages(t)
	needTool(t, "dpkg-deb", "the .deb packages were built but not inspected (apt-get install dpkg)")
	for _, p := range pkgNames {
		var want []string
		for _, d := range debDirs {
			want = append(want, "drwxr-xr-x root/root ."+d)
		}
		for _, f := range layout[p] {
			want = append(want, f.mode+" "+f.owner+" ."+f.path)
		}
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(run(t, "dpkg-deb", "-c", files[p+".deb"])), "\n") {
			// drwxr-x--- root/vigil  0 2026-01-01 00:00 ./etc/vigil/
			f := strings.Fields(line)
			if len(f) != 6 {
				t.Fatalf("%s: unexpected dpkg-deb -c line %q", p, line)
			}
			got = append(got, f[0]+" "+f[1]+" "+f[5])
		}
		slices.Sort(want)
		slices.Sort(got)
		if !slices.Equal(got, want) {
			t.Errorf("%s.deb contents:\n%s\nwant:\n%s", p, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestDeb_FilesHoldTheirSources(t *testing.T) {
	files := packages(t)
	needTool(t, "dpkg-deb", "the .deb packages were built but not inspected (apt-get install dpkg)")
	for _, p := range pkgNames {
		tarball, err := exec.Command("dpkg-deb", "--fsys-tarfile", files[p+".deb"]).Output()
		if err != nil {
			t.Fatalf("%s: dpkg-deb --fsys-tarfile: %v", p, err)
		}
		content := map[string][]byte{}
		tr := tar.NewReader(bytes.NewReader(tarball))
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			if h.Typeflag == tar.TypeReg {
				b, err := io.ReadAll(tr)
				if err != nil {
					t.Fatal(err)
				}
				content[strings.TrimPrefix(h.Name, ".")] = b
			}
		}
		for _, f := range layout[p] {
			if f.src == "" {
				continue
			}
			if !bytes.Equal(content[f.path], sourceBytes(t, f.src)) {
				t.Errorf("%s.deb: %s differs from %s", p, f.path, f.src)
			}
		}
	}
}

func TestDeb_ControlFields(t *testing.T) {
	files := packages(t)
	needTool(t, "dpkg-deb", "the .deb packages were built but not inspected (apt-get install dpkg)")
	for _, p := range pkgNames {
		fields := map[string]string{}
		var names []string
		for _, line := range strings.Split(run(t, "dpkg-deb", "-f", files[p+".deb"]), "\n") {
			if line == "" || line[0] == ' ' {
				continue // description continuation
			}
			k, v, _ := strings.Cut(line, ":")
			fields[k] = strings.TrimSpace(v)
			names = append(names, k)
		}
		slices.Sort(names)
		wantNames := []string{"Architecture", "Description", "Homepage", "Installed-Size", "Maintainer", "Package", "Pre-Depends", "Priority", "Section", "Version"}
		if !slices.Equal(names, wantNames) {
			t.Errorf("%s: control fields %q, want %q (no Depends: the binaries are static)", p, names, wantNames)
		}
		want := map[string]string{
			"Package":     p,
			"Version":     testVersion,
			"Section":     "admin",
			"Priority":    "optional",
			"Pre-Depends": "passwd",
			"Homepage":    "https://github.com/vigil-sec/vigil",
			"Maintainer":  "Vigil maintainers <maintainers@vigil-sec.invalid>",
		}
		if a := debArch[runtime.GOARCH]; a != "" {
			want["Architecture"] = a
		}
		for k, v := range want {
			if fields[k] != v {
				t.Errorf("%s: %s: %q, want %q", p, k, fields[k], v)
			}
		}
		if !strings.HasPrefix(fields["Description"], "Vigil ") {
			t.Errorf("%s: Description %q", p, fields["Description"])
		}
	}
}

func TestDeb_ConffilesAndMaintainerScripts(t *testing.T) {
	files := packages(t)
	needTool(t, "dpkg-deb", "the .deb packages were built but not inspected (apt-get install dpkg)")
	for _, p := range pkgNames {
		dir := t.TempDir()
		run(t, "dpkg-deb", "-e", files[p+".deb"], dir)
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		if want := []string{"conffiles", "control", "md5sums", "postinst", "postrm", "preinst", "prerm"}; !slices.Equal(names, want) {
			t.Errorf("%s: control archive holds %q, want %q", p, names, want)
		}
		b, err := os.ReadFile(filepath.Join(dir, "conffiles"))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(b), conffiles[p]+"\n"; got != want {
			t.Errorf("%s: conffiles %q, want %q", p, got, want)
		}
		for script, src := range scriptSources(p) {
			path := filepath.Join(dir, script)
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got, sourceBytes(t, src)) {
				t.Errorf("%s: %s differs from %s", p, script, src)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o755 {
				t.Errorf("%s: %s has mode %v, want 0755", p, script, st.Mode().Perm())
			}
			if out, err := exec.Command("sh", "-n", path).CombinedOutput(); err != nil {
				t.Errorf("%s: sh -n %s: %v\n%s", p, script, err, out)
			}
		}
		// md5sums covers the regular files, the configuration included.
		b, err = os.ReadFile(filepath.Join(dir, "md5sums"))
		if err != nil {
			t.Fatal(err)
		}
		var want []string
		for _, f := range layout[p] {
			if f.src != "" {
				sum := md5.Sum(sourceBytes(t, f.src))
				want = append(want, hex.EncodeToString(sum[:])+"  "+strings.TrimPrefix(f.path, "/"))
			}
		}
		got := strings.Split(strings.TrimSpace(string(b)), "\n")
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			t.Errorf("%s: md5sums\n%s\nwant\n%s", p, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

func TestRPM_ContentsConfigFilesAndScripts(t *testing.T) {
	files := packages(t)
	needTool(t, "rpm", "the .rpm packages were built but not inspected (apt-get install rpm to check them)")
	for _, p := range pkgNames {
		pkg := files[p+".rpm"]
		header := run(t, "rpm", "-qp", "--qf", "%{NAME}|%{VERSION}|%{RELEASE}|%{URL}|%{VENDOR}|%{PACKAGER}|%{ARCH}", pkg)
		want := strings.Join([]string{p, testVersion, "1", "https://github.com/vigil-sec/vigil", "Vigil",
			"Vigil maintainers <maintainers@vigil-sec.invalid>", rpmArch[runtime.GOARCH]}, "|")
		if rpmArch[runtime.GOARCH] == "" { // no expected name for this GOARCH: leave it out
			header = header[:strings.LastIndex(header, "|")+1]
		}
		if header != want {
			t.Errorf("%s: header %q, want %q", p, header, want)
		}

		// Paths, modes, owners and flags ("cn": %config(noreplace)); the
		// shared directories /etc, /usr, ... are not the package's.
		list := run(t, "rpm", "-qp", "--qf", "[%{FILEMODES:perms} %{FILEUSERNAME}/%{FILEGROUPNAME} %{FILEFLAGS:fflags} %{FILENAMES}\n]", pkg)
		var wantList []string
		for _, f := range layout[p] {
			flags := ""
			if f.path == conffiles[p] {
				flags = "cn"
			}
			wantList = append(wantList, strings.TrimSpace(f.mode+" "+f.owner+" "+flags)+" "+strings.TrimSuffix(f.path, "/"))
		}
		var gotList []string
		for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
			gotList = append(gotList, strings.Join(strings.Fields(line), " "))
		}
		slices.Sort(gotList)
		slices.Sort(wantList)
		if !slices.Equal(gotList, wantList) {
			t.Errorf("%s.rpm files:\n%s\nwant:\n%s", p, strings.Join(gotList, "\n"), strings.Join(wantList, "\n"))
		}
		if got := strings.TrimSpace(run(t, "rpm", "-qp", "--configfiles", pkg)); got != conffiles[p] {
			t.Errorf("%s: config files %q, want %q", p, got, conffiles[p])
		}
		// --list names the same paths.
		var paths []string
		for _, f := range layout[p] {
			paths = append(paths, strings.TrimSuffix(f.path, "/"))
		}
		slices.Sort(paths)
		if got := strings.Split(strings.TrimSpace(run(t, "rpm", "-qp", "--list", pkg)), "\n"); !slices.Equal(got, paths) {
			t.Errorf("%s: rpm --list %q, want %q", p, got, paths)
		}

		// Contents: SHA-256 digests of the sources.
		for _, line := range strings.Split(strings.TrimSpace(run(t, "rpm", "-qp", "--qf", "[%{FILEDIGESTS} %{FILENAMES}\n]", pkg)), "\n") {
			digest, path, ok := strings.Cut(strings.TrimSpace(line), " ")
			if !ok {
				continue // a directory: no digest
			}
			for _, f := range layout[p] {
				if f.path == path {
					sum := sha256.Sum256(sourceBytes(t, f.src))
					if hex.EncodeToString(sum[:]) != digest {
						t.Errorf("%s.rpm: %s differs from %s", p, path, f.src)
					}
				}
			}
		}

		// No dependency but rpm's own features (the binaries are static).
		for _, req := range strings.Split(strings.TrimSpace(run(t, "rpm", "-qp", "--requires", pkg)), "\n") {
			if !strings.HasPrefix(req, "rpmlib(") {
				t.Errorf("%s: unexpected requirement %q", p, req)
			}
		}

		// The scriptlets are the sources, run by /bin/sh.
		scripts := run(t, "rpm", "-qp", "--scripts", pkg)
		for _, s := range []string{"preinstall", "postinstall", "preuninstall", "postuninstall"} {
			if !strings.Contains(scripts, s+" scriptlet (using /bin/sh):\n") {
				t.Errorf("%s: rpm --scripts has no %s scriptlet run by /bin/sh:\n%s", p, s, scripts)
			}
		}
		src := scriptSources(p)
		for tag, script := range map[string]string{"PREIN": "preinst", "POSTIN": "postinst", "PREUN": "prerm", "POSTUN": "postrm"} {
			if got := run(t, "rpm", "-qp", "--qf", "%{"+tag+"}", pkg); got != string(sourceBytes(t, src[script])) {
				t.Errorf("%s: %%{%s} differs from %s", p, tag, src[script])
			}
		}
	}
}
