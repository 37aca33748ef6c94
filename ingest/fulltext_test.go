package ingest

import (
	"context"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"

	"github.com/wiredesk/wiredesk/ingest/article"
)

func readPage(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "pages", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestExtractPage runs the extractor over the article pages in
// testdata/pages: the main text is kept, the navigation, sidebars,
// comments and footers are not, and pages without an article fail.
func TestExtractPage(t *testing.T) {
	for _, tc := range []struct {
		file      string
		keep, not []string
		published time.Time
		fail      bool
	}{
		{file: "news-article.html",
			keep:      []string{"four hundred hectares", "probing the soil", "bought seed for wheat", "more crews would arrive", "eleven incidents", "before the new year"},
			not:       []string{"Subscribe for full access", "Most read", "plov", "Advertisement", "Great reporting", "All rights reserved", "Share on Facebook", "Breaking:"},
			published: time.Date(2026, 11, 18, 3, 45, 0, 0, time.UTC)},
		{file: "jsonld-div.html",
			keep:      []string{"first session of the bilateral", "digitised versions", "businesslike", "summer grazing", "late January"},
			not:       []string{"Weather", "Exchange rates", "Newsletter", "Photo gallery", "Cookie settings", "About us"},
			published: time.Date(2026, 11, 12, 16, 20, 0, 0, time.UTC)},
		{file: "russian-article.html",
			keep:      []string{"после двух лет строительства", "четыре полосы", "двадцать минут", "светофор появится"},
			not:       []string{"Популярное", "чуду", "перепечатке", "Контакты"},
			published: time.Date(2026, 11, 20, 7, 15, 0, 0, time.UTC)},
		{file: "not-article.html", fail: true},
		{file: "listing.html", fail: true},
	} {
		t.Run(tc.file, func(t *testing.T) {
			p, err := ExtractPage(readPage(t, tc.file), "text/html; charset=utf-8", "https://news.example/a/1")
			if tc.fail {
				if !errors.Is(err, ErrNoArticle) || ErrorClass(err) != ClassParse {
					t.Fatalf("err = %v, want ErrNoArticle; page %+v", err, p)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range tc.keep {
				if !strings.Contains(p.HTML, s) {
					t.Errorf("main text lost %q", s)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(p.HTML, s) {
					t.Errorf("boilerplate %q kept", s)
				}
			}
			if !p.Published.Equal(tc.published) {
				t.Errorf("published %s, want %s", p.Published, tc.published)
			}
		})
	}
	if _, err := ExtractPage([]byte(`{"a":1}`), "application/json", ""); !errors.Is(err, ErrNoArticle) {
		t.Errorf("JSON page: %v", err)
	}
}

// pageServer serves the fixture pages under /pages/ and counts requests.
type pageServer struct{ n atomic.Int64 }

func (p *pageServer) handler(t *testing.T) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		p.n.Add(1)
		name := strings.TrimPrefix(r.URL.Path, "/pages/")
		if name == "cp1251.html" {
			b, err := charmap.Windows1251.NewEncoder().Bytes(readPage(t, "russian-article.html"))
			if err != nil {
				t.Error(err)
			}
			w.Header().Set("Content-Type", "text/html; charset=windows-1251")
			w.Write(b)
			return
		}
		if name == "big.html" {
			w.Header().Set("Content-Type", "text/html")
			w.Write([]byte("<html><body><p>" + strings.Repeat("words and more words ", 2000) + "</p></body></html>"))
			return
		}
		b, err := os.ReadFile(filepath.Join("testdata", "pages", filepath.Base(name)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Write(b)
	}
}

// pagesFetchedAt is after every date in testdata/pages.
var pagesFetchedAt = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func summaryOnly(f Feed, pageURL string) article.Raw {
	return article.Raw{
		ID: "0123456789abcdef0123456789abcdef", Revision: "fedcba9876543210",
		URL: pageURL, Source: f.ID, FeedURL: f.URL, Title: "A story",
		Summary: "Teams are racing the spring sowing.", PublishedAt: pagesFetchedAt,
		PublishedFrom: PublishedFromFirstSeen, FetchedAt: pagesFetchedAt,
	}
}

func TestFullText(t *testing.T) {
	ps := &pageServer{}
	srv := serve(t, ps.handler(t))
	f := testFeed(srv.URL + "/feed")
	f.FullText = true
	c := newTestClient(t, Options{})
	ctx := context.Background()

	t.Run("extracted", func(t *testing.T) {
		in := summaryOnly(f, srv.URL+"/pages/news-article.html")
		a, err := c.FullText(ctx, f, in)
		if err != nil {
			t.Fatal(err)
		}
		if a.BodyFrom != BodyFromPage || !strings.Contains(a.Body, "four hundred hectares") || strings.Contains(a.Body, "Most read") {
			t.Errorf("body from %q: %.200s", a.BodyFrom, a.Body)
		}
		if a.Summary != in.Summary || a.Revision != in.Revision {
			t.Errorf("summary or revision changed: %q %q", a.Summary, a.Revision)
		}
		if want := time.Date(2026, 11, 18, 3, 45, 0, 0, time.UTC); !a.PublishedAt.Equal(want) || a.PublishedFrom != PublishedFromPage {
			t.Errorf("published %s from %s, want %s from page", a.PublishedAt, a.PublishedFrom, want)
		}
	})
	t.Run("feed date wins over the page's", func(t *testing.T) {
		in := summaryOnly(f, srv.URL+"/pages/jsonld-div.html")
		in.PublishedAt, in.PublishedFrom = pagesFetchedAt.Add(-time.Hour), PublishedFromFeed
		a, err := c.FullText(ctx, f, in)
		if err != nil {
			t.Fatal(err)
		}
		if !a.PublishedAt.Equal(in.PublishedAt) || a.PublishedFrom != PublishedFromFeed {
			t.Errorf("published %s from %s", a.PublishedAt, a.PublishedFrom)
		}
	})
	t.Run("windows-1251 page", func(t *testing.T) {
		a, err := c.FullText(ctx, f, summaryOnly(f, srv.URL+"/pages/cp1251.html"))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(a.Body, "после двух лет строительства") {
			t.Errorf("body %.300s", a.Body)
		}
	})
	for _, page := range []string{"not-article.html", "listing.html", "missing.html"} {
		t.Run("failure keeps the feed text: "+page, func(t *testing.T) {
			in := summaryOnly(f, srv.URL+"/pages/"+page)
			in.Body, in.BodyFrom = "<p>Teams are racing.</p>", BodyFromFeed
			a, err := c.FullText(ctx, f, in)
			if err == nil {
				t.Fatal("no error")
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error not one line: %q", err)
			}
			if a.Body != in.Body || a.BodyFrom != BodyFromFeed || a.Summary != in.Summary {
				t.Errorf("feed text not kept: %+v", a)
			}
		})
	}
	t.Run("oversized page", func(t *testing.T) {
		small := newTestClient(t, Options{MaxBodyBytes: 8 << 10})
		in := summaryOnly(f, srv.URL+"/pages/big.html")
		a, err := small.FullText(ctx, f, in)
		wantClass(t, err, ClassTooLarge)
		if a.Body != "" || a.BodyFrom != "" || a.Summary != in.Summary {
			t.Errorf("feed text not kept: %+v", a)
		}
	})
	t.Run("no request when not needed", func(t *testing.T) {
		before := ps.n.Load()
		off := f
		off.FullText = false
		if a, err := c.FullText(ctx, off, summaryOnly(f, srv.URL+"/pages/news-article.html")); err != nil || a.BodyFrom != "" {
			t.Errorf("full_text off: %v %+v", err, a)
		}
		long := summaryOnly(f, srv.URL+"/pages/news-article.html")
		long.Body, long.BodyFrom = "<p>"+strings.Repeat("A full paragraph of feed text. ", 40)+"</p>", BodyFromFeed
		if a, err := c.FullText(ctx, f, long); err != nil || a.Body != long.Body {
			t.Errorf("full body in feed: %v", err)
		}
		noURL := summaryOnly(f, "")
		if _, err := c.FullText(ctx, f, noURL); err != nil {
			t.Errorf("no URL: %v", err)
		}
		if n := ps.n.Load() - before; n != 0 {
			t.Errorf("%d page requests for articles that need none", n)
		}
	})
}

// TestFullTextBlockedAddress: an article link into a private network is
// refused at dial time; the target sees no connection and the feed text
// is kept.
func TestFullTextBlockedAddress(t *testing.T) {
	target, tl := newTarget(t)
	guarded := newTestClient(t, Options{Allow: []string{}})
	f := testFeed("https://feeds.example/rss")
	f.FullText = true
	for _, u := range []string{target.URL + "/article", "http://169.254.169.254/latest/meta-data/", "file:///etc/passwd"} {
		in := summaryOnly(f, u)
		a, err := guarded.FullText(context.Background(), f, in)
		wantClass(t, err, ClassBlockedAddress)
		if a.Summary != in.Summary || a.BodyFrom != "" {
			t.Errorf("%s: feed text not kept: %+v", u, a)
		}
	}
	if n := tl.n.Load(); n != 0 {
		t.Fatalf("target accepted %d connections despite the guard", n)
	}
}

// TestFutureDateFlag: a feed date beyond FutureTolerance is flagged and
// replaced; the page's date then fills in.
func TestFutureDateFlag(t *testing.T) {
	ps := &pageServer{}
	srv := serve(t, ps.handler(t))
	f := testFeed(srv.URL + "/feed")
	f.FullText = true
	doc := `<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>
<item><title>From the future</title><link>` + srv.URL + `/pages/news-article.html</link><description>Short.</description><pubDate>Sun, 01 Mar 2026 14:00:00 GMT</pubDate></item>
</channel></rss>`
	arts, err := Parse(f, []byte(doc), "", testNow)
	if err != nil || len(arts) != 1 {
		t.Fatalf("Parse: %v %d", err, len(arts))
	}
	a := arts[0]
	if !a.FutureDate || a.PublishedFrom != PublishedFromFirstSeen || !a.PublishedAt.Equal(testNow) {
		t.Fatalf("future date: %t %s %s", a.FutureDate, a.PublishedFrom, a.PublishedAt)
	}
	// The page says 18 November 2026, which is after testNow too: it is
	// no better than the feed's date and must not be used.
	b, err := newTestClient(t, Options{}).FullText(context.Background(), f, a)
	if err != nil {
		t.Fatal(err)
	}
	if b.PublishedFrom != PublishedFromFirstSeen || !b.FutureDate || b.BodyFrom != BodyFromPage {
		t.Errorf("after full text: %s future=%t body from %s", b.PublishedFrom, b.FutureDate, b.BodyFrom)
	}
}
