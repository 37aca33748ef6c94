package fetcher_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wiredesk/wiredesk/cmd/internal/bus"
	"github.com/wiredesk/wiredesk/cmd/internal/config"
	"github.com/wiredesk/wiredesk/cmd/internal/fetcher"
	"github.com/wiredesk/wiredesk/cmd/internal/stagetest"
	"github.com/wiredesk/wiredesk/ingest"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// feedServer serves one RSS feed with an ETag; body is the description of
// item 2, which a test may edit. It counts full (200) and conditional
// (304) responses.
type feedServer struct {
	mu        sync.Mutex
	body      string
	full, nm  atomic.Int64
	inFlight  atomic.Int64
	maxFlight atomic.Int64
	delay     time.Duration
}

func (f *feedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	n := f.inFlight.Add(1)
	defer f.inFlight.Add(-1)
	for m := f.maxFlight.Load(); n > m && !f.maxFlight.CompareAndSwap(m, n); m = f.maxFlight.Load() {
	}
	time.Sleep(f.delay)
	f.mu.Lock()
	body := f.body
	f.mu.Unlock()
	etag := fmt.Sprintf(`"%x"`, article.ContentRevision(body, "", ""))
	if r.Header.Get("If-None-Match") == etag {
		f.nm.Add(1)
		w.WriteHeader(http.StatusNotModified)
		return
	}
	f.full.Add(1)
	w.Header().Set("ETag", etag)
	w.Header().Set("Content-Type", "application/rss+xml")
	fmt.Fprintf(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>https://t.example/</link><description>d</description>
<item><title>One</title><link>https://t.example/1</link><description>first story</description><pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate></item>
<item><title>Two</title><link>https://t.example/2</link><description>%s</description><pubDate>Mon, 02 Nov 2026 11:00:00 GMT</pubDate></item>
</channel></rss>`, body)
}

func (f *feedServer) set(body string) {
	f.mu.Lock()
	f.body = body
	f.mu.Unlock()
}

func newService(t *testing.T, js jetstream.JetStream, feedURL string) *fetcher.Service {
	nc := js.Conn()
	cfg := config.Default().Fetcher
	return &fetcher.Service{
		NC: nc, JS: js, Config: cfg, Logger: stagetest.Logger(),
		Client: ingest.NewClient(ingest.Options{Allow: []string{"127.0.0.1"}}),
		Feeds:  []ingest.Feed{{ID: "t", Name: "T", URL: feedURL, MinInterval: time.Hour, MaxInterval: 2 * time.Hour}},
	}
}

func rawMsgs(t *testing.T, js jetstream.JetStream) []article.Raw {
	t.Helper()
	c, err := js.OrderedConsumer(context.Background(), bus.StreamRaw, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	batch, err := c.FetchNoWait(1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []article.Raw
	for m := range batch.Messages() {
		a, err := article.DecodeRaw(m.Data())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, a)
	}
	return out
}

// TestPollConditionalAndRevisions: the first poll publishes both items; a
// 304 publishes nothing; an edited item is republished as a new revision
// of the same id, and the unchanged one is not.
func TestPollConditionalAndRevisions(t *testing.T) {
	ctx := context.Background()
	_, js := stagetest.JetStream(t)
	fs := &feedServer{body: "second story"}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	s := newService(t, js, srv.URL)
	if err := s.Open(ctx, prometheus.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	if r := s.Poll(ctx, s.Feeds[0]); r.Err != nil || r.Published != 2 {
		t.Fatalf("first poll: %+v", r)
	}
	if r := s.Poll(ctx, s.Feeds[0]); r.Err != nil || r.Found != 0 || fs.full.Load()+fs.nm.Load() != 1 {
		t.Fatalf("a poll before the feed is due fetched it: %+v", r)
	}
	makeDue(t, js)
	if r := s.Poll(ctx, s.Feeds[0]); r.Err != nil || !r.NotModified || r.Published != 0 {
		t.Fatalf("conditional poll: %+v (304s served: %d)", r, fs.nm.Load())
	}
	fs.set("second story, corrected")
	makeDue(t, js)
	if r := s.Poll(ctx, s.Feeds[0]); r.Err != nil || r.Published != 1 {
		t.Fatalf("poll after an edit: %+v", r)
	}
	msgs := rawMsgs(t, js)
	if len(msgs) != 3 {
		t.Fatalf("raw stream holds %d messages, want 3", len(msgs))
	}
	if msgs[2].ID != msgs[1].ID || msgs[2].Revision == msgs[1].Revision {
		t.Errorf("the edit was not a new revision of the same id: %s/%s then %s/%s", msgs[1].ID, msgs[1].Revision, msgs[2].ID, msgs[2].Revision)
	}
}

// makeDue rewrites the feed's stored next poll to the past, keeping the
// rest of its state.
func makeDue(t *testing.T, js jetstream.JetStream) {
	t.Helper()
	ctx := context.Background()
	kv, err := js.KeyValue(ctx, fetcher.BucketState)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(ctx, "t")
	if err != nil {
		t.Fatal(err)
	}
	var state fetcher.State
	if err := json.Unmarshal(e.Value(), &state); err != nil {
		t.Fatal(err)
	}
	if state.Validators.ETag == "" {
		t.Error("the feed's ETag was not stored")
	}
	state.NextPoll = time.Now().Add(-time.Second)
	data, _ := json.Marshal(state)
	if _, err := kv.Put(ctx, "t", data); err != nil {
		t.Fatal(err)
	}
}

// TestTwoReplicasNeverDoublePoll runs two fetchers against one feed and
// checks that the server saw one poll and the stream one copy.
func TestTwoReplicasNeverDoublePoll(t *testing.T) {
	_, js := stagetest.JetStream(t)
	fs := &feedServer{body: "second story", delay: 300 * time.Millisecond}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var polls atomic.Int64
	for i := range 2 {
		s := newService(t, js, srv.URL)
		s.Instance = fmt.Sprintf("replica-%d", i)
		s.OnPoll = func(r fetcher.PollResult) {
			if r.Found > 0 || r.NotModified {
				polls.Add(1)
			}
		}
		wg.Go(func() { _ = s.Run(ctx, prometheus.NewRegistry()) })
	}
	stagetest.Eventually(t, "one poll", func() bool { return fs.full.Load() >= 1 })
	time.Sleep(2500 * time.Millisecond) // two more scheduler ticks on each replica
	cancel()
	wg.Wait()
	if n := fs.full.Load() + fs.nm.Load(); n != 1 {
		t.Errorf("the feed server saw %d polls from two replicas, want 1", n)
	}
	if fs.maxFlight.Load() != 1 {
		t.Errorf("%d concurrent requests for one feed", fs.maxFlight.Load())
	}
	if n := stagetest.StreamMsgs(t, js, bus.StreamRaw); n != 2 {
		t.Errorf("raw stream holds %d messages, want 2", n)
	}
}

// TestLeaseOutlivesItsTTLWhileRenewed: a poll slower than the lease TTL
// keeps its lease by renewing it, so a second replica still does not poll
// the feed at the same time.
func TestLeaseOutlivesItsTTLWhileRenewed(t *testing.T) {
	_, js := stagetest.JetStream(t)
	// The poll lasts 2.5 lease TTLs; the TTL leaves two missed renewals of
	// slack for a loaded machine.
	fs := &feedServer{body: "second story", delay: 5 * time.Second}
	srv := httptest.NewServer(fs)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for i := range 2 {
		s := newService(t, js, srv.URL)
		s.Instance = fmt.Sprintf("replica-%d", i)
		s.LeaseTTL = 2 * time.Second
		wg.Go(func() { _ = s.Run(ctx, prometheus.NewRegistry()) })
	}
	stagetest.Eventually(t, "one poll", func() bool { return fs.full.Load() >= 1 })
	// The first full response is counted when the 5 s poll ends: during it,
	// both replicas ticked five times with the lease two TTLs old.
	time.Sleep(time.Second) // and a tick more after it
	cancel()
	wg.Wait()
	if n := fs.full.Load() + fs.nm.Load(); n != 1 || fs.maxFlight.Load() != 1 {
		t.Errorf("the feed server saw %d polls, %d at once, with a lease shorter than the poll; want 1", n, fs.maxFlight.Load())
	}
}
