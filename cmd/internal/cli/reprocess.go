package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wiredesk/wiredesk/cmd/internal/app"
	"github.com/wiredesk/wiredesk/cmd/internal/enricher"
	"github.com/wiredesk/wiredesk/cmd/internal/service"
)

// reprocess replays raw articles through the current rules.
func reprocess(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("reprocess", stderr, "wiredesk reprocess [-from DATE] [-to DATE]: run the raw articles stored in NEWS_RAW through the current taxonomy and gazetteer, so a rules change reaches history. The indexer picks up the results.")
	var c common
	c.register(fs, 0)
	natsURL := fs.String("nats", "", "NATS server (default: the configuration's nats.url)")
	var from, to time.Time
	fs.Var(dateFlag{&from}, "from", "articles stored on or after this date (default: all)")
	fs.Var(dateFlag{&to}, "to", "articles stored before this date (default: now)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	if *natsURL != "" {
		cfg.NATS.URL = *natsURL
	}
	rules, err := app.LoadEnricher(cfg.Enricher)
	if err != nil {
		return fmt.Errorf("%w: %w", app.ErrConfig, err)
	}
	log := c.logger(stderr)
	nc, err := service.ConnectNATS(cfg.NATS, "wiredesk-reprocess", log)
	if err != nil {
		return err
	}
	defer nc.Drain()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	v := rules.Versions()
	fmt.Fprintf(stdout, "Reprocessing raw articles with taxonomy %s and gazetteer %s…\n", v.Taxonomy, v.Gazetteer)
	s := &enricher.Service{JS: js, Enricher: rules, Config: cfg.Enricher, Grace: cfg.Grace, Logger: log}
	start := time.Now()
	n, err := s.Reprocess(ctx, prometheus.NewRegistry(), from, to)
	if err != nil {
		return fmt.Errorf("reprocessing: %w", err)
	}
	fmt.Fprintf(stdout, "Re-enriched %d articles in %s.\n", n, time.Since(start).Round(time.Millisecond))
	return nil
}
