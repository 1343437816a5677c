// Command vigil-bench measures Vigil's performance figures and prints each on
// stdout as one "name value unit" line, so that two builds can be compared in
// one run; progress, methods and diagnostics go to stderr. It is what
// `make bench` runs, after `make build` has produced bin/vigil-agent,
// bin/vigil-hub and bin/sysloggen.
//
// Sections (bench/README.md describes every figure and its target):
//
//   - zstd: the agent's batch encoding and compression on the corpus.
//   - parse: parsing plus the durable buffer with GOMAXPROCS=1, in a child
//     process (this binary re-executed with -child parse).
//   - latency: intake-to-acknowledgement latency of an in-process agent
//     pipeline shipping to a real vigil-hub process.
//   - rss: the memory of a real vigil-agent process at a steady 20,000
//     lines/s, shipping to a real hub.
//   - e2e: events acknowledged per second from a real agent to a real hub,
//     draining a pre-filled buffer and live.
//   - cluster: a three-node hub cluster on 127.0.0.1-3: replicated ingest
//     from several agents, failover time as an agent sees it when the leader
//     is killed, and snapshot save/restore speed when vigil-hub has them.
//   - packages: the size of the .deb and .rpm packages that `make packages`
//     left in dist/ (none when it has not run).
//
// Every child process is started with a parent-death signal and killed on
// exit, on a signal and on a panic; all data lives in temporary directories
// that are removed at the end (unless -keep).
//
// The command never hard-codes a figure and never disables an fsync.
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sectionOrder returns the sections in the order they run.
func sectionOrder() []string {
	return []string{"zstd", "parse", "latency", "rss", "e2e", "cluster", "packages", "systemd"}
}

func main() {
	root := flag.String("root", "", "repository root (default: found from the working directory)")
	binDir := flag.String("bin", "", "directory with vigil-agent, vigil-hub and sysloggen (default: ROOT/bin)")
	corpusDir := flag.String("corpus", "", "log corpus directory (default: ROOT/../shared/corpus/logs, else the repository's own samples)")
	tmp := flag.String("tmp", "", "parent of the temporary directories (default: the system temporary directory); must be on a real disk")
	keep := flag.Bool("keep", false, "keep the temporary directories and logs")
	only := flag.String("only", strings.Join(sectionOrder(), ","), "comma-separated sections to run: "+strings.Join(sectionOrder(), ","))
	parseLines := flag.Int("parse-lines", 500_000, "parse: lines run through the parser (the corpus repeated)")
	appenders := flag.Int("appenders", 4, "parse: concurrent appenders of 512-record batches")
	rssRate := flag.Int("rss-rate", 20_000, "rss: lines per second sent to the agent")
	rssSeconds := flag.Int("rss-seconds", 15, "rss: seconds of steady sending; RSS is sampled over the last 10")
	latRate := flag.Int("lat-rate", 5_000, "latency: lines per second")
	latSeconds := flag.Int("lat-seconds", 10, "latency: seconds of steady sending")
	e2eLines := flag.Int("e2e-lines", 300_000, "e2e: lines per run (drain and live)")
	senders := flag.Int("senders", 4, "e2e: parallel sysloggen processes filling the agent")
	clusterLines := flag.Int("cluster-lines", 150_000, "cluster: lines each agent is filled with for the replicated drain")
	clusterAgents := flag.Int("cluster-agents", 3, "cluster: agents draining into the cluster")
	clusterRate := flag.Int("cluster-rate", 2_000, "cluster: lines per second the agent sends while the leader is killed")
	clusterKills := flag.Int("cluster-kills", 10, "cluster: leader kills with 300ms Raft timeouts")
	clusterDefaultKills := flag.Int("cluster-default-kills", 10, "cluster: leader kills with the default Raft timeouts (0: skip)")
	profile := flag.String("profile", "", "write CPU profiles (the parse child, the cluster hubs) into this directory")
	child := flag.String("child", "", "internal: run one measurement as a child process")
	flag.Parse()

	if *child != "" {
		// The child writes figure lines on stdout for the parent to check
		// and forward.
		var err error
		switch *child {
		case "parse":
			err = runParseChild(parseChildArgs{corpusDir: *corpusDir, root: *root, tmp: *tmp, lines: *parseLines, appenders: *appenders, profile: *profile}, os.Stdout)
		default:
			err = fmt.Errorf("unknown child %q", *child)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "vigil-bench child:", err)
			os.Exit(1)
		}
		return
	}

	sections := map[string]bool{}
	for _, s := range strings.Split(*only, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !contains(sectionOrder(), s) {
			fmt.Fprintf(os.Stderr, "vigil-bench: unknown section %q (known: %s)\n", s, strings.Join(sectionOrder(), ","))
			os.Exit(2)
		}
		sections[s] = true
	}
	b, err := newBench(config{
		root: *root, binDir: *binDir, corpusDir: *corpusDir, tmp: *tmp, keep: *keep,
		parseLines: *parseLines, appenders: *appenders, rssRate: *rssRate, rssSeconds: *rssSeconds,
		latRate: *latRate, latSeconds: *latSeconds, e2eLines: *e2eLines, senders: *senders, profile: *profile,
		clusterLines: *clusterLines, clusterAgents: *clusterAgents, clusterRate: *clusterRate,
		clusterKills: *clusterKills, clusterDefaultKills: *clusterDefaultKills,
	}, os.Stdout, os.Stderr)
	if err != nil {
		fmt.Fprintln(os.Stderr, "vigil-bench:", err)
		os.Exit(1)
	}
	os.Exit(b.run(sections))
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// config is what main's flags set.
type config struct {
	root, binDir, corpusDir, tmp string
	keep                         bool
	parseLines, appenders        int
	rssRate, rssSeconds          int
	latRate, latSeconds          int
	e2eLines, senders            int
	profile                      string
	clusterLines, clusterAgents  int
	clusterRate, clusterKills    int
	clusterDefaultKills          int
}

// bench is one run: its configuration, corpus, scratch directory and child
// processes.
type bench struct {
	cfg    config
	out    io.Writer // figures
	logw   io.Writer // progress
	corpus *corpus
	dir    string // scratch directory of this run
	sup    *supervisor
	failed []string
}

func newBench(cfg config, out, logw io.Writer) (*bench, error) {
	if cfg.root == "" {
		r, err := findRoot()
		if err != nil {
			return nil, err
		}
		cfg.root = r
	}
	if cfg.binDir == "" {
		cfg.binDir = filepath.Join(cfg.root, "bin")
	}
	for _, name := range []string{"vigil-agent", "vigil-hub", "sysloggen"} {
		if _, err := os.Stat(filepath.Join(cfg.binDir, name)); err != nil {
			return nil, fmt.Errorf("%s not found in %s (run make build): %w", name, cfg.binDir, err)
		}
	}
	if cfg.corpusDir == "" {
		cfg.corpusDir = filepath.Join(cfg.root, "..", "shared", "corpus", "logs")
	}
	c, err := loadCorpus(cfg.corpusDir, cfg.root)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(cfg.tmp, "vigil-bench-")
	if err != nil {
		return nil, err
	}
	b := &bench{cfg: cfg, out: out, logw: logw, corpus: c, dir: dir, sup: newSupervisor()}
	b.logf("corpus: %s", c.describe())
	b.logf("scratch directory: %s (%s)", dir, fsKind(dir))
	return b, nil
}

// findRoot walks up from the working directory to the module's go.mod.
func findRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && bytes.Contains(b, []byte("module github.com/vigil-sec/vigil\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no github.com/vigil-sec/vigil go.mod above the working directory; give -root")
		}
		dir = parent
	}
}

// run runs the selected sections and returns the exit code. Children are
// killed on return, on SIGINT/SIGTERM and on a panic.
func (b *bench) run(sections map[string]bool) (code int) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-sig
		b.logf("got %s: stopping children", s)
		b.sup.killAll()
		b.cleanup()
		os.Exit(130)
	}()
	defer func() {
		if r := recover(); r != nil {
			b.sup.killAll()
			fmt.Fprintf(b.logw, "vigil-bench: panic: %v\n%s", r, debug.Stack())
			b.cleanup()
			code = 2
		}
	}()
	start := time.Now()
	for _, s := range sectionOrder() {
		if !sections[s] {
			continue
		}
		b.logf("=== %s", s)
		t := time.Now()
		var err error
		switch s {
		case "zstd":
			err = b.zstdFigures()
		case "parse":
			err = b.parseFigures()
		case "latency":
			err = b.latencyFigures()
		case "rss":
			err = b.rssFigures()
		case "e2e":
			err = b.e2eFigures()
		case "cluster":
			err = b.clusterFigures()
		case "packages":
			err = b.packageFigures()
		case "systemd":
			err = b.systemdFigures()
		}
		b.sup.killAll()
		if err != nil {
			b.failed = append(b.failed, s)
			b.logf("section %s FAILED: %v", s, err)
		}
		b.logf("--- %s took %s", s, time.Since(t).Round(100*time.Millisecond))
	}
	b.cleanup()
	b.logf("total %s", time.Since(start).Round(100*time.Millisecond))
	if len(b.failed) > 0 {
		b.logf("failed sections: %s", strings.Join(b.failed, ", "))
		return 1
	}
	return 0
}

func (b *bench) cleanup() {
	if b.cfg.keep {
		b.logf("kept %s", b.dir)
		return
	}
	_ = os.RemoveAll(b.dir)
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.logw, "vigil-bench: "+format+"\n", args...)
}

// figure prints one measured figure.
func (b *bench) figure(name string, value float64, unit string) {
	fmt.Fprintf(b.out, "%s %s %s\n", name, formatValue(value), unit)
}

func formatValue(v float64) string {
	prec := 2
	switch a := max(v, -v); {
	case a >= 1000:
		prec = 0
	case a >= 10:
		prec = 1
	}
	return strconv.FormatFloat(v, 'f', prec, 64)
}

// forwardFigures copies figure lines from a child's stdout to the output,
// checking their form.
func (b *bench) forwardFigures(r io.Reader) error {
	sc := bufio.NewScanner(r)
	var bad []string
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		if len(f) != 3 {
			bad = append(bad, line)
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			bad = append(bad, line)
			continue
		}
		b.figure(f[0], v, f[2])
	}
	if len(bad) > 0 {
		return fmt.Errorf("child printed lines that are not figures: %q", bad)
	}
	return sc.Err()
}
