package app_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wiredesk/wiredesk/cmd/internal/app"
	"github.com/wiredesk/wiredesk/cmd/internal/bus"
	"github.com/wiredesk/wiredesk/cmd/internal/config"
	"github.com/wiredesk/wiredesk/cmd/internal/embedded"
	"github.com/wiredesk/wiredesk/cmd/internal/enricher"
	"github.com/wiredesk/wiredesk/cmd/internal/fetcher"
	"github.com/wiredesk/wiredesk/cmd/internal/indexer"
	"github.com/wiredesk/wiredesk/configs"
	"github.com/wiredesk/wiredesk/index"
	blevestore "github.com/wiredesk/wiredesk/index/bleve"
	"github.com/wiredesk/wiredesk/ingest"
	"github.com/wiredesk/wiredesk/ingest/article/schematest"
)

// pipeline is a running all-in-one process over a real embedded NATS
// server, a real on-disk index and feeds served by httptest.
type pipeline struct {
	t     *testing.T
	url   string // NATS
	js    jetstream.JetStream
	store *blevestore.Store
	feeds []ingest.Feed
}

func newPipeline(t *testing.T) *pipeline {
	t.Helper()
	ns, err := embedded.StartNATS(embedded.NATSOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	srv := httptest.NewServer(http.FileServerFS(configs.DemoFeedsFS()))
	t.Cleanup(srv.Close)
	files, err := configs.DemoFeeds()
	if err != nil {
		t.Fatal(err)
	}
	var feeds []ingest.Feed
	for _, f := range files {
		feeds = append(feeds, ingest.Feed{ID: f.ID, Name: f.ID, URL: srv.URL + "/" + f.Name, MinInterval: time.Hour, MaxInterval: 2 * time.Hour})
	}
	store, err := blevestore.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	nc, err := nats.Connect(ns.ClientURL())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, _ := jetstream.New(nc)
	return &pipeline{t: t, url: ns.ClientURL(), js: js, store: store, feeds: feeds}
}

// run starts the three services and returns a function that stops them
// and waits for a clean exit.
func (p *pipeline) run() (stop func()) {
	p.t.Helper()
	cfg := config.Default()
	cfg.NATS.URL = p.url
	cfg.Fetcher.AllowHosts = []string{"127.0.0.1"}
	cfg.Fetcher.Listen, cfg.Enricher.Listen, cfg.Indexer.Listen = "", "", ""
	proc := &app.Process{
		Config: cfg, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Services: []string{"fetcher", "enricher", "indexer"}, Feeds: p.feeds, Store: p.store,
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- proc.Run(ctx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				p.t.Errorf("pipeline exited with %v", err)
			}
		case <-time.After(30 * time.Second):
			p.t.Fatal("pipeline did not stop within 30s")
		}
	}
}

func (p *pipeline) streamMsgs(name string) uint64 {
	s, err := p.js.Stream(context.Background(), name)
	if err != nil {
		return 0
	}
	info, err := s.Info(context.Background())
	if err != nil {
		return 0
	}
	return info.State.Msgs
}

// settled waits until every feed was polled, both stages have nothing
// pending, and the index holds want documents.
func (p *pipeline) settled(want int) {
	p.t.Helper()
	ctx := context.Background()
	eventually(p.t, "pipeline to settle", func() bool {
		for _, f := range p.feeds {
			kv, err := p.js.KeyValue(ctx, fetcher.BucketState)
			if err != nil {
				return false
			}
			if _, err := kv.Get(ctx, f.ID); err != nil {
				return false
			}
		}
		for _, c := range [][2]string{{bus.StreamRaw, enricher.Stage}, {bus.StreamEnriched, indexer.Stage}} {
			cons, err := p.js.Consumer(ctx, c[0], c[1])
			if err != nil {
				return false
			}
			info, err := cons.Info(ctx)
			if err != nil || info.NumPending != 0 || info.NumAckPending != 0 {
				return false
			}
		}
		n, err := p.store.Count(ctx)
		return err == nil && n == want
	})
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// expectedIDs parses the served feeds the way the fetcher does and returns
// the distinct article ids.
func expectedIDs(t *testing.T, feeds []ingest.Feed) map[string]bool {
	t.Helper()
	files, err := configs.DemoFeeds()
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]bool{}
	for i, f := range feeds {
		arts, err := ingest.Parse(f, files[i].Body, "", time.Now())
		if err != nil {
			t.Fatalf("parsing %s: %v", f.ID, err)
		}
		for _, a := range arts {
			ids[a.ID] = true
		}
	}
	return ids
}

func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	p := newPipeline(t)
	want := expectedIDs(t, p.feeds)
	if len(want) < 40 {
		t.Fatalf("demo corpus has %d articles, want at least 40", len(want))
	}
	stop := p.run()
	p.settled(len(want))
	stop()

	all, err := p.store.Search(ctx, index.Query{Size: index.MaxSize})
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range all.Hits {
		if !want[h.ID] {
			t.Errorf("index holds %s (%q), which no feed carries", h.ID, h.Title)
		}
	}

	t.Run("search by a body word", func(t *testing.T) {
		res, err := p.store.Search(ctx, index.Query{Text: "Hakari"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Total == 0 {
			t.Fatal("no article found for a word of the Lachin checkpoint story's body")
		}
		if !strings.Contains(strings.Join(res.Hits[0].Snippets, " "), index.HighlightPre) {
			t.Errorf("snippets carry no highlight: %q", res.Hits[0].Snippets)
		}
	})
	t.Run("search by topic", func(t *testing.T) {
		res, err := p.store.Search(ctx, index.Query{Topics: []string{"landmines"}, Size: 100})
		if err != nil {
			t.Fatal(err)
		}
		if res.Total < 3 {
			t.Fatalf("%d articles tagged landmines, want at least 3", res.Total)
		}
		for _, h := range res.Hits {
			if strings.Contains(strings.ToLower(h.Title), "coal mine") {
				t.Errorf("coal-mine story tagged landmines: %q", h.Title)
			}
		}
	})

	t.Run("hard negatives are not relevant", func(t *testing.T) {
		// The demo's ten stories that share words with the conflict
		// coverage without being about it (configs/demo/feeds/README.md).
		negatives := map[string]bool{
			"Methane blast at Silesian coal mine leaves two miners dead, five missing":         true,
			"Baku street race organisers report record crowds, plan circuit changes":           true,
			"Kakheti winemakers report bumper Rkatsiteli harvest despite late frost":           true,
			"Middle Corridor freight volumes climb as new Caspian terminals open":              true,
			"Aid convoys expand in Gaza as ceasefire largely holds":                            true,
			"Two years after COP29, Baku reviews climate finance goal as critics weigh legacy": true,
			"Georgia election officials prepare audit after record midterm turnout":            true,
			"Armenia edge Georgia 2-1 in Nations League thriller in Yerevan":                   true,
			"Kyrgyzstan and Tajikistan reopen border checkpoints under demarcation treaty":     true,
			"Разминирование в Харьковской области: сапёры очистили более 2 000 гектаров":       true,
		}
		res, err := p.store.Search(ctx, index.Query{RelevantOnly: true, Size: index.MaxSize})
		if err != nil {
			t.Fatal(err)
		}
		for _, h := range res.Hits {
			if negatives[h.Title] {
				t.Errorf("hard negative tagged relevant: %q", h.Title)
			}
		}
		if want := len(want) - len(negatives); res.Total != want {
			t.Errorf("%d articles relevant, want %d (every demo story but the hard negatives)", res.Total, want)
		}
	})

	t.Run("messages match the published schemas", func(t *testing.T) {
		raw, _ := schematest.Compile(t, "schema/raw.v1.json")
		enr, _ := schematest.Compile(t, "schema/enriched.v1.json")
		checkStream(t, p.js, bus.StreamRaw, bus.TypeRaw, raw, len(want))
		checkStream(t, p.js, bus.StreamEnriched, bus.TypeEnriched, enr, len(want))
	})

	t.Run("fetching again publishes nothing and indexes nothing twice", func(t *testing.T) {
		before := p.streamMsgs(bus.StreamRaw)
		// Forget when the feeds were polled: the fetcher polls them again
		// at once, without validators, and finds every article seen.
		purge(t, p.js, fetcher.BucketState)
		stop := p.run()
		p.settled(len(want))
		stop()
		if got := p.streamMsgs(bus.StreamRaw); got != before {
			t.Errorf("raw stream grew from %d to %d messages on a refetch", before, got)
		}
		// Forget what was seen too: the fetcher republishes, JetStream's
		// duplicate window drops the copies, the index stays the same.
		purge(t, p.js, fetcher.BucketState)
		purge(t, p.js, fetcher.BucketSeen)
		stop = p.run()
		p.settled(len(want))
		stop()
		if got := p.streamMsgs(bus.StreamRaw); got != before {
			t.Errorf("raw stream grew from %d to %d messages on a republish", before, got)
		}
		if n, _ := p.store.Count(ctx); n != len(want) {
			t.Errorf("index holds %d documents, want %d", n, len(want))
		}
	})
}

func purge(t *testing.T, js jetstream.JetStream, bucket string) {
	t.Helper()
	kv, err := js.KeyValue(context.Background(), bucket)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := kv.ListKeys(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for k := range keys.Keys() {
		if err := kv.Purge(context.Background(), k); err != nil {
			t.Fatal(err)
		}
	}
}

// checkStream validates every message of a stream against its schema and
// checks the CloudEvents headers.
func checkStream(t *testing.T, js jetstream.JetStream, stream, ceType string, s *jsonschema.Schema, want int) {
	t.Helper()
	ctx := context.Background()
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := cons.FetchNoWait(10000)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for m := range batch.Messages() {
		n++
		if err := schematest.Validate(s, m.Data()); err != nil {
			t.Errorf("%s message on %s does not match its schema: %v", stream, m.Subject(), err)
		}
		h := m.Headers()
		if h.Get("ce-type") != ceType || h.Get("ce-specversion") != "1.0" || h.Get("ce-id") == "" || h.Get("traceparent") == "" {
			t.Errorf("%s message lacks CloudEvents headers: %v", stream, h)
		}
	}
	if n != want {
		t.Errorf("%s holds %d messages, want %d", stream, n, want)
	}
}
