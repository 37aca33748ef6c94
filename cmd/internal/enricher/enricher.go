// Package enricher wires the enrich stage to JetStream: it consumes raw
// articles, tags them and publishes enriched articles, acking each raw
// message only after its enriched article is stored by JetStream.
package enricher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wiredesk/wiredesk/cmd/internal/bus"
	"github.com/wiredesk/wiredesk/cmd/internal/config"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// Stage is the stage name: the durable consumer, the DLQ subject, metrics.
const Stage = "enricher"

// Enricher tags one article. *enrich.Enricher implements it.
type Enricher interface {
	Enrich(ctx context.Context, raw article.Raw) (article.Enriched, error)
}

// Service consumes NEWS_RAW and publishes to NEWS_ENRICHED.
type Service struct {
	JS       jetstream.JetStream
	Enricher Enricher
	Config   config.Enricher
	Grace    time.Duration
	Logger   *slog.Logger
	Ready    atomic.Bool

	metrics *metrics
}

type metrics struct {
	enriched *prometheus.CounterVec
	seconds  prometheus.Histogram
}

// Run creates the consumer and runs the consume loop until ctx is done.
func (s *Service) Run(ctx context.Context, reg prometheus.Registerer) error {
	s.metrics = &metrics{
		enriched: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wiredesk_enricher_articles_total", Help: "Articles enriched, by relevance.",
		}, []string{"relevant"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "wiredesk_enricher_enrich_seconds", Help: "Time to enrich one article.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 8),
		}),
	}
	reg.MustRegister(s.metrics.enriched, s.metrics.seconds)
	cons, err := bus.EnsureConsumer(ctx, s.JS, bus.StreamRaw, Stage, "news.raw.>", s.Config.Consumer)
	if err != nil {
		return err
	}
	loop := &bus.Loop{
		Stage: Stage, Consumer: cons, JS: s.JS, Settings: s.Config.Consumer,
		Handle: s.Handle, Logger: s.Logger, Grace: s.Grace, Ready: &s.Ready,
		Metrics: bus.NewLoopMetrics(reg, Stage),
	}
	return loop.Run(ctx)
}

// Handle enriches a batch with a bounded number of workers, publishes the
// results asynchronously and waits for JetStream to store each one. A raw
// message's outcome is nil only when its enriched article is stored.
func (s *Service) Handle(ctx context.Context, msgs []jetstream.Msg) []error {
	errs := make([]error, len(msgs))
	out := make([]*article.Enriched, len(msgs))
	workers := max(1, s.Config.Workers)
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	for i, m := range msgs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			out[i], errs[i] = s.enrich(ctx, m)
		})
	}
	wg.Wait()

	futures := make([]jetstream.PubAckFuture, len(msgs))
	for i, e := range out {
		if errs[i] != nil {
			continue
		}
		data, err := json.Marshal(e)
		if err != nil {
			errs[i] = bus.Permanent(fmt.Errorf("encoding enriched article: %w", err))
			continue
		}
		msg := bus.NewMsg(bus.Event{
			Subject: bus.EnrichedSubject(e.Relevant, e.Source),
			Type:    bus.TypeEnriched,
			Source:  "/wiredesk/enricher",
			// Rule versions are part of the id: re-enriching a revision under
			// new rules is a new event, the same rules a duplicate.
			ID:     e.MsgID() + ":" + e.Versions.Taxonomy + ":" + e.Versions.Gazetteer,
			Time:   e.EnrichedAt,
			Parent: msgs[i].Headers(),
		}, data)
		f, err := s.JS.PublishMsgAsync(msg)
		if err != nil {
			errs[i] = bus.Unavailable(fmt.Errorf("publishing enriched article: %w", err))
			continue
		}
		futures[i] = f
	}
	for i, f := range futures {
		if f == nil {
			continue
		}
		select {
		case <-f.Ok():
			s.metrics.enriched.WithLabelValues(fmt.Sprint(out[i].Relevant)).Inc()
		case err := <-f.Err():
			errs[i] = bus.Unavailable(fmt.Errorf("publishing enriched article: %w", err))
		case <-ctx.Done():
			errs[i] = bus.Unavailable(fmt.Errorf("waiting for publish ack: %w", context.Cause(ctx)))
		}
	}
	return errs
}

func (s *Service) enrich(ctx context.Context, m jetstream.Msg) (*article.Enriched, error) {
	raw, err := article.DecodeRaw(m.Data())
	if err != nil {
		// Malformed input never gets better by redelivery.
		return nil, bus.Permanent(err)
	}
	start := time.Now()
	e, err := s.Enricher.Enrich(ctx, raw)
	s.metrics.seconds.Observe(time.Since(start).Seconds())
	if err != nil {
		if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
			return nil, err
		}
		return nil, fmt.Errorf("enriching article %s: %w", raw.ID, err)
	}
	return &e, nil
}
