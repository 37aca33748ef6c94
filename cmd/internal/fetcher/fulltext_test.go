package fetcher_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wiredesk/wiredesk/cmd/internal/stagetest"
	"github.com/wiredesk/wiredesk/ingest"
)

// summaryFeed serves a summary-only feed at /feed whose items link to
// article pages on the same server, and counts the page requests. The
// feed always answers 200 (its ETag is never honoured), so every poll
// parses every item.
type summaryFeed struct {
	mu      sync.Mutex
	summary string // of item 2
	pages   atomic.Int64
	url     string
}

func (s *summaryFeed) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/article/") {
		s.pages.Add(1)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		n := strings.TrimPrefix(r.URL.Path, "/article/")
		fmt.Fprintf(w, `<!doctype html><html><head><title>Story %s</title>
<meta property="article:published_time" content="2026-11-02T09:00:00Z"></head>
<body><nav><a href="/">Home</a> <a href="/news">News</a></nav><article><h1>Story %s</h1>
<p>Paragraph one of story %s, long enough to count as the main text of an article page and not as a teaser; it goes on for a while.</p>
<p>Paragraph two of story %s adds detail about the negotiations, the people who took part and what each of them said afterwards.</p>
<p>Paragraph three of story %s closes the report with what happens next and when the parties expect to meet again.</p>
</article><footer>All rights reserved.</footer></body></html>`, n, n, n, n, n)
		return
	}
	s.mu.Lock()
	summary := s.summary
	s.mu.Unlock()
	w.Header().Set("ETag", `"always-new"`)
	w.Header().Set("Content-Type", "application/rss+xml")
	fmt.Fprintf(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>%[1]s/</link><description>d</description>
<item><title>One</title><link>%[1]s/article/1</link><description>A teaser.</description><pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate></item>
<item><title>Two</title><link>%[1]s/article/2</link><description>%[2]s</description></item>
</channel></rss>`, s.url, summary)
}

// TestPollFullText: a full_text feed's new articles are published with the
// pages' text and the feed's revision; a poll that finds nothing new
// fetches no page; an edited summary fetches only that article's page.
func TestPollFullText(t *testing.T) {
	ctx := context.Background()
	_, js := stagetest.JetStream(t)
	sf := &summaryFeed{summary: "Another teaser."}
	srv := httptest.NewServer(sf)
	defer srv.Close()
	sf.url = srv.URL
	s := newService(t, js, srv.URL+"/feed")
	s.Feeds[0].FullText = true
	s.FullTextWorkers = 2
	if err := s.Open(ctx, prometheus.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	if r := s.Poll(ctx, s.Feeds[0]); r.Err != nil || r.Published != 2 {
		t.Fatalf("first poll: %+v", r)
	}
	if n := sf.pages.Load(); n != 2 {
		t.Fatalf("first poll fetched %d pages, want 2", n)
	}
	makeDue(t, js)
	if r := s.Poll(ctx, s.Feeds[0]); r.Err != nil || r.Found != 2 || r.Published != 0 {
		t.Fatalf("second poll: %+v", r)
	}
	if n := sf.pages.Load(); n != 2 {
		t.Fatalf("a poll with nothing new fetched %d pages", n-2)
	}
	sf.mu.Lock()
	sf.summary = "Another teaser, corrected."
	sf.mu.Unlock()
	makeDue(t, js)
	if r := s.Poll(ctx, s.Feeds[0]); r.Err != nil || r.Published != 1 {
		t.Fatalf("poll after an edit: %+v", r)
	}
	if n := sf.pages.Load(); n != 3 {
		t.Fatalf("an edit of one item fetched %d pages, want 1", n-2)
	}

	msgs := rawMsgs(t, js)
	if len(msgs) != 3 {
		t.Fatalf("raw stream holds %d messages, want 3", len(msgs))
	}
	feedOnly, err := ingest.Parse(s.Feeds[0], mustGet(t, srv.URL+"/feed"), "application/rss+xml", msgs[0].FetchedAt)
	if err != nil {
		t.Fatal(err)
	}
	for i, m := range msgs {
		if m.BodyFrom != ingest.BodyFromPage || !strings.Contains(m.Body, "Paragraph two of story") || strings.Contains(m.Body, "All rights reserved") {
			t.Errorf("message %d: body from %q: %.120s", i, m.BodyFrom, m.Body)
		}
		if m.Summary == "" {
			t.Errorf("message %d lost its summary", i)
		}
	}
	// The edited item's revision is the one its feed content gives.
	if msgs[2].ID != feedOnly[1].ID || msgs[2].Revision != feedOnly[1].Revision {
		t.Errorf("published revision %s, the feed's content gives %s", msgs[2].Revision, feedOnly[1].Revision)
	}
	// Item 1 has a feed date; item 2 has none and takes the page's.
	if msgs[0].PublishedFrom != ingest.PublishedFromFeed || msgs[1].PublishedFrom != ingest.PublishedFromPage {
		t.Errorf("published_from: %s, %s", msgs[0].PublishedFrom, msgs[1].PublishedFrom)
	}
}

func mustGet(t *testing.T, u string) []byte {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
