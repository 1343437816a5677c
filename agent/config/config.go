// Package config owns the agent's configuration file (agent.yaml): fields,
// defaults, units and validation. It never opens sockets or starts anything.
package config

import (
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is agent.yaml. Merge order: DefaultConfig() < file < command-line flags.
type Config struct {
	// DataDir holds the buffer, the certificates and the enrollment identity.
	// Defaults to /var/lib/vigil/agent.
	DataDir string `yaml:"data_dir"`
	// Hubs are hub addresses (host:port). Defaults to the addresses learned
	// at enrollment.
	Hubs []string `yaml:"hubs"`
	// StatusAddr serves /status and /metrics on loopback. Defaults to
	// "127.0.0.1:9774"; "off" disables it.
	StatusAddr string `yaml:"status_addr"`
	// LogLevel is debug, info, warn or error. Defaults to info.
	LogLevel string `yaml:"log_level"`
	// MemoryLimit is the Go runtime's soft memory limit: the collector works
	// harder as the heap nears it, which keeps a branch host's agent small.
	// Defaults to 28MiB; 0 leaves the runtime default; the GOMEMLIMIT
	// environment variable, when set, wins.
	MemoryLimit ByteSize      `yaml:"memory_limit"`
	Buffer      Buffer        `yaml:"buffer"`
	Ship        Ship          `yaml:"ship"`
	Inputs      []InputConfig `yaml:"inputs"`
	// EnrollTokenFile is read at start when the agent is not enrolled yet:
	// it enrolls with that token at the first of Hubs and deletes the file
	// (a token is single-use). Defaults to /etc/vigil/enroll.token; "off"
	// disables it.
	EnrollTokenFile string `yaml:"enroll_token_file"`
	// Plugins are out-of-process parser plugins; an input uses one by
	// naming it in parser:.
	Plugins []PluginConfig `yaml:"plugins"`
}

// PluginConfig is one parser plugin binary.
type PluginConfig struct {
	// Name is what inputs put in parser:. It must not be a built-in
	// parser's name.
	Name string `yaml:"name"`
	// Path is the plugin binary; SHA256 its hex SHA-256, checked before
	// every start (a changed binary is refused).
	Path   string `yaml:"path"`
	SHA256 string `yaml:"sha256"`
	// Timeout bounds one call into the plugin; a plugin that misses it is
	// killed and restarted. Defaults to 5s.
	Timeout time.Duration `yaml:"timeout"`
	// MaxAttempts is how often one record may crash or hang the plugin
	// before it is set aside as a dead letter. Defaults to 3.
	MaxAttempts int `yaml:"max_attempts"`
}

// Buffer configures the durable queue.
type Buffer struct {
	// MaxBytes bounds the queued data. Defaults to 1GiB. When full, file and
	// TCP inputs wait and UDP inputs drop (counted).
	MaxBytes ByteSize `yaml:"max_bytes"`
	// Fsync is "always" (default) or "interval".
	Fsync string `yaml:"fsync"`
	// FsyncInterval applies to fsync "interval". Defaults to 1s.
	FsyncInterval time.Duration `yaml:"fsync_interval"`
}

// Ship configures batching and the connection to the hub.
type Ship struct {
	// MaxBatchEvents defaults to 1000.
	MaxBatchEvents int `yaml:"max_batch_events"`
	// MaxBatchBytes (uncompressed) defaults to 1MiB.
	MaxBatchBytes ByteSize `yaml:"max_batch_bytes"`
	// Linger defaults to 20ms.
	Linger time.Duration `yaml:"linger"`
	// Inflight (batches awaiting acknowledgement) defaults to 8.
	Inflight int `yaml:"inflight"`
	// BackoffMax (reconnect delay ceiling) defaults to 30s.
	BackoffMax time.Duration `yaml:"backoff_max"`
}

// InputConfig is one entry of inputs. Type selects which fields apply.
type InputConfig struct {
	// ID names the input; it is recorded on every event as input.type.
	ID string `yaml:"id"`
	// Type is "syslog", "file" or "scanner".
	Type string `yaml:"type"`
	// Parser is a built-in parser's name (see docs/parsers.md) or a plugin's
	// name from plugins. Defaults to syslog.
	Parser string `yaml:"parser"`
	// MaxLine is the record size limit; longer records are cut and tagged.
	// Defaults to 64KiB.
	MaxLine ByteSize `yaml:"max_line"`

	// syslog: Protocol is udp, tcp or tls; Listen is host:port; Framing is
	// auto (default), newline or octet; TLSCert/TLSKey for tls.
	Protocol string `yaml:"protocol"`
	Listen   string `yaml:"listen"`
	Framing  string `yaml:"framing"`
	TLSCert  string `yaml:"tls_cert"`
	TLSKey   string `yaml:"tls_key"`

	// file: Paths are globs; Exclude globs are skipped; StartAt is beginning
	// (default) or end for files seen the first time.
	Paths   []string `yaml:"paths"`
	Exclude []string `yaml:"exclude"`
	StartAt string   `yaml:"start_at"`

	// scanner: Dir is watched for scanner reports (parser: a report format
	// such as scanner.nessus, or empty to detect each file's); files go to
	// DoneDir or FailedDir afterwards (defaults DIR/done, DIR/failed);
	// PollInterval defaults to 2s.
	Dir          string        `yaml:"dir"`
	DoneDir      string        `yaml:"done_dir"`
	FailedDir    string        `yaml:"failed_dir"`
	PollInterval time.Duration `yaml:"poll_interval"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		DataDir:         "/var/lib/vigil/agent",
		StatusAddr:      "127.0.0.1:9774",
		EnrollTokenFile: "/etc/vigil/enroll.token",
		LogLevel:        "info",
		MemoryLimit:     28 << 20,
		Buffer:          Buffer{MaxBytes: 1 << 30, Fsync: "always", FsyncInterval: time.Second},
	}
}

// Load reads path over the defaults. Unknown keys are an error.
func Load(path string) (Config, error) {
	c := DefaultConfig()
	f, err := os.Open(path)
	if err != nil {
		return c, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	dec := yaml.NewDecoder(f)
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return c, fmt.Errorf("parse config %s: %w", path, err)
	}
	if c.DataDir != "" && !filepath.IsAbs(c.DataDir) {
		c.DataDir = filepath.Join(filepath.Dir(path), c.DataDir)
	}
	return c, nil
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.DataDir == "" {
		errs = append(errs, errors.New("data_dir is required"))
	}
	switch c.Buffer.Fsync {
	case "", "always", "interval":
	default:
		errs = append(errs, fmt.Errorf("buffer.fsync must be always or interval, not %q", c.Buffer.Fsync))
	}
	plugins := map[string]bool{}
	for i, p := range c.Plugins {
		where := fmt.Sprintf("plugins[%d]", i)
		switch {
		case p.Name == "":
			errs = append(errs, fmt.Errorf("%s: name is required", where))
		case plugins[p.Name]:
			errs = append(errs, fmt.Errorf("%s: duplicate name %q", where, p.Name))
		}
		plugins[p.Name] = true
		if p.Path == "" {
			errs = append(errs, fmt.Errorf("%s (%s): path is required", where, p.Name))
		}
		if sum, err := hex.DecodeString(p.SHA256); err != nil || len(sum) != 32 {
			errs = append(errs, fmt.Errorf("%s (%s): sha256 must be the binary's 64-hex-digit SHA-256 (sha256sum %s)", where, p.Name, p.Path))
		}
		if p.Timeout < 0 || p.MaxAttempts < 0 {
			errs = append(errs, fmt.Errorf("%s (%s): timeout and max_attempts must not be negative", where, p.Name))
		}
	}
	ids := map[string]bool{}
	for i, in := range c.Inputs {
		where := fmt.Sprintf("inputs[%d]", i)
		if in.ID == "" {
			errs = append(errs, fmt.Errorf("%s: id is required", where))
		} else if ids[in.ID] {
			errs = append(errs, fmt.Errorf("%s: duplicate id %q", where, in.ID))
		}
		ids[in.ID] = true
		maxLine := in.MaxLine
		if maxLine == 0 {
			maxLine = 64 << 10
		}
		if c.Buffer.MaxBytes > 0 && c.Buffer.MaxBytes < 4*maxLine {
			errs = append(errs, fmt.Errorf("%s (%s): buffer.max_bytes %d is below 4 × max_line (%d): a record must always fit", where, in.ID, c.Buffer.MaxBytes, 4*maxLine))
		}
		switch in.Type {
		case "syslog":
			if in.Listen == "" {
				errs = append(errs, fmt.Errorf("%s (%s): listen is required", where, in.ID))
			}
			if in.Protocol == "tls" && (in.TLSCert == "" || in.TLSKey == "") {
				errs = append(errs, fmt.Errorf("%s (%s): protocol tls needs tls_cert and tls_key", where, in.ID))
			}
		case "file":
			if len(in.Paths) == 0 {
				errs = append(errs, fmt.Errorf("%s (%s): paths is required", where, in.ID))
			}
		case "scanner":
			if in.Dir == "" {
				errs = append(errs, fmt.Errorf("%s (%s): dir is required", where, in.ID))
			}
		default:
			errs = append(errs, fmt.Errorf("%s (%s): type must be syslog, file or scanner, not %q", where, in.ID, in.Type))
		}
	}
	return errors.Join(errs...)
}

// Paths inside the data directory.
func (c Config) BufferDir() string    { return filepath.Join(c.DataDir, "buffer") }
func (c Config) TLSDir() string       { return filepath.Join(c.DataDir, "tls") }
func (c Config) KeyFile() string      { return filepath.Join(c.DataDir, "tls", "agent.key") }
func (c Config) CertFile() string     { return filepath.Join(c.DataDir, "tls", "agent.crt") }
func (c Config) CAFile() string       { return filepath.Join(c.DataDir, "tls", "ca.crt") }
func (c Config) IdentityFile() string { return filepath.Join(c.DataDir, "identity.json") }

// ByteSize is a size in bytes that YAML may give as 1048576, "512KiB",
// "64MiB" or "1GiB".
type ByteSize int64

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

// ParseByteSize parses a size with an optional KiB, MiB or GiB suffix.
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	mult := int64(1)
	for suf, m := range map[string]int64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if strings.HasSuffix(s, suf) {
			mult, s = m, strings.TrimSpace(strings.TrimSuffix(s, suf))
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("size %q: want a non-negative integer with an optional KiB, MiB or GiB suffix", s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q: too large", s)
	}
	return ByteSize(n * mult), nil
}
