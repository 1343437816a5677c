package command

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/vigil-sec/vigil/hub"
	"github.com/vigil-sec/vigil/hub/config"
	"github.com/vigil-sec/vigil/internal/cpuprofile"
)

func runServe(env Env, args []string) error {
	fs := newFlags("serve", env)
	cfgPath := fs.String("c", "", "configuration file (hub.yaml)")
	data := fs.String("data", "", "data directory; uses DIR/hub.yaml when -c is not given")
	logLevel := fs.String("log-level", "", "override log_level")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile to this file until the hub stops (for diagnosis)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *cfgPath == "" && *data != "" {
		*cfgPath = *data + "/hub.yaml"
	}
	if *cfgPath == "" {
		return &usageError{"-c hub.yaml is required"}
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	if *logLevel != "" {
		cfg.LogLevel = *logLevel
	}
	log := newLogger(env.Stderr, cfg.LogLevel)
	srv, err := hub.New(cfg, log)
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
	return srv.Run(ctx)
}
