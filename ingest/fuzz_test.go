package ingest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks Parse's contract on arbitrary input: no panic (Parse
// recovers, so a recovered panic fails here), one-line errors, and
// well-formed articles. Run: go test -fuzz FuzzParse ./ingest/
func FuzzParse(f *testing.F) {
	f.Add([]byte(rssDoc(2)), "application/rss+xml")
	f.Add([]byte(`<feed xmlns="http://www.w3.org/2005/Atom" xml:base="http://e.x/d/"><entry><title>t</title><link href="../a"/><id>1</id></entry></feed>`), "")
	f.Add([]byte(`{"version":"https://jsonfeed.org/version/1.1","items":[{"id":"1","url":"/a","title":"t"}]}`), "application/feed+json")
	f.Add([]byte("<?xml version=\"1.0\" encoding=\"windows-1251\"?><rss><channel><item><title>\xcf\xf0\xe8</title></item></channel></rss>"), "text/xml; charset=koi8-r")
	f.Add([]byte("\xff\xfe<\x00r\x00s\x00s\x00>\x00"), "")
	f.Add([]byte("<!DOCTYPE html><html></html>"), "text/html")
	// Seed with a sample of the shared corpus when it is there.
	var n int
	filepath.WalkDir(corpusDir, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || n >= 300 || !(strings.HasSuffix(path, ".xml") || strings.HasSuffix(path, ".json")) {
			return nil
		}
		if b, err := os.ReadFile(path); err == nil && len(b) < 64<<10 {
			f.Add(b, "")
			n++
		}
		return nil
	})
	feed := testFeed("https://feeds.example/path/rss.xml")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		arts, err := Parse(feed, body, contentType, testNow)
		if err != nil {
			if strings.Contains(err.Error(), "parser panic") {
				t.Fatalf("panic: %v", err)
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("error is not one line: %q", err)
			}
			if c := ErrorClass(err); c != ClassParse {
				t.Fatalf("class %s for a parse error: %v", c, err)
			}
			return
		}
		for _, a := range arts {
			if a.ID == "" || a.Revision == "" || a.Source != feed.ID || a.FeedURL != feed.URL {
				t.Fatalf("incomplete article: %+v", a)
			}
			if a.PublishedFrom != PublishedFromFeed && a.PublishedFrom != PublishedFromFirstSeen {
				t.Fatalf("PublishedFrom %q", a.PublishedFrom)
			}
			if a.PublishedAt.After(testNow.Add(FutureTolerance)) {
				t.Fatalf("date in the future: %s", a.PublishedAt)
			}
			for _, s := range []string{a.Title, a.Summary, a.Body, a.URL} {
				if !utf8.ValidString(s) {
					t.Fatalf("invalid UTF-8 in %q", s)
				}
			}
		}
	})
}

// FuzzExtractPage: the page extractor never panics, and succeeds only
// with HTML in hand.
func FuzzExtractPage(f *testing.F) {
	for _, name := range []string{"news-article.html", "jsonld-div.html", "listing.html", "not-article.html"} {
		b, err := os.ReadFile(filepath.Join("testdata", "pages", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, "text/html; charset=utf-8")
	}
	f.Add([]byte("<html><body><p>"+strings.Repeat("x ", 400)+"</p>"), "")
	f.Fuzz(func(t *testing.T, body []byte, ct string) {
		p, err := ExtractPage(body, ct, "https://news.example/a/1")
		if err == nil && p.HTML == "" {
			t.Fatal("success without HTML")
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Fatalf("error not one line: %q", err)
		}
		if err != nil && strings.Contains(err.Error(), "extractor panic") {
			t.Fatalf("recovered a panic: %v", err)
		}
	})
}
