package indexer_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wiredesk/wiredesk/cmd/internal/bus"
	"github.com/wiredesk/wiredesk/cmd/internal/config"
	"github.com/wiredesk/wiredesk/cmd/internal/indexer"
	"github.com/wiredesk/wiredesk/cmd/internal/stagetest"
	esstore "github.com/wiredesk/wiredesk/index/elastic"
	"github.com/wiredesk/wiredesk/index/indextest"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// The memory goal of issue 5: indexer RSS under 150 MB while draining a
// 100,000-article backlog. The measurement runs the indexer service in a
// child process (this test binary, re-executed), so that the NATS server,
// the publisher and the fake engine in the parent do not count:
//
//	WIREDESK_TEST_RSS_ARTICLES=100000 go test ./cmd/internal/indexer -run RSS -v -timeout 30m
//
// The child uses the default indexer settings (batches of 500, 5,000
// messages in flight). With WIREDESK_TEST_RSS_ENGINE=1 it writes to the
// real engine of WIREDESK_TEST_ELASTICSEARCH_URL instead of the fake.
const (
	rssArticlesEnv = "WIREDESK_TEST_RSS_ARTICLES"
	rssEngineEnv   = "WIREDESK_TEST_RSS_ENGINE"
	rssChildEnv    = "WIREDESK_TEST_RSS_CHILD" // "nats-url es-url alias n"
	rssLimitBytes  = 150 << 20
)

// rssArticle is an enriched article of realistic size (~5 KB of JSON):
// 3 KB of text, entities with aliases, locations and evidence.
func rssArticle(i int) article.Enriched {
	base := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	loc := article.GeoPoint{Lat: 39.8, Lon: 46.75}
	ev := []article.Evidence{{Field: "text", Start: 12, End: 23, Text: "Stepanakert", Rule: "alias"}}
	return article.Enriched{Raw: article.Raw{
		SchemaVersion: article.RawSchemaVersion, ID: fmt.Sprintf("rss-%06d", i), Revision: "r1",
		URL: fmt.Sprintf("https://news.example/story/%d", i), Source: "caucasus-wire", FeedURL: "https://news.example/feed",
		Title:       fmt.Sprintf("Shelling reported near Stepanakert, report %d", i),
		Summary:     "Residents said they heard shelling overnight along the line of contact.",
		PublishedAt: base.Add(time.Duration(i) * time.Minute), PublishedFrom: "feed",
		FetchedAt: base.Add(time.Duration(i)*time.Minute + time.Second),
	}, SchemaVersion: article.EnrichedSchemaVersion, Language: "en", Relevant: true, Relevance: 0.74,
		Text:      strings.Repeat("Residents of the villages near the line of contact said they heard shelling. ", 40),
		Conflicts: []string{"armenia-azerbaijan"},
		Topics:    []article.Topic{{ID: "armed-clashes", Score: 0.8, Evidence: ev}},
		Entities: []article.Entity{
			{ID: "khankendi", Name: "Khankendi", Type: article.Place, Location: &loc,
				Aliases: []string{"Stepanakert", "Степанакерт", "Ստեփանակերտ"}, Evidence: ev},
			{ID: "lachin-corridor", Name: "Lachin corridor", Type: article.Place, Evidence: ev},
		},
	}
}

// fakeBulkES is an HTTP FAKE of Elasticsearch for throughput and memory
// runs: every document is accepted at once, nothing is stored.
func fakeBulkES(docs *atomic.Int64) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch {
		case r.URL.Path == "/_bulk":
			n := int64(0)
			sc := bufio.NewScanner(r.Body)
			sc.Buffer(make([]byte, 64<<10), 16<<20)
			for sc.Scan() {
				n++
			}
			docs.Add(n / 2)
			io.WriteString(w, `{"errors":false,"items":[]}`)
		case strings.HasSuffix(r.URL.Path, "/_search"):
			io.WriteString(w, `{"hits":{"hits":[]}}`)
		case r.URL.Path == "/_cluster/health":
			io.WriteString(w, `{"status":"green"}`)
		default:
			io.WriteString(w, `{"acknowledged":true,"version":{"number":"8.19.0-fake"}}`)
		}
	}))
}

func TestIndexerRSSDrainingBacklog(t *testing.T) {
	raw := os.Getenv(rssArticlesEnv)
	if raw == "" {
		t.Skipf("set %s=100000 to measure the indexer's memory while it drains a backlog (takes a few minutes)", rssArticlesEnv)
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n <= 0 {
		t.Fatalf("%s=%q is not a positive number", rssArticlesEnv, raw)
	}
	nc, js := stagetest.JetStream(t)
	ctx := context.Background()

	esURL, alias, target := "", esstore.DefaultAlias, "fake"
	var fakeDocs atomic.Int64
	if os.Getenv(rssEngineEnv) == "1" {
		esURL = indextest.EngineURL(t)
		alias = testAlias(t, esURL, "wdtest-rss-")
		s, err := esstore.New(esstore.Config{URLs: []string{esURL}, Alias: alias})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.Setup(ctx); err != nil {
			t.Fatal(err)
		}
		s.Close()
		target = "engine"
	} else {
		es := fakeBulkES(&fakeDocs)
		defer es.Close()
		esURL = es.URL
	}

	start := time.Now()
	for i := range n {
		data, err := json.Marshal(rssArticle(i))
		if err != nil {
			t.Fatal(err)
		}
		for {
			_, err := js.PublishAsync(bus.EnrichedSubject(true, "caucasus-wire"), data)
			if err == nil {
				break
			}
			if !errors.Is(err, jetstream.ErrTooManyStalledMsgs) {
				t.Fatal(err)
			}
			<-js.PublishAsyncComplete() // a slow machine: let the window empty
		}
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-time.After(5 * time.Minute):
		t.Fatal("publishing the backlog timed out")
	}
	size, _ := json.Marshal(rssArticle(0))
	t.Logf("backlog: %d articles of %d bytes published in %s", n, len(size), time.Since(start).Round(time.Millisecond))

	cmd := exec.Command(os.Args[0], "-test.run=^TestIndexerRSSChild$", "-test.v")
	cmd.Env = append(os.Environ(), rssChildEnv+"="+strings.Join([]string{nc.ConnectedUrl(), esURL, alias, strconv.Itoa(n)}, " "))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("indexer child process: %v\n%s\n%s", err, out, stderr.Bytes())
	}
	var line string
	for _, l := range strings.Split(string(out), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "RSS_RESULT") {
			line = strings.TrimSpace(l)
		}
	}
	if line == "" {
		t.Fatalf("the child reported no result:\n%s", out)
	}
	t.Logf("target %s: %s", target, line)
	var hwm int64
	for _, f := range strings.Fields(line) {
		if v, ok := strings.CutPrefix(f, "vm_hwm_bytes="); ok {
			hwm, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	if target == "fake" && fakeDocs.Load() < int64(n) {
		t.Errorf("the fake engine received %d documents, want at least %d", fakeDocs.Load(), n)
	}
	if hwm <= 0 || hwm > rssLimitBytes {
		t.Errorf("indexer peak RSS (VmHWM) %d MB while draining %d articles, goal under %d MB", hwm>>20, n, rssLimitBytes>>20)
	}
}

// TestIndexerRSSChild is the child process of TestIndexerRSSDrainingBacklog;
// on its own it does nothing.
func TestIndexerRSSChild(t *testing.T) {
	spec := os.Getenv(rssChildEnv)
	if spec == "" {
		t.Skip("helper process of TestIndexerRSSDrainingBacklog")
	}
	parts := strings.Fields(spec)
	natsURL, esURL, alias := parts[0], parts[1], parts[2]
	n, _ := strconv.Atoi(parts[3])

	nc, err := nats.Connect(natsURL)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	store, err := esstore.New(esstore.Config{URLs: []string{esURL}, Alias: alias})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()

	// Sample RSS and heap while the service drains the backlog.
	var peakRSS, peakHeap atomic.Int64
	sampleCtx, stopSampling := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		var ms runtime.MemStats
		for {
			if rss := procStatus("VmRSS"); rss > peakRSS.Load() {
				peakRSS.Store(rss)
			}
			runtime.ReadMemStats(&ms)
			if h := int64(ms.HeapInuse); h > peakHeap.Load() {
				peakHeap.Store(h)
			}
			select {
			case <-sampleCtx.Done():
				return
			case <-tick.C:
			}
		}
	})

	s := &indexer.Service{JS: js, Store: store, Config: config.Default().Indexer, Grace: 10 * time.Second, Logger: stagetest.Logger()}
	runCtx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() { done <- s.Run(runCtx, prometheus.NewRegistry()) }()
	deadline := time.Now().Add(30 * time.Minute)
	for !stagetest.Drained(js, bus.StreamEnriched, indexer.Stage) {
		if time.Now().After(deadline) {
			stop()
			<-done
			t.Fatal("the backlog did not drain in 30 minutes")
		}
		time.Sleep(200 * time.Millisecond)
	}
	elapsed := time.Since(start)
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	stopSampling()
	wg.Wait()
	fmt.Printf("RSS_RESULT articles=%d elapsed=%s docs_per_s=%.0f vm_hwm_bytes=%d vm_hwm_mb=%.1f peak_sampled_rss_mb=%.1f peak_heap_inuse_mb=%.1f gomaxprocs=%d\n",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), procStatus("VmHWM"), float64(procStatus("VmHWM"))/(1<<20),
		float64(peakRSS.Load())/(1<<20), float64(peakHeap.Load())/(1<<20), runtime.GOMAXPROCS(0))
}

// procStatus returns a "kB" field of /proc/self/status in bytes, or 0.
func procStatus(field string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
