package article_test

import (
	"testing"

	"github.com/wiredesk/wiredesk/ingest/article"
)

func TestCanonicalURL(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"https://News.Example/a/b?utm_source=rss&utm_medium=feed#top", "https://news.example/a/b"},
		{"HTTP://news.example:80/a?b=2&a=1&fbclid=x&gclid=y", "http://news.example/a?a=1&b=2"},
		{"https://news.example:443", "https://news.example/"},
		{"https://news.example:8443/x?", "https://news.example:8443/x"},
		{"https://user:pw@news.example/x?id=7&UTM_Campaign=z", "https://news.example/x?id=7"},
		{"  https://news.example./x  ", "https://news.example/x"},
		{"https://[2001:db8::1]:443/x", "https://[2001:db8::1]/x"},
	} {
		got, err := article.CanonicalURL(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("CanonicalURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "/relative/path", "ftp://news.example/x", "mailto:desk@news.example", "https://"} {
		if got, err := article.CanonicalURL(bad); err == nil {
			t.Errorf("CanonicalURL(%q) = %q, want an error", bad, got)
		}
	}
}

func TestID(t *testing.T) {
	a := article.ID("https://news.example/story?utm_source=x#p2", "https://news.example/feed", "g1")
	b := article.ID("https://NEWS.example/story", "https://other.example/rss", "g2")
	if a == "" || a != b {
		t.Errorf("links to the same story gave ids %q and %q", a, b)
	}
	if c := article.ID("https://news.example/other", "", ""); c == a {
		t.Error("different stories share an id")
	}
	g1 := article.ID("", "https://news.example/feed", "tag:1")
	g2 := article.ID("not a url", "https://news.example/feed", "tag:1")
	if g1 == "" || g1 != g2 {
		t.Errorf("GUID fallback gave %q and %q", g1, g2)
	}
	if g3 := article.ID("", "https://other.example/feed", "tag:1"); g3 == g1 {
		t.Error("the same GUID in two feeds gave one id")
	}
	if article.ID("", "https://news.example/feed", " ") != "" {
		t.Error("an item with neither link nor GUID got an id")
	}
	if len(a) != 32 {
		t.Errorf("id %q is not 32 hex digits", a)
	}
}

func TestContentRevision(t *testing.T) {
	r1 := article.ContentRevision("Title", "Sum", "Body")
	if r1 != article.ContentRevision("Title", "Sum", "Body") {
		t.Error("revision is not deterministic")
	}
	if r1 == article.ContentRevision("Title", "Sum", "Body, corrected") {
		t.Error("an edit kept the revision")
	}
	if article.ContentRevision("ab", "c", "") == article.ContentRevision("a", "bc", "") {
		t.Error("fields run together")
	}
}

func TestDecodeRejectsUnknownMajorVersion(t *testing.T) {
	if _, err := article.DecodeRaw([]byte(`{"schema_version":"2.0","id":"x"}`)); err == nil {
		t.Error("schema_version 2.0 accepted")
	}
	if _, err := article.DecodeRaw([]byte(`{"schema_version":"1.7","id":"x"}`)); err != nil {
		t.Errorf("a newer minor version refused: %v", err)
	}
	if _, err := article.DecodeEnriched([]byte(`not json`)); err == nil {
		t.Error("garbage accepted")
	}
}
