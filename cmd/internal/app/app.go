// Package app composes the services into processes: each service alone
// (cmd/fetcher, cmd/enricher, cmd/indexer) and all three in one process
// around an embedded NATS server (cmd/wiredesk run). The composition is
// the same in both: every service has its own NATS connection and talks to
// the others only through JetStream.
package app

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/oklog/run"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wiredesk/wiredesk/cmd/internal/bus"
	"github.com/wiredesk/wiredesk/cmd/internal/config"
	"github.com/wiredesk/wiredesk/cmd/internal/enricher"
	"github.com/wiredesk/wiredesk/cmd/internal/fetcher"
	"github.com/wiredesk/wiredesk/cmd/internal/indexer"
	"github.com/wiredesk/wiredesk/cmd/internal/schemas"
	"github.com/wiredesk/wiredesk/cmd/internal/service"
	"github.com/wiredesk/wiredesk/configs"
	"github.com/wiredesk/wiredesk/enrich"
	"github.com/wiredesk/wiredesk/index"
	"github.com/wiredesk/wiredesk/ingest"
)

// ErrConfig marks an error in the configuration: exit code 2.
var ErrConfig = errors.New("configuration error")

// Process is what one process runs: some services, one HTTP endpoint.
type Process struct {
	Config config.Config
	Logger *slog.Logger
	// Services to run: any of "fetcher", "enricher", "indexer".
	Services []string
	// Listen overrides the services' own listen addresses with one
	// endpoint for the whole process ("" keeps theirs).
	Listen string
	// Feeds overrides the feed registry (the demo serves its own).
	Feeds []ingest.Feed
	// Store overrides the search index (tests and the demo share one).
	Store index.Store
	// OnPoll and PollOnStart are passed to the fetcher.
	OnPoll      func(fetcher.PollResult)
	PollOnStart bool
	// Registry receives the metrics; nil makes a new one.
	Registry *prometheus.Registry
}

// Run runs the process until ctx is done or a service fails, then shuts
// everything down in order: not ready, stop pulling, finish and ack
// in-flight work, drain the NATS connections.
func (p *Process) Run(ctx context.Context) error {
	if p.Registry == nil {
		p.Registry = service.NewRegistry()
	}
	reg := p.Registry
	health := &service.Health{}
	var g run.Group
	var conns []*nats.Conn
	defer func() {
		for _, nc := range conns {
			_ = nc.Drain() // flushes acks and publishes still buffered
		}
		for _, nc := range conns {
			waitClosed(nc, 5*time.Second)
		}
	}()
	listens := []string{}
	for _, name := range p.Services {
		nc, err := service.ConnectNATS(p.Config.NATS, "wiredesk-"+name, p.Logger)
		if err != nil {
			return err
		}
		conns = append(conns, nc)
		var jsOpts []jetstream.JetStreamOpt
		if name == "fetcher" {
			// fetcher.max_in_flight bounds the fetcher's publishes; the
			// enricher's are bounded by its batch and keep the client's
			// default (4,000).
			jsOpts = append(jsOpts, jetstream.WithPublishAsyncMaxPending(max(1, p.Config.Fetcher.MaxInFlight)))
		}
		js, err := jetstream.New(nc, jsOpts...)
		if err != nil {
			return fmt.Errorf("opening JetStream: %w", err)
		}
		if err := ensureStreams(ctx, js, p.Config.Streams, p.Logger); err != nil {
			return err
		}
		log := p.Logger.With(slog.String("component", name))
		health.Add(name+"/nats", service.NATSCheck(nc))
		actor, listen, err := p.service(ctx, name, nc, js, log, health)
		if err != nil {
			return err
		}
		listens = append(listens, listen)
		actx, cancel := context.WithCancel(context.Background())
		g.Add(func() error {
			if err := actor(actx); err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			return fmt.Errorf("%s stopped", name)
		}, func(error) { cancel() })
	}
	if p.Listen != "" {
		listens = []string{p.Listen}
	}
	handler := service.Handler(reg, health)
	for _, addr := range listens {
		hctx, cancel := context.WithCancel(context.Background())
		g.Add(func() error { return service.Serve(hctx, addr, handler) }, func(error) { cancel() })
	}
	g.Add(func() error {
		<-ctx.Done()
		return nil
	}, func(error) {})
	err := g.Run()
	if ctx.Err() != nil {
		return nil // asked to stop: a clean shutdown
	}
	return err
}

// ensureStreams retries while NATS is unreachable: a service that starts
// before its server waits for it instead of crash-looping.
func ensureStreams(ctx context.Context, js jetstream.JetStream, t bus.Topology, log *slog.Logger) error {
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := bus.EnsureStreams(cctx, js, t)
		cancel()
		if err == nil {
			return nil
		}
		if errors.Is(err, schemas.ErrIncompatible) {
			// Another build registered a schema this one breaks: retrying
			// cannot help, the deployment must be fixed.
			return fmt.Errorf("%w: %w", ErrConfig, err)
		}
		if ctx.Err() != nil {
			return err
		}
		log.Warn("Creating streams failed; retrying.", slog.String("error", err.Error()), slog.Int("attempt", attempt))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(min(time.Duration(attempt)*time.Second, 10*time.Second)):
		}
	}
}

// service builds the actor for one service name.
func (p *Process) service(ctx context.Context, name string, nc *nats.Conn, js jetstream.JetStream, log *slog.Logger, health *service.Health) (func(context.Context) error, string, error) {
	reg := p.Registry
	switch name {
	case "fetcher":
		feeds := p.Feeds
		if feeds == nil {
			var err error
			if feeds, err = ingest.LoadRegistry(rootFS(p.Config.Fetcher.Feeds)); err != nil {
				return nil, "", fmt.Errorf("%w: %w", ErrConfig, err)
			}
		}
		opts := ingest.Options{
			UserAgent: p.Config.Fetcher.UserAgent, MaxBodyBytes: p.Config.Fetcher.MaxBodyBytes,
			Timeout: p.Config.Fetcher.Timeout, Allow: p.Config.Fetcher.AllowHosts, MaxConnsPerHost: p.Config.Fetcher.PerHost,
		}
		if err := ingest.ValidateOptions(opts); err != nil {
			return nil, "", fmt.Errorf("%w: fetcher: %w", ErrConfig, err)
		}
		s := &fetcher.Service{NC: nc, JS: js, Client: ingest.NewClient(opts), Feeds: feeds, Config: p.Config.Fetcher, Logger: log, OnPoll: p.OnPoll, PollOnStart: p.PollOnStart,
			FullTextWorkers: p.Config.Fetcher.FullTextWorkers, Replicas: p.Config.Streams.Raw.Replicas}
		health.Add("fetcher", readyFlag(&s.Ready))
		return func(ctx context.Context) error { return s.Run(ctx, reg) }, p.Config.Fetcher.Listen, nil
	case "enricher":
		e, err := LoadEnricher(p.Config.Enricher)
		if err != nil {
			return nil, "", fmt.Errorf("%w: %w", ErrConfig, err)
		}
		rules := &reloadable{}
		rules.cur.Store(e)
		s := &enricher.Service{JS: js, Enricher: rules, Config: p.Config.Enricher, Grace: p.Config.Grace, Logger: log}
		health.Add("enricher", readyFlag(&s.Ready))
		return func(ctx context.Context) error {
			// SIGHUP reloads the taxonomy and gazetteer without a restart.
			var wg sync.WaitGroup
			defer wg.Wait()
			wg.Go(func() { rules.watchSIGHUP(ctx, p.Config.Enricher, log) })
			return s.Run(ctx, reg)
		}, p.Config.Enricher.Listen, nil
	case "indexer":
		store := p.Store
		if store == nil {
			var err error
			if store, err = OpenStore(ctx, p.Config.Indexer, log); err != nil {
				return nil, "", err
			}
		}
		s := &indexer.Service{JS: js, Store: store, Config: p.Config.Indexer, Grace: p.Config.Grace, Logger: log}
		health.Add("indexer", readyFlag(&s.Ready))
		ping := &pinger{}
		health.Add("indexer/index", ping.err)
		return func(ctx context.Context) error {
			defer func() {
				if p.Store == nil {
					_ = store.Close()
				}
			}()
			var wg sync.WaitGroup
			defer wg.Wait()
			wg.Go(func() { ping.run(ctx, store) })
			return s.Run(ctx, reg)
		}, p.Config.Indexer.Listen, nil
	}
	return nil, "", fmt.Errorf("%w: unknown service %q", ErrConfig, name)
}

// LoadEnricher loads the taxonomy and gazetteer named in c, or the
// built-in copies when c names none.
func LoadEnricher(c config.Enricher) (*enrich.Enricher, error) {
	if c.Taxonomy == "" && c.Gazetteer == "" {
		return enrich.Load(configs.FS, "taxonomy.yaml", "gazetteer.yaml")
	}
	if c.Taxonomy == "" || c.Gazetteer == "" {
		return nil, errors.New("enricher: set both taxonomy and gazetteer, or neither for the built-in copies")
	}
	fsys, tax := rootFS(c.Taxonomy)
	_, gaz := rootFS(c.Gazetteer)
	return enrich.Load(fsys, tax, gaz)
}

// rootFS names a file path as a path in a file system rooted at "/", the
// form io/fs wants, relative paths being taken from the working directory.
func rootFS(path string) (fs.FS, string) {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	return os.DirFS("/"), strings.TrimPrefix(filepath.ToSlash(abs), "/")
}

// pinger checks the index in the background, so that /readyz reports an
// index that is down even while no messages arrive, without blocking.
type pinger struct{ last atomic.Pointer[error] }

func (p *pinger) run(ctx context.Context, store index.Store) {
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		err := store.Ping(pctx)
		cancel()
		p.last.Store(&err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *pinger) err() error {
	if e := p.last.Load(); e != nil && *e != nil {
		return fmt.Errorf("index unreachable: %w", *e)
	}
	return nil
}

func readyFlag(b interface{ Load() bool }) func() error {
	return func() error {
		if !b.Load() {
			return errors.New("not ready")
		}
		return nil
	}
}

func waitClosed(nc *nats.Conn, d time.Duration) {
	deadline := time.Now().Add(d)
	for !nc.IsClosed() && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
}
