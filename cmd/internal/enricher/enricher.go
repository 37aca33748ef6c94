// Package enricher wires the enrich stage to JetStream: it consumes raw
// articles, tags them and publishes enriched articles (once canonically,
// once more per conflict and topic), acking each raw message only after
// JetStream has stored all of its publishes.
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

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wiredesk/wiredesk/cmd/internal/bus"
	"github.com/wiredesk/wiredesk/cmd/internal/config"
	"github.com/wiredesk/wiredesk/enrich"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// Stage is the stage name: the durable consumer, the DLQ subject, metrics.
const Stage = "enricher"

// Enricher tags one article. *enrich.Enricher implements it.
type Enricher interface {
	Enrich(ctx context.Context, raw article.Raw) (article.Enriched, error)
}

// Service consumes NEWS_RAW and publishes to NEWS_ENRICHED and NEWS_FANOUT.
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
	fanout   prometheus.Counter
	seconds  prometheus.Histogram
}

// Run creates the consumer and runs the consume loop until ctx is done.
func (s *Service) Run(ctx context.Context, reg prometheus.Registerer) error {
	s.registerMetrics(reg)
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

func (s *Service) registerMetrics(reg prometheus.Registerer) {
	s.metrics = &metrics{
		enriched: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wiredesk_enricher_articles_total", Help: "Articles enriched, by relevance.",
		}, []string{"relevant"}),
		fanout: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "wiredesk_enricher_fanout_published_total", Help: "Copies of enriched articles stored on news.conflict.<id> and news.topic.<id>.",
		}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "wiredesk_enricher_enrich_seconds", Help: "Time to enrich one article.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 4, 8),
		}),
	}
	reg.MustRegister(s.metrics.enriched, s.metrics.fanout, s.metrics.seconds)
}

// Handle enriches a batch with a bounded number of workers and publishes
// each result asynchronously: once to news.enriched.<relevant|other>.<source>
// (NEWS_ENRICHED) and once more per conflict and topic it carries to
// news.conflict.<id> and news.topic.<id> (NEWS_FANOUT). A raw message's
// outcome is nil only when JetStream has stored every one of its
// publishes; if any fails, the message is retried and the copies already
// stored are dropped as duplicates by their Nats-Msg-Id.
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

	futures := make([][]jetstream.PubAckFuture, len(msgs))
	for i, e := range out {
		if errs[i] != nil {
			continue
		}
		pubs, err := Messages(e, msgs[i].Headers())
		if err != nil {
			errs[i] = bus.Permanent(err)
			continue
		}
		for _, msg := range pubs {
			f, err := s.publishAsync(ctx, msg)
			if err != nil {
				errs[i] = bus.Unavailable(fmt.Errorf("publishing enriched article to %s: %w", msg.Subject, err))
				break
			}
			futures[i] = append(futures[i], f)
		}
	}
	for i, fs := range futures {
		for _, f := range fs {
			if err := wait(ctx, f); err != nil && errs[i] == nil {
				errs[i] = bus.Unavailable(fmt.Errorf("publishing enriched article to %s: %w", f.Msg().Subject, err))
			}
		}
		if errs[i] == nil && out[i] != nil {
			s.metrics.enriched.WithLabelValues(fmt.Sprint(out[i].Relevant)).Inc()
			s.metrics.fanout.Add(float64(len(fs) - 1))
		}
	}
	return errs
}

// Messages returns the messages the enricher publishes for e: the enriched
// article on its news.enriched subject, then one copy per fan-out subject.
// All carry the same CloudEvents attributes (one event, several subjects);
// the fan-out copies get a Nats-Msg-Id per subject. parent carries the
// trace context of the raw message.
func Messages(e *article.Enriched, parent nats.Header) ([]*nats.Msg, error) {
	data, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("encoding enriched article %s: %w", e.ID, err)
	}
	// Rule versions are part of the id: re-enriching a revision under new
	// rules is a new event, the same rules a duplicate.
	id := e.MsgID() + ":" + e.Versions.Taxonomy + ":" + e.Versions.Gazetteer
	ev := bus.Event{
		Subject: bus.EnrichedSubject(e.Relevant, e.Source),
		Type:    bus.TypeEnriched,
		Source:  "/wiredesk/enricher",
		ID:      id,
		Time:    e.EnrichedAt,
		Parent:  parent,
	}
	topics := make([]string, len(e.Topics))
	for i, t := range e.Topics {
		topics[i] = t.ID
	}
	fan := bus.FanoutSubjects(e.Conflicts, topics)
	msgs := make([]*nats.Msg, 0, 1+len(fan))
	msgs = append(msgs, bus.NewMsg(ev, data))
	for _, subj := range fan {
		ev.Subject, ev.MsgID = subj, id+":"+subj
		msgs = append(msgs, bus.NewMsg(ev, data))
	}
	return msgs, nil
}

// publishAsync publishes msg without waiting for its ack. When the
// connection's bound on acks outstanding is reached it waits for the
// outstanding ones, rather than failing the message, so an article with
// many tags cannot turn a full window into a retry.
func (s *Service) publishAsync(ctx context.Context, msg *nats.Msg) (jetstream.PubAckFuture, error) {
	for {
		f, err := s.JS.PublishMsgAsync(msg)
		if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
			return f, err
		}
		select {
		case <-s.JS.PublishAsyncComplete():
		case <-ctx.Done():
			return nil, context.Cause(ctx)
		}
	}
}

func wait(ctx context.Context, f jetstream.PubAckFuture) error {
	select {
	case <-f.Ok():
		return nil
	case err := <-f.Err():
		return err
	case <-ctx.Done():
		return fmt.Errorf("waiting for publish ack: %w", context.Cause(ctx))
	}
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
		if errors.Is(err, enrich.ErrNoText) {
			// Nothing to tag: redelivery cannot help.
			return nil, bus.Permanent(err)
		}
		return nil, err // the enricher's errors name the article
	}
	return &e, nil
}
