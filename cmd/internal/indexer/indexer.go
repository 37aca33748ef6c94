// Package indexer wires the index stage to JetStream: it consumes enriched
// articles in batches and acks each message only after its own document is
// durable in the search index.
package indexer

import (
	"context"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wiredesk/wiredesk/cmd/internal/bus"
	"github.com/wiredesk/wiredesk/cmd/internal/config"
	"github.com/wiredesk/wiredesk/index"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// Stage is the stage name: the durable consumer, the DLQ subject, metrics.
const Stage = "indexer"

// Service consumes NEWS_ENRICHED into a search index.
type Service struct {
	JS     jetstream.JetStream
	Store  index.Store
	Config config.Indexer
	Grace  time.Duration
	Logger *slog.Logger
	Ready  atomic.Bool

	indexed prometheus.Counter
}

// Run creates the consumer and runs the consume loop until ctx is done.
func (s *Service) Run(ctx context.Context, reg prometheus.Registerer) error {
	s.indexed = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "wiredesk_indexer_documents_total", Help: "Documents durably written to the index.",
	})
	reg.MustRegister(s.indexed)
	cons, err := bus.EnsureConsumer(ctx, s.JS, bus.StreamEnriched, Stage, "news.enriched.>", s.Config.Consumer)
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

// Handle writes a batch in one bulk request and maps each document's
// outcome: written (or a stale revision) → ack; rejected by the index →
// dead letter; the index unavailable or throttling → held and retried
// without spending the message's deliveries.
func (s *Service) Handle(ctx context.Context, msgs []jetstream.Msg) []error {
	errs := make([]error, len(msgs))
	docs := make([]article.Enriched, 0, len(msgs))
	pos := make([]int, 0, len(msgs))
	for i, m := range msgs {
		e, err := article.DecodeEnriched(m.Data())
		if err != nil {
			errs[i] = bus.Permanent(err)
			continue
		}
		docs = append(docs, e)
		pos = append(pos, i)
	}
	if len(docs) == 0 {
		return errs
	}
	for j, err := range s.Store.Write(ctx, docs) {
		i := pos[j]
		switch {
		case err == nil:
			s.indexed.Inc()
		case index.IsRejected(err):
			errs[i] = bus.Permanent(fmt.Errorf("index rejected article %s: %w", docs[j].ID, err))
		case index.IsRetryable(err):
			errs[i] = bus.Unavailable(fmt.Errorf("indexing article %s: %w", docs[j].ID, err))
		default:
			errs[i] = fmt.Errorf("indexing article %s: %w", docs[j].ID, err)
		}
	}
	return errs
}
