package indexer_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wiredesk/wiredesk/cmd/internal/bus"
	"github.com/wiredesk/wiredesk/cmd/internal/config"
	"github.com/wiredesk/wiredesk/cmd/internal/indexer"
	"github.com/wiredesk/wiredesk/cmd/internal/stagetest"
	"github.com/wiredesk/wiredesk/index"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// flakyStore is a FAKE index.Store for fault injection: it is down while
// down is set, rejects the article with id "bad", and records every write.
// The real engines are tested in index/...; this proves the indexer's
// reaction to outcomes they produce.
type flakyStore struct {
	down    atomic.Bool
	mu      sync.Mutex
	written map[string]int
}

func (s *flakyStore) Write(_ context.Context, docs []article.Enriched) []error {
	errs := make([]error, len(docs))
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, d := range docs {
		switch {
		case s.down.Load():
			errs[i] = &index.ItemError{ID: d.ID, Status: 503, Request: true, Err: index.ErrRetryable, Reason: "cluster unavailable"}
		case d.ID == "bad":
			errs[i] = &index.ItemError{ID: d.ID, Status: 400, Type: "document_parsing_exception", Err: index.ErrRejected, Reason: "failed to parse field [published_at]"}
		default:
			s.written[d.ID]++
		}
	}
	return errs
}
func (s *flakyStore) Search(context.Context, index.Query) (index.Result, error) {
	return index.Result{}, nil
}
func (s *flakyStore) Count(context.Context) (int, error) { return len(s.written), nil }
func (s *flakyStore) Ping(context.Context) error         { return nil }
func (s *flakyStore) Close() error                       { return nil }

// TestOutageHoldsMessages: while the index is down the indexer reports not
// ready, dead-letters nothing and spends no deliveries; when it returns,
// the backlog drains, each document written once; a rejected document is
// dead-lettered with the engine's reason.
func TestOutageHoldsMessages(t *testing.T) {
	ctx := context.Background()
	_, js := stagetest.JetStream(t)
	store := &flakyStore{written: map[string]int{}}
	store.down.Store(true)
	ids := []string{"a", "b", "c", "bad", "d"}
	for _, id := range ids {
		e := article.Enriched{Raw: article.Raw{ID: id, Revision: "r", Source: "s"}, SchemaVersion: article.EnrichedSchemaVersion}
		data, _ := json.Marshal(e)
		if _, err := js.Publish(ctx, bus.EnrichedSubject(true, "s"), data); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := js.Publish(ctx, bus.EnrichedSubject(true, "s"), []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	cfg := config.Default().Indexer
	cfg.Consumer = bus.ConsumerSettings{AckWait: time.Second, MaxDeliver: 2, Batch: 10, BatchWait: 50 * time.Millisecond}
	s := &indexer.Service{JS: js, Store: store, Config: cfg, Grace: 5 * time.Second, Logger: stagetest.Logger()}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- s.Run(runCtx, prometheus.NewRegistry()) }()
	defer func() { stop(); <-done }()

	// The malformed message is dead-lettered at once; the others wait.
	stagetest.Eventually(t, "the malformed message in the DLQ", func() bool { return stagetest.StreamMsgs(t, js, bus.StreamDLQ) == 1 })
	stagetest.Eventually(t, "not ready during the outage", func() bool { return !s.Ready.Load() })
	// Outlast MaxDeliver × AckWait: an indexer that NAKed or let messages
	// time out would have dead-lettered them by now.
	time.Sleep(3 * time.Second)
	if n := stagetest.StreamMsgs(t, js, bus.StreamDLQ); n != 1 {
		t.Fatalf("DLQ holds %d messages during an outage, want only the malformed one", n)
	}
	store.down.Store(false)
	stagetest.Eventually(t, "the backlog to drain", func() bool { return stagetest.Drained(js, bus.StreamEnriched, indexer.Stage) })
	stagetest.Eventually(t, "ready again", func() bool { return s.Ready.Load() })

	store.mu.Lock()
	for _, id := range []string{"a", "b", "c", "d"} {
		if store.written[id] != 1 {
			t.Errorf("document %s written %d times, want 1", id, store.written[id])
		}
	}
	store.mu.Unlock()
	dlq, _ := js.Stream(ctx, bus.StreamDLQ)
	if n := stagetest.StreamMsgs(t, js, bus.StreamDLQ); n != 2 {
		t.Fatalf("DLQ holds %d messages, want the malformed and the rejected one", n)
	}
	m, err := dlq.GetMsg(ctx, 2)
	if err != nil {
		t.Fatal(err)
	}
	if r := m.Header.Get(bus.HeaderDLQReason); !strings.Contains(r, "failed to parse field") {
		t.Errorf("rejected document's DLQ reason = %q, want the engine's error", r)
	}
}
