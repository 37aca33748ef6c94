package indexer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
	esstore "github.com/wiredesk/wiredesk/index/elastic"
	"github.com/wiredesk/wiredesk/index/indextest"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// crashAfterBulk is an http.RoundTripper that lets the nth _bulk request
// reach the engine and complete there, then "crashes" the indexer: it
// calls crash (which stops the service) and withholds the response until
// the request's context ends, so the service never learns that the bulk
// succeeded and cannot ack its messages. This is the worst moment for a
// restart: every document of the batch is durable, no message is acked.
type crashAfterBulk struct {
	n     int
	crash func()

	mu      sync.Mutex
	bulks   int
	crashed atomic.Bool
}

func (c *crashAfterBulk) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || !strings.HasPrefix(req.URL.Path, "/_bulk") {
		return res, err
	}
	c.mu.Lock()
	c.bulks++
	hit := c.bulks == c.n
	c.mu.Unlock()
	if !hit {
		return res, nil
	}
	_, _ = io.Copy(io.Discard, res.Body) // the engine has applied the bulk
	res.Body.Close()
	c.crashed.Store(true)
	c.crash()
	<-req.Context().Done()
	return nil, fmt.Errorf("indexer crashed after the bulk request: %w", req.Context().Err())
}

// restartArticles returns n articles over three months and, for every
// tenth of them, a newer revision published to the stream later.
func restartArticles(n int) (first, revisions []article.Enriched) {
	base := time.Date(2026, 8, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		a := article.Enriched{Raw: article.Raw{
			SchemaVersion: article.RawSchemaVersion, ID: fmt.Sprintf("restart-%05d", i), Revision: "r1",
			URL: fmt.Sprintf("https://news.example/%d", i), Source: "caucasus-wire",
			Title:       fmt.Sprintf("Report %d from the line of contact", i),
			PublishedAt: base.Add(time.Duration(i) * 61 * time.Minute), PublishedFrom: "feed",
			FetchedAt: base.Add(time.Duration(i)*61*time.Minute + time.Minute),
		}, SchemaVersion: article.EnrichedSchemaVersion, Language: "en", Relevant: true, Relevance: 0.7,
			Text: strings.Repeat("Villagers said they heard shelling through the night. ", 10)}
		first = append(first, a)
		if i%10 == 0 {
			r := a
			r.Revision = "r2"
			r.Title += " (updated)"
			r.FetchedAt = a.FetchedAt.Add(time.Hour)
			revisions = append(revisions, r)
		}
	}
	return first, revisions
}

// TestRestartMidBulkLeavesEachArticleOnce: the indexer is stopped right
// after a bulk request took effect in a real engine but before any of its
// messages was acked, and started again. JetStream redelivers the batch,
// the indexer writes it again, and the index holds every article exactly
// once, at its newest revision, in one monthly index.
func TestRestartMidBulkLeavesEachArticleOnce(t *testing.T) {
	engine := indextest.EngineURL(t)
	alias := testAlias(t, engine, "wdtest-restart-")
	ctx := context.Background()
	_, js := stagetest.JetStream(t)

	const n = 2000
	first, revisions := restartArticles(n)
	newest := map[string]int64{}
	for _, a := range append(append([]article.Enriched{}, first...), revisions...) {
		newest[a.ID] = max(newest[a.ID], a.FetchedAt.UnixMicro())
		data, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := js.PublishAsync(bus.EnrichedSubject(true, a.Source), data); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(30 * time.Second):
		t.Fatal("publishing the backlog timed out")
	}

	cfg := config.Default().Indexer
	cfg.Consumer = bus.ConsumerSettings{AckWait: 10 * time.Second, MaxDeliver: 5, Batch: 250, BatchWait: 50 * time.Millisecond, MaxAckPending: 1000}
	run := func(store *esstore.Store, runCtx context.Context) (*indexer.Service, chan error) {
		s := &indexer.Service{JS: js, Store: store, Config: cfg, Grace: 300 * time.Millisecond, Logger: stagetest.Logger()}
		done := make(chan error, 1)
		go func() { done <- s.Run(runCtx, prometheus.NewRegistry()) }()
		return s, done
	}

	// First life: crashes after its third bulk request took effect.
	runCtx, stop := context.WithCancel(ctx)
	crash := &crashAfterBulk{n: 3, crash: stop}
	store1, err := esstore.New(esstore.Config{URLs: []string{engine}, Alias: alias, MaxRetries: -1, Transport: crash})
	if err != nil {
		t.Fatal(err)
	}
	defer store1.Close()
	if _, err := store1.Setup(ctx); err != nil {
		t.Fatalf("Setup: %v", err)
	}
	_, done := run(store1, runCtx)
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("first run: %v", err)
		}
	case <-time.After(60 * time.Second):
		stop()
		t.Fatal("the first run did not reach its third bulk request")
	}
	if !crash.crashed.Load() {
		t.Fatal("the first run ended before the crash")
	}
	if stagetest.Drained(js, bus.StreamEnriched, indexer.Stage) {
		t.Fatal("the backlog drained before the crash; the test proves nothing")
	}

	// Second life: a fresh store, as after a process restart.
	store2, err := esstore.New(esstore.Config{URLs: []string{engine}, Alias: alias})
	if err != nil {
		t.Fatal(err)
	}
	defer store2.Close()
	runCtx2, stop2 := context.WithCancel(ctx)
	_, done2 := run(store2, runCtx2)
	defer func() { stop2(); <-done2 }()
	deadline := time.Now().Add(3 * time.Minute)
	for !stagetest.Drained(js, bus.StreamEnriched, indexer.Stage) {
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for the backlog to drain after the restart")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := stagetest.StreamMsgs(t, js, bus.StreamDLQ); got != 0 {
		t.Errorf("%d messages dead-lettered; a restart must not dead-letter anything", got)
	}
	if err := store2.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	if c, err := store2.Count(ctx); err != nil || c != n {
		t.Errorf("Count = %d, %v; want %d", c, err, n)
	}

	// Every id once, in one index, at its newest revision's version.
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost,
		engine+"/"+alias+"/_search?size=10000&version=true&filter_path=hits.hits._id,hits.hits._index,hits.hits._version,hits.hits._source.revision",
		strings.NewReader(`{"query":{"match_all":{}},"_source":["revision"]}`))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out struct {
		Hits struct {
			Hits []struct {
				ID      string `json:"_id"`
				Index   string `json:"_index"`
				Version int64  `json:"_version"`
				Source  struct {
					Revision string `json:"revision"`
				} `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, h := range out.Hits.Hits {
		if idx, dup := seen[h.ID]; dup {
			t.Errorf("article %s is indexed twice: in %s and %s", h.ID, idx, h.Index)
		}
		seen[h.ID] = h.Index
		if want, ok := newest[h.ID]; !ok {
			t.Errorf("unexpected document %s", h.ID)
		} else if h.Version != want {
			t.Errorf("article %s at version %d (revision %s), want its newest, %d", h.ID, h.Version, h.Source.Revision, want)
		}
	}
	if len(seen) != n {
		t.Errorf("%d distinct articles in the index, want %d", len(seen), n)
	}
	months := map[string]bool{}
	for _, idx := range seen {
		months[idx] = true
	}
	t.Logf("%d articles, %d revisions, in %d monthly indices; crash after bulk %d", n, len(revisions), len(months), crash.n)
}
