package app

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os/signal"
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
	if err := p.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", name, err)
		if errors.Is(err, ErrConfig) {
			return 2
		}
		return 1
	}
	return 0
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
