package containers

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const hubData = "/var/lib/vigil/hub"

// env is one test's Docker engine, images and compose project.
type env struct {
	t       *testing.T
	root    string   // repository root
	compose []string // "docker compose" or "docker-compose"
	project string
	tag     string
	file    string // compose.yaml
}

// newEnv skips unless Docker, make and compose work, builds the images with
// `make images` under a fresh tag, and registers their removal.
func newEnv(t *testing.T) *env {
	t.Helper()
	if testing.Short() {
		t.Skip("container tests build images and run a compose project; skipped with -short")
	}
	if _, err := exec.LookPath("docker"); err != nil {
		t.Skip("docker not found in PATH: container tests skipped")
	}
	if out, err := command(30*time.Second, "docker", "info", "--format", "{{.ServerVersion}}"); err != nil {
		t.Skipf("docker daemon not reachable (docker info: %v: %s): container tests skipped", err, firstLine(out))
	}
	if _, err := exec.LookPath("make"); err != nil {
		t.Skip("make not found in PATH (the images are built with `make images`): container tests skipped")
	}
	var compose []string
	for _, c := range [][]string{{"docker", "compose"}, {"docker-compose"}} {
		if _, err := command(30*time.Second, c[0], append(c[1:], "version")...); err == nil {
			compose = c
			break
		}
	}
	if compose == nil {
		t.Skip("neither `docker compose` nor `docker-compose` works: container tests skipped")
	}
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	var b [4]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	e := &env{t: t, root: root, compose: compose, project: "vigilct" + id, tag: "ct-" + id,
		file: filepath.Join(root, "packaging", "compose", "compose.yaml")}
	t.Cleanup(func() {
		command(2*time.Minute, "docker", "rmi", "-f", e.image("vigil-hub"), e.image("vigil-agent"), e.image("vigil-sysloggen"))
	})
	e.run(5*time.Minute, "make", "-C", root, "images", "IMAGE_TAG="+e.tag, "IMAGE_CTX="+t.TempDir())

	// The syslog sender, FROM scratch too, from test/sysloggen.
	ctx := t.TempDir()
	t.Setenv("CGO_ENABLED", "0") // static: the image has no libc
	e.run(2*time.Minute, "go", "build", "-trimpath", "-o", filepath.Join(ctx, "sysloggen"), filepath.Join(root, "test", "sysloggen"))
	df := "FROM scratch\nCOPY sysloggen /\nUSER 65532:65532\nENTRYPOINT [\"/sysloggen\"]\n"
	if err := os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte(df), 0o644); err != nil {
		t.Fatal(err)
	}
	e.run(2*time.Minute, "docker", "build", "-q", "-t", e.image("vigil-sysloggen"), ctx)
	return e
}

func (e *env) image(name string) string { return name + ":" + e.tag }

// up starts the compose project and registers `down -v`, after printing the
// services' logs if the test failed.
func (e *env) up() {
	e.t.Helper()
	e.t.Cleanup(func() {
		if e.t.Failed() {
			out, _ := e.composeCmd(time.Minute, "logs", "--no-color", "--tail", "40")
			e.t.Logf("compose logs:\n%s", out)
		}
		if out, err := e.composeCmd(2*time.Minute, "down", "-v", "--remove-orphans", "-t", "5"); err != nil {
			e.t.Errorf("compose down: %v\n%s", err, out)
		}
	})
	if out, err := e.composeCmd(3*time.Minute, "up", "-d"); err != nil {
		e.t.Fatalf("compose up: %v\n%s", err, out)
	}
}

func (e *env) composeCmd(timeout time.Duration, args ...string) (string, error) {
	argv := append(append([]string(nil), e.compose...), "-p", e.project, "-f", e.file)
	argv = append(argv, args...)
	cmd, cancel := commandContext(timeout, argv[0], argv[1:]...)
	defer cancel()
	cmd.Env = append(os.Environ(), "VIGIL_HUB_IMAGE="+e.image("vigil-hub"), "VIGIL_AGENT_IMAGE="+e.image("vigil-agent"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// container is the ID of a service's container.
func (e *env) container(service string) string {
	e.t.Helper()
	out, err := e.composeCmd(time.Minute, "ps", "-q", service)
	id := strings.TrimSpace(out)
	if err != nil || id == "" || strings.Contains(id, "\n") {
		e.t.Fatalf("container of %s: %v %q", service, err, out)
	}
	return id
}

// run runs a command that must succeed.
func (e *env) run(timeout time.Duration, name string, args ...string) string {
	e.t.Helper()
	out, err := command(timeout, name, args...)
	if err != nil {
		e.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// hubCLI runs vigil-hub inside a hub container against its own API.
func (e *env) hubCLI(container string, out any, args ...string) error {
	argv := append([]string{"exec", container, "/vigil-hub"}, args...)
	argv = append(argv, "-data", hubData, "-addr", "https://127.0.0.1:8443")
	cmd, cancel := commandContext(30*time.Second, "docker", argv...)
	defer cancel()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("vigil-hub %s: %v: %s", strings.Join(args, " "), err, firstLine(stderr.String()))
	}
	return json.Unmarshal(stdout.Bytes(), out)
}

// leader asks each container for its Raft status and returns the leader's
// node ID when all of them name the same one and it is among them.
func (e *env) leader(containers map[string]string) (string, error) {
	var leader string
	leaders := 0
	for node, c := range containers {
		var st struct {
			State    string `json:"state"`
			LeaderID string `json:"leader_id"`
		}
		if err := e.hubCLI(c, &st, "status"); err != nil {
			return "", err
		}
		if st.LeaderID == "" || leader != "" && st.LeaderID != leader {
			return "", fmt.Errorf("%s sees leader %q, others %q", node, st.LeaderID, leader)
		}
		leader = st.LeaderID
		if st.State == "Leader" {
			leaders++
		}
	}
	if _, ok := containers[leader]; !ok || leaders != 1 {
		return "", fmt.Errorf("leader %q, %d nodes in state Leader", leader, leaders)
	}
	return leader, nil
}

type counts struct {
	Total   int            `json:"total"`
	ByAgent map[string]int `json:"by_agent"`
}

// send runs the sysloggen image on the project's network.
func (e *env) send(agent, prefix string, n int) {
	e.t.Helper()
	net := strings.TrimSpace(e.run(time.Minute, "docker", "network", "ls", "-q", "--filter", "label=com.docker.compose.project="+e.project))
	if net == "" || strings.Contains(net, "\n") {
		e.t.Fatalf("network of project %s: %q", e.project, net)
	}
	e.run(time.Minute, "docker", "run", "--rm", "--network", net, e.image("vigil-sysloggen"),
		"-tcp", agent+":5514", "-count", fmt.Sprint(n), "-prefix", prefix)
}

// waitFor polls cond until it holds or timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		err := cond()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s: %v", timeout, what, err)
		}
		time.Sleep(time.Second)
	}
}

// TestContainers_ComposeClusterSurvivesHubLoss brings up
// packaging/compose/compose.yaml, waits for a leader, for both agents to
// enroll and their events to be stored, then kills the leader's container
// and checks that the other two elect a leader and still take events.
func TestContainers_ComposeClusterSurvivesHubLoss(t *testing.T) {
	e := newEnv(t)
	start := time.Now()
	e.up()
	hubs := map[string]string{}
	for _, s := range []string{"hub-1", "hub-2", "hub-3"} {
		hubs[s] = e.container(s)
	}
	var leader string
	waitFor(t, 90*time.Second, "the three hubs to agree on a leader", func() (err error) {
		leader, err = e.leader(hubs)
		return err
	})
	t.Logf("leader %s after %s", leader, time.Since(start).Round(time.Second))

	// The images' HEALTHCHECKs run the health sub-commands.
	waitFor(t, 60*time.Second, "every hub and agent container to be healthy", func() error {
		for _, s := range []string{"hub-1", "hub-2", "hub-3", "agent-1", "agent-2"} {
			out, err := command(30*time.Second, "docker", "inspect", "-f", "{{.State.Health.Status}}", e.container(s))
			if st := strings.TrimSpace(out); err != nil || st != "healthy" {
				return fmt.Errorf("%s: %s %v", s, st, err)
			}
		}
		return nil
	})

	waitFor(t, 60*time.Second, "both agents to be enrolled", func() error {
		var agents []struct{ Hostname, Branch string }
		if err := e.hubCLI(hubs[leader], &agents, "agent", "list", "-json"); err != nil {
			return err
		}
		got := map[string]bool{}
		for _, a := range agents {
			if a.Branch == "compose" {
				got[a.Hostname] = true
			}
		}
		if len(agents) != 2 || !got["agent-1"] || !got["agent-2"] {
			return fmt.Errorf("agents %+v", agents)
		}
		return nil
	})

	e.send("agent-1", "before-1", 20)
	e.send("agent-2", "before-2", 30)
	stored := func(c string, total int) func() error {
		return func() error {
			var n counts
			if err := e.hubCLI(c, &n, "events", "counts"); err != nil {
				return err
			}
			if n.Total != total || len(n.ByAgent) != 2 {
				return fmt.Errorf("counts %+v, want %d events from 2 agents", n, total)
			}
			return nil
		}
	}
	waitFor(t, 60*time.Second, "50 events from the two agents", stored(hubs[leader], 50))

	// Kill the leader: the two others elect one and keep taking events,
	// including from an agent that was connected to the dead node.
	e.run(time.Minute, "docker", "kill", hubs[leader])
	dead := leader
	delete(hubs, dead)
	t.Logf("killed %s after %s", dead, time.Since(start).Round(time.Second))
	waitFor(t, 60*time.Second, "the two remaining hubs to agree on a new leader", func() (err error) {
		leader, err = e.leader(hubs)
		return err
	})
	t.Logf("new leader %s", leader)
	e.send("agent-1", "after-1", 25)
	e.send("agent-2", "after-2", 25)
	for node, c := range hubs {
		waitFor(t, 90*time.Second, "100 events on "+node, stored(c, 100))
	}
	t.Logf("done after %s", time.Since(start).Round(time.Second))
}

func command(timeout time.Duration, name string, args ...string) (string, error) {
	cmd, cancel := commandContext(timeout, name, args...)
	defer cancel()
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func commandContext(timeout time.Duration, name string, args ...string) (*exec.Cmd, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.WaitDelay = 5 * time.Second
	return cmd, cancel
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
