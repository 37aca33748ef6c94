package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/wiredesk/wiredesk/cmd/internal/config"
	"github.com/wiredesk/wiredesk/cmd/internal/service"
)

// ServiceMain is the whole of cmd/fetcher, cmd/enricher and cmd/indexer:
// one service against an external NATS server. It returns the exit code:
// 0 on a clean stop, 1 on a runtime failure, 2 on a configuration error.
//
//	SERVICE [-config FILE] [-config.check] [-log.level LEVEL]
//	SERVICE healthcheck [-config FILE]   exit 0 when /readyz answers 200
func ServiceMain(name string, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "configuration file (default: built-in defaults; ${VAR:default} is expanded)")
	check := fs.Bool("config.check", false, "validate the configuration and exit")
	level := fs.String("log.level", "info", "log level: debug, info, warn, error")
	healthcheck := false
	if len(args) > 0 && args[0] == "healthcheck" {
		healthcheck, args = true, args[1:]
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		return 2
	}
	cfg := config.Default()
	if *configPath != "" {
		var err error
		if cfg, err = config.Load(*configPath); err != nil {
			fmt.Fprintf(stderr, "%s: %v\n", name, err)
			return 2
		}
	}
	listen := map[string]string{"fetcher": cfg.Fetcher.Listen, "enricher": cfg.Enricher.Listen, "indexer": cfg.Indexer.Listen}[name]
	switch {
	case healthcheck:
		return probe(name, listen, stdout, stderr)
	case *check:
		fmt.Fprintf(stdout, "%s: configuration is valid\n", name)
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	p := &Process{Config: cfg, Logger: service.NewLogger(*level).With("service", name), Services: []string{name}}
	if name == "indexer" {
		if limit := ApplyMemoryLimit(cfg); limit > 0 {
			p.Logger.Info("Go memory limit set from indexer.memory_limit.", slog.Int64("memory_limit_bytes", limit))
		}
	}
	if err := p.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		if errors.Is(err, ErrConfig) {
			return 2
		}
		return 1
	}
	return 0
}

// ApplyMemoryLimit sets the process's soft Go memory limit to
// cfg.Indexer.MemoryLimit and returns it, unless the limit is zero or the
// GOMEMLIMIT environment variable is set (the operator's word wins); then it
// changes nothing and returns 0. Call it only in a process that runs the
// indexer alone: the limit bounds the whole heap, which in the all-in-one
// process every service shares.
func ApplyMemoryLimit(cfg config.Config) int64 {
	if cfg.Indexer.MemoryLimit <= 0 || os.Getenv("GOMEMLIMIT") != "" {
		return 0
	}
	debug.SetMemoryLimit(cfg.Indexer.MemoryLimit)
	return cfg.Indexer.MemoryLimit
}

// probe asks a running service whether it is ready; for container
// healthchecks, which have no curl in a minimal image.
func probe(name, listen string, stdout, stderr io.Writer) int {
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get("http://" + listen + "/readyz")
	if err != nil {
		fmt.Fprintf(stderr, "%s: not reachable: %v\n", name, err)
		return 1
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "%s: %s", name, body)
		return 1
	}
	fmt.Fprintf(stdout, "%s: %s", name, body)
	return 0
}
