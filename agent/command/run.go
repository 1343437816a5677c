package command

import (
	"context"
	"github.com/vigil-sec/vigil/internal/cpuprofile"
	"os"
	"os/signal"
	"syscall"

	"github.com/vigil-sec/vigil/agent"
)

func runRun(env Env, args []string) error {
	fs := newFlags("run", env)
	cfgPath := fs.String("c", "", "configuration file (agent.yaml)")
	data := fs.String("data", "", "data directory (overrides the config's data_dir)")
	logLevel := fs.String("log-level", "", "override log_level")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file until the agent stops (for diagnosis)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *cfgPath == "" {
		return &usageError{"-c agent.yaml is required"}
	}
	cfg, err := loadConfig(*cfgPath, *data)
	if err != nil {
		return err
	}
	if *logLevel != "" {
		cfg.LogLevel = *logLevel
	}
	if err := enrollAtStart(env, cfg); err != nil {
		return err
	}
	log := newLogger(env.Stderr, cfg.LogLevel)
	a, err := agent.New(cfg, log)
	if err != nil {
		return err
	}
	stopProfile, err := cpuprofile.Start(*cpuProfile)
	if err != nil {
		return err
	}
	defer stopProfile()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return a.Run(ctx)
}
