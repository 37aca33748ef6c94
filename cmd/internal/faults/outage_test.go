package faults

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// Proxy modes.
const (
	pass     int32 = iota
	down           // every connection is reset
	degraded       // a share of bulk items get 429, some bulk requests are cut
)

// esProxy stands between the indexer and Elasticsearch and injects faults.
// In degraded mode every third bulk item is turned into a
// 429 (Elasticsearch did index it; the retry must be harmless) and every
// fourth bulk request is forwarded and then cut without a response, as a
// timeout mid-request looks to the client.
type esProxy struct {
	target string
	srv    *httptest.Server
	mode   atomic.Int32
	bulks  atomic.Int64
	seen   atomic.Int64 // bulk items seen in degraded mode
	items  atomic.Int64 // 429s injected
	cuts   atomic.Int64
	resets atomic.Int64
}

func newESProxy(t *testing.T, target string) *esProxy {
	p := &esProxy{target: strings.TrimRight(target, "/")}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serve))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *esProxy) reset(w http.ResponseWriter) {
	p.resets.Add(1)
	if hj, ok := w.(http.Hijacker); ok {
		if c, _, err := hj.Hijack(); err == nil {
			c.Close()
			return
		}
	}
	http.Error(w, "proxy: down", http.StatusBadGateway)
}

func (p *esProxy) serve(w http.ResponseWriter, r *http.Request) {
	mode := p.mode.Load()
	if mode == down {
		p.reset(w)
		return
	}
	body, _ := io.ReadAll(r.Body)
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, p.target+r.URL.RequestURI(), bytes.NewReader(body))
	req.Header = r.Header.Clone()
	req.Header.Del("Accept-Encoding") // the proxy rewrites bodies: keep them plain
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		p.reset(w)
		return
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	if mode == degraded && strings.HasPrefix(r.URL.Path, "/_bulk") && resp.StatusCode == http.StatusOK {
		n := p.bulks.Add(1)
		if n%4 == 0 {
			p.cuts.Add(1)
			p.reset(w) // Elasticsearch wrote the batch; the client never hears
			return
		}
		out = p.throttle(out)
	}
	for k, vs := range resp.Header {
		if k == "Content-Length" {
			continue
		}
		w.Header()[k] = vs
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(out)
}

// throttle turns every third successful item the proxy sees into 429.
// Counting across responses, not by position, lets a retried item pass.
func (p *esProxy) throttle(body []byte) []byte {
	var res map[string]any
	if json.Unmarshal(body, &res) != nil {
		return body
	}
	items, _ := res["items"].([]any)
	for _, it := range items {
		if p.seen.Add(1)%3 != 0 {
			continue
		}
		for _, v := range it.(map[string]any) {
			item := v.(map[string]any)
			if st, _ := item["status"].(float64); st < 300 {
				item["status"] = 429
				item["error"] = map[string]any{"type": "es_rejected_execution_exception", "reason": "injected by the fault suite"}
				res["errors"] = true
				p.items.Add(1)
			}
		}
	}
	out, err := json.Marshal(res)
	if err != nil {
		return body
	}
	return out
}

func needES(t *testing.T) string {
	t.Helper()
	needFaults(t)
	u := esURL()
	if u == "" {
		t.Skip("needs a real search engine: set WIREDESK_TEST_ELASTICSEARCH_URL (.ci/search-engine/start starts one; CI does)")
	}
	return u
}

// outage is how long the outage scenarios keep a dependency down.
func outage() time.Duration {
	if long() {
		return 5 * time.Minute
	}
	return 30 * time.Second
}

// TestNATSKilledUnderLoad is scenario 4: the NATS server is SIGKILLed
// while the enricher and indexer work, stays down, and restarts on the
// same store. No service exits, each reports the outage on /readyz, and
// all recover on their own.
func TestNATSKilledUnderLoad(t *testing.T) {
	s := newSystem(t, options{feeds: feeds, perFeed: perFeed})
	s.startAll()
	total := s.feeds.rawPairs()
	// The fetcher publishes first; the outage hits the enricher and the
	// indexer mid-work (see README: a fetcher poll cut by an outage).
	waitFor(t, 2*time.Minute, "the fetcher to publish everything", func() bool { return s.rawMsgs() >= total })
	waitFor(t, time.Minute, "the indexer to be mid-work", func() bool {
		return s.metric("indexer", "wiredesk_indexer_documents_total") > 200
	})
	s.nats.kill()
	down := outage()
	notReady := map[string]bool{}
	deadline := time.Now().Add(down)
	for time.Now().Before(deadline) {
		for _, n := range []string{"fetcher", "enricher", "indexer"} {
			if !s.current(n).running() {
				t.Fatalf("%s exited during the NATS outage; log %s", n, s.current(n).log)
			}
			if st := s.ready(n); st == http.StatusServiceUnavailable {
				notReady[n] = true
			}
		}
		time.Sleep(time.Second)
	}
	for _, n := range []string{"fetcher", "enricher", "indexer"} {
		if !notReady[n] {
			t.Errorf("%s never reported the NATS outage on /readyz", n)
		}
	}
	s.startNATS()
	ready := waitFor(t, 2*time.Minute, "every service to be ready again", func() bool {
		return s.ready("fetcher") == 200 && s.ready("enricher") == 200 && s.ready("indexer") == 200
	})
	d := s.settle(3*time.Minute, 0)
	o := s.verify(fmt.Sprintf("4 NATS SIGKILL, down %s, restart", down), nil)
	o.Recovery = fmt.Sprintf("ready %s, drained %s after restart", ready.Round(100*time.Millisecond), d.Round(100*time.Millisecond))
	o.Notes = "no service exited; all three reported 503 on /readyz during the outage"
	record(t, o)
}

// TestSearchEngineDown is scenario 5: Elasticsearch is unreachable (every
// connection reset) for a while under load, then back. The backlog drains,
// the DLQ stays empty, the indexer's memory stays bounded.
func TestSearchEngineDown(t *testing.T) {
	es := needES(t)
	proxy := newESProxy(t, es)
	s := newSystem(t, options{feeds: feeds, perFeed: perFeed, es: proxy.srv.URL, esDirect: es})
	s.startAll()
	waitFor(t, 2*time.Minute, "the indexer to be mid-work", func() bool {
		return s.metric("indexer", "wiredesk_indexer_documents_total") > 200
	})
	proxy.mode.Store(down)
	down := outage()
	sawOutage := false
	deadline := time.Now().Add(down)
	for time.Now().Before(deadline) {
		if !s.current("indexer").running() {
			t.Fatalf("the indexer exited during the outage; log %s", s.current("indexer").log)
		}
		if s.ready("indexer") == http.StatusServiceUnavailable {
			sawOutage = true
		}
		time.Sleep(time.Second)
	}
	if !sawOutage {
		t.Error("the indexer never reported the outage on /readyz")
	}
	rssDuring := s.current("indexer").hwm.Load()
	proxy.mode.Store(pass)
	d := s.settle(4*time.Minute, 0)
	o := s.verify(fmt.Sprintf("5 Elasticsearch down %s", down), nil)
	o.Recovery = "drained " + d.Round(100*time.Millisecond).String() + " after it came back"
	o.Notes = fmt.Sprintf("%d connections reset; indexer peak RSS %.0f MiB during the outage", proxy.resets.Load(), float64(rssDuring)/1024)
	record(t, o)
}

// TestSearchEngineThrottles is scenario 6: for 45 s a third of bulk items
// get 429 and a quarter of bulk requests are cut after Elasticsearch
// processed them. Every document ends up indexed once at its newest
// revision, and nothing is dead-lettered.
func TestSearchEngineThrottles(t *testing.T) {
	es := needES(t)
	proxy := newESProxy(t, es)
	proxy.mode.Store(degraded)
	s := newSystem(t, options{feeds: feeds, perFeed: perFeed, es: proxy.srv.URL, esDirect: es, indexerBatch: 100})
	s.startAll()
	// The consume loop holds a batch (and pulls nothing) while any of its
	// items is retried with backoff, so under this much throttling the
	// stage crawls: 45 s of faults, then the engine recovers.
	time.Sleep(45 * time.Second)
	during := s.metric("indexer", "wiredesk_indexer_documents_total")
	proxy.mode.Store(pass)
	d := s.settle(4*time.Minute, 0)
	o := s.verify("6 Elasticsearch 429 on 1/3 of items, 1/4 of bulks cut, 45 s", nil)
	o.Recovery = "drained " + d.Round(100*time.Millisecond).String() + " after the faults stopped"
	o.Notes = fmt.Sprintf("%d bulks through the faults: %d items 429, %d requests cut; %.0f documents indexed in the 45 s of faults", proxy.bulks.Load(), proxy.items.Load(), proxy.cuts.Load(), during)
	record(t, o)
}

// TestMappingRejection is scenario 8: two articles carry a category longer
// than Elasticsearch's keyword limit, so the engine rejects them; they are
// dead-lettered by the indexer and the other documents of their bulks are
// indexed once.
func TestMappingRejection(t *testing.T) {
	es := needES(t)
	s := newSystem(t, options{feeds: feeds, perFeed: perFeed, es: es})
	s.feeds.hugeItems(2, 3)
	want := map[string]string{}
	for _, id := range s.feeds.ids(t, 2, 3) {
		want[id] = "indexer"
	}
	s.startAll()
	d := s.settle(3*time.Minute, len(want))
	for _, l := range s.dlqList() {
		if l.Deliveries != 1 || !strings.Contains(l.Reason, "status 400") || !strings.Contains(l.Reason, "[categories]") {
			t.Errorf("dead letter %d: deliveries %d, reason %q; want 1 delivery and the engine's reason", l.Seq, l.Deliveries, l.Reason)
		}
	}
	o := s.verify("8 mapping rejection ×2 (40 KB keyword)", want)
	o.Recovery = "settled in " + d.Round(100*time.Millisecond).String()
	o.Notes = "dead-lettered on the first delivery with the engine's reason"
	record(t, o)
}

// TestBurst is scenario 10: a burst of 50,000 articles (100 feeds of 500)
// through the whole pipeline.
func TestBurst(t *testing.T) {
	nFeeds := 100
	s := newSystem(t, options{feeds: nFeeds, perFeed: 500})
	s.startAll()
	d := s.settle(10*time.Minute, 0)
	o := s.verify(fmt.Sprintf("10 burst of %d", nFeeds*500), nil)
	o.Recovery = "drained in " + d.Round(time.Second).String()
	budget := map[string]float64{"fetcher": 256, "enricher": 256, "indexer": 512}
	for n, mib := range map[string]float64{"fetcher": o.RSSFetcher, "enricher": o.RSSEnricher, "indexer": o.RSSIndexer} {
		if mib > budget[n] {
			t.Errorf("%s peaked at %.0f MiB, over its %.0f MiB budget", n, mib, budget[n])
		}
	}
	record(t, o)
}
