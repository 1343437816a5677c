// Package host starts out-of-process parser plugins for the agent: it checks
// the binary's SHA-256 before running it, starts it with an empty
// environment, negotiates mutual TLS and the API version, and hands back a
// handle to call it. It never restarts a plugin or decides what happens to a
// record when one fails; the agent's supervisor does.
package host

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/vigil-sec/vigil/plugins/sdk"
)

// Config says which plugin to start.
type Config struct {
	// Path is the plugin binary.
	Path string
	// SHA256 is the hex SHA-256 the binary must have. Required: an
	// unpinned binary is never started.
	SHA256 string
	// StartTimeout bounds the start and the handshake; default 10s.
	StartTimeout time.Duration
	// Stderr receives what the plugin writes to its standard error; nil
	// discards it. Lines are passed on as written.
	Stderr io.Writer
	Log    *slog.Logger
}

// Process is one running plugin.
type Process struct {
	Parser *sdk.RemoteParser
	Info   sdk.PluginInfo
	client *plugin.Client
}

// ErrChecksum is returned when the binary does not match its pinned SHA-256.
var ErrChecksum = errors.New("plugin binary does not match its sha256")

// Start runs the plugin and completes the handshake.
func Start(cfg Config) (*Process, error) {
	if cfg.Path == "" {
		return nil, errors.New("plugin path is required")
	}
	want, err := hex.DecodeString(strings.TrimSpace(cfg.SHA256))
	if err != nil || len(want) != sha256.Size {
		return nil, fmt.Errorf("plugin %s: sha256 %q: want 64 hex digits", cfg.Path, cfg.SHA256)
	}
	path, err := filepath.Abs(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("plugin %s: %w", cfg.Path, err)
	}
	// go-plugin checks the sum too, but only as it starts the process;
	// checking first gives a clear error and starts nothing.
	if err := verify(path, want); err != nil {
		return nil, err
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 10 * time.Second
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	stderr := cfg.Stderr
	if stderr == nil {
		stderr = io.Discard
	}
	cmd := exec.Command(path)
	cmd.Env = []string{} // nothing of the agent's environment
	cmd.Dir = filepath.Dir(path)
	setDeathSignal(cmd)
	client := plugin.NewClient(&plugin.ClientConfig{
		HandshakeConfig:  sdk.Handshake(),
		Plugins:          plugin.PluginSet{sdk.PluginName: &sdk.GRPCPlugin{}},
		Cmd:              cmd,
		SecureConfig:     &plugin.SecureConfig{Checksum: want, Hash: sha256.New()},
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         true,
		SkipHostEnv:      true,
		StartTimeout:     cfg.StartTimeout,
		SyncStderr:       stderr,
		SyncStdout:       io.Discard,
		Logger:           hclog.New(&hclog.LoggerOptions{Name: "plugin", Output: slogWriter{log}, Level: hclog.Warn}),
	})
	ok := false
	defer func() {
		if !ok {
			client.Kill()
		}
	}()
	rpc, err := client.Client()
	if err != nil {
		return nil, fmt.Errorf("start plugin %s: %w", cfg.Path, err)
	}
	raw, err := rpc.Dispense(sdk.PluginName)
	if err != nil {
		return nil, fmt.Errorf("start plugin %s: %w", cfg.Path, err)
	}
	rp, isParser := raw.(*sdk.RemoteParser)
	if !isParser {
		return nil, fmt.Errorf("start plugin %s: unexpected plugin type %T", cfg.Path, raw)
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.StartTimeout)
	defer cancel()
	info, err := rp.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("start plugin %s: %w", cfg.Path, err)
	}
	ok = true
	return &Process{Parser: rp, Info: info, client: client}, nil
}

func verify(path string, want []byte) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("plugin %s: %w", path, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("plugin %s: %w", path, err)
	}
	if got := h.Sum(nil); string(got) != string(want) {
		return fmt.Errorf("%w: %s has sha256 %x, configured %x", ErrChecksum, path, got, want)
	}
	return nil
}

// Exited reports whether the plugin process has ended.
func (p *Process) Exited() bool { return p.client.Exited() }

// Pid is the plugin's process id, 0 if unknown.
func (p *Process) Pid() int {
	if rc := p.client.ReattachConfig(); rc != nil {
		return rc.Pid
	}
	return 0
}

// Kill ends the plugin process (gracefully if it answers at once, else
// with SIGKILL) and waits for it.
func (p *Process) Kill() { p.client.Kill() }

// slogWriter routes go-plugin's hclog output into slog.
type slogWriter struct{ l *slog.Logger }

func (w slogWriter) Write(b []byte) (int, error) {
	w.l.Warn(strings.TrimSpace(string(b)), "component", "plugin-host")
	return len(b), nil
}
