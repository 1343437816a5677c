package nfpm

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	agentconfig "github.com/vigil-sec/vigil/agent/config"
	hubconfig "github.com/vigil-sec/vigil/hub/config"
)

// version runs version.sh with a git describe string and a commit count.
func version(describe, count string) (string, error) {
	out, err := exec.Command("/bin/sh", "version.sh", describe, count).CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func TestVersion_MapsGitDescribe(t *testing.T) {
	for describe, want := range map[string]string{
		"v1.2.3":                   "1.2.3",
		"1.2.3":                    "1.2.3",
		"v1.2.3-dirty":             "1.2.3",
		"v1.2.3-rc.1":              "1.2.3~rc.1",
		"v1.2.3-rc-1":              "1.2.3~rc.1",
		"v1.2.3-4-gabcdef0":        "1.2.3+git4.abcdef0",
		"v1.2.3-rc.1-4-gabcdef0":   "1.2.3~rc.1+git4.abcdef0",
		"v1.2.3-rc-1-12-g0123abcd": "1.2.3~rc.1+git12.0123abcd",
		"abcdef0":                  "0.0.0~git63.abcdef0",
		"6b74743-dirty":            "0.0.0~git63.6b74743",
	} {
		got, err := version(describe, "63")
		if err != nil || got != want {
			t.Errorf("version.sh %s: %q %v, want %q", describe, got, err, want)
		}
	}
}

func TestVersion_RefusesTagsThatMakeNoPackageVersion(t *testing.T) {
	for _, describe := range []string{"release-2", "foo", "v1.2_3", "2024", "vx"} {
		if got, err := version(describe, "63"); err == nil {
			t.Errorf("version.sh %s: %q, want an error", describe, got)
		}
	}
}

func TestVersion_OfThisCheckoutIsUsable(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	cmd := exec.Command("/bin/sh", "version.sh")
	out, err := cmd.CombinedOutput()
	if err != nil {
		if strings.Contains(string(out), "not a git repository") {
			t.Skip("not a git checkout")
		}
		t.Fatalf("version.sh: %v\n%s", err, out)
	}
	v := strings.TrimSpace(string(out))
	if v == "" || strings.Trim(v, "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.+~") != "" || v[0] < '0' || v[0] > '9' {
		t.Errorf("version.sh printed %q", v)
	}
}

// sortedVersions are package versions from oldest to newest, as git
// describe orders the builds they come from.
var sortedVersions = []string{
	"0.0.0~git5.fffffff",
	"0.0.0~git63.abcdef0",
	"0.0.0~git100.0000000",
	"0.1.0",
	"1.2.3~rc.1",
	"1.2.3~rc.1+git4.abcdef0",
	"1.2.3~rc.2",
	"1.2.3",
	"1.2.3+git4.abcdef0",
	"1.2.3+git12.0000000",
	"1.2.4",
}

func TestVersion_SortsInDpkgAndRpmAsGitDescribes(t *testing.T) {
	checked := false
	if _, err := exec.LookPath("dpkg"); err == nil {
		checked = true
		for i := 1; i < len(sortedVersions); i++ {
			a, b := sortedVersions[i-1], sortedVersions[i]
			if err := exec.Command("dpkg", "--compare-versions", a, "lt", b).Run(); err != nil {
				t.Errorf("dpkg: %s is not older than %s", a, b)
			}
		}
	}
	if _, err := exec.LookPath("rpm"); err == nil {
		checked = true
		for i := 1; i < len(sortedVersions); i++ {
			a, b := sortedVersions[i-1], sortedVersions[i]
			out, err := exec.Command("rpm", "--eval", `%{lua: print(rpm.vercmp("`+a+`", "`+b+`"))}`).Output()
			if err != nil {
				t.Fatalf("rpm vercmp: %v", err)
			}
			if got := strings.TrimSpace(string(out)); got != "-1" {
				t.Errorf("rpm: vercmp(%s, %s) = %s, want -1", a, b, got)
			}
		}
	}
	if !checked {
		t.Skip("neither dpkg nor rpm installed: version order not checked")
	}
}

func TestAgentConfig_IsValidWithSyslogOn514(t *testing.T) {
	cfg, err := agentconfig.Load("agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/var/lib/vigil/agent" || cfg.EnrollTokenFile != "/etc/vigil/enroll.token" || cfg.StatusAddr != "127.0.0.1:9774" {
		t.Errorf("data_dir %q, enroll_token_file %q, status_addr %q", cfg.DataDir, cfg.EnrollTokenFile, cfg.StatusAddr)
	}
	if len(cfg.Hubs) != 0 {
		t.Errorf("hubs %q: the package cannot know the hub", cfg.Hubs)
	}
	var inputs []string
	for _, in := range cfg.Inputs {
		inputs = append(inputs, in.ID+" "+in.Type+" "+in.Protocol+" "+in.Listen)
	}
	if want := []string{"syslog-udp syslog udp 0.0.0.0:514", "syslog-tcp syslog tcp 0.0.0.0:514"}; !slices.Equal(inputs, want) {
		t.Errorf("inputs %q, want %q", inputs, want)
	}
}

// The install script of `vigil-hub token create -install-snippet` appends
// a hubs line unless one starts a line already.
func TestAgentConfig_TakesTheInstallSnippetsHubsLine(t *testing.T) {
	b, err := os.ReadFile("agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), "hubs:") {
			t.Fatalf("agent.yaml has a hubs line %q: the snippet would not add its own", sc.Text())
		}
	}
	if !strings.HasSuffix(string(b), "\n") {
		t.Fatal("agent.yaml does not end in a newline")
	}
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, append(b, "hubs: [\"10.0.0.10:7443\", \"10.0.0.11:7443\"]\n"...), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := agentconfig.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if want := []string{"10.0.0.10:7443", "10.0.0.11:7443"}; !slices.Equal(cfg.Hubs, want) {
		t.Errorf("hubs %q, want %q", cfg.Hubs, want)
	}
}

func TestHubConfigExample_IsValidWithDataUnderVarLibVigil(t *testing.T) {
	cfg, err := hubconfig.Load("hub.yaml.example")
	if err != nil {
		t.Fatal(err)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.DataDir != "/var/lib/vigil/hub" {
		t.Errorf("data_dir %q, want /var/lib/vigil/hub", cfg.DataDir)
	}
	if cfg.IngestAddr != "0.0.0.0:7443" || cfg.RaftAddr != "0.0.0.0:7444" || !strings.HasSuffix(cfg.APIAddr, ":8443") {
		t.Errorf("ports: ingest %s raft %s api %s", cfg.IngestAddr, cfg.RaftAddr, cfg.APIAddr)
	}
}

// unit reads the settings of a systemd unit that the packages depend on.
func unit(t *testing.T, name string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), "systemd", name))
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]string{}
	for _, line := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && !strings.HasPrefix(line, "#") {
			m[k] = append(m[k], v)
		}
	}
	return m
}

// TestUnits_MatchThePackageLayout keeps the units in systemd/ and the
// packages in step: the binary and configuration paths, the user, and a
// data directory the service may write.
func TestUnits_MatchThePackageLayout(t *testing.T) {
	agentCfg, err := agentconfig.Load("agent.yaml")
	if err != nil {
		t.Fatal(err)
	}
	hubCfg, err := hubconfig.Load("hub.yaml.example")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		unit, execStart, dataDir string
	}{
		{"vigil-agent.service", "/usr/bin/vigil-agent run -c /etc/vigil/agent.yaml", agentCfg.DataDir},
		{"vigil-hub.service", "/usr/bin/vigil-hub serve -c /etc/vigil/hub.yaml", hubCfg.DataDir},
	} {
		u := unit(t, c.unit)
		want := map[string]string{
			"ExecStart":          c.execStart,
			"User":               "vigil",
			"Group":              "vigil",
			"StateDirectory":     "vigil",
			"StateDirectoryMode": "0750",
			"ReadWritePaths":     "/var/lib/vigil",
		}
		for k, v := range want {
			if !slices.Equal(u[k], []string{v}) {
				t.Errorf("%s: %s=%q, want %q", c.unit, k, u[k], v)
			}
		}
		if !strings.HasPrefix(c.dataDir, "/var/lib/vigil/") {
			t.Errorf("%s: data_dir %s is outside ReadWritePaths=/var/lib/vigil", c.unit, c.dataDir)
		}
	}
}
