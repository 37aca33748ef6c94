package blevestore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wiredesk/wiredesk/index"
	blevestore "github.com/wiredesk/wiredesk/index/bleve"
	"github.com/wiredesk/wiredesk/index/indextest"
	"github.com/wiredesk/wiredesk/ingest/article"
)

func open(t testing.TB) (*blevestore.Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "index")
	s, err := blevestore.Open(dir)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, dir
}

func TestCases(t *testing.T) {
	s, _ := open(t)
	indextest.Write(t, s, indextest.Articles()...)
	indextest.RunCases(t, s)
}

func TestHitFieldsAndHighlight(t *testing.T) {
	s, _ := open(t)
	indextest.Write(t, s, indextest.Articles()...)
	res, err := s.Search(t.Context(), index.Query{Text: "tractor"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Hits) != 1 || res.Total != 1 {
		t.Fatalf("got %d hits (total %d), want 1", len(res.Hits), res.Total)
	}
	h := res.Hits[0]
	want := index.Hit{
		ID: "a03", Title: "Landmine kills farmer near Fizuli", URL: "https://news.example/a03",
		Source: "caucasus-wire", Language: "en", Published: time.Date(2024, 4, 10, 12, 0, 0, 0, time.UTC),
		Topics: []string{"landmines"}, Conflicts: []string{"nagorno-karabakh"}, Entities: []string{"Fuzuli"},
	}
	h.Score, h.Snippets = 0, nil
	if fmt.Sprint(h) != fmt.Sprint(want) {
		t.Errorf("hit = %+v\nwant  %+v", h, want)
	}
	snip := strings.Join(res.Hits[0].Snippets, " | ")
	if !strings.Contains(snip, "«tractor»") {
		t.Errorf("snippets %q lack a highlighted «tractor»", snip)
	}
}

func TestLeadSnippetWithoutText(t *testing.T) {
	s, _ := open(t)
	indextest.Write(t, s, indextest.Articles()...)
	res, err := s.Search(t.Context(), index.Query{Topics: []string{"landmines"}})
	if err != nil || len(res.Hits) != 1 {
		t.Fatalf("hits %v, err %v", indextest.IDs(res), err)
	}
	if got := res.Hits[0].Snippets; len(got) != 1 || !strings.HasPrefix(got[0], "A farmer died") {
		t.Errorf("snippets = %q, want the summary", got)
	}
}

func TestTotalBeyondSize(t *testing.T) {
	s, _ := open(t)
	indextest.Write(t, s, indextest.Articles()...)
	res, err := s.Search(t.Context(), index.Query{Size: 2})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 10 || len(res.Hits) != 2 {
		t.Errorf("total %d, hits %d; want 10 and 2", res.Total, len(res.Hits))
	}
}

func TestSameDocTwiceIsOneDoc(t *testing.T) {
	s, _ := open(t)
	as := indextest.Articles()
	indextest.Write(t, s, as...)
	indextest.Write(t, s, as...)
	indextest.Write(t, s, as[0], as[0])
	if n, err := s.Count(t.Context()); err != nil || n != len(as) {
		t.Fatalf("Count = %d, %v; want %d", n, err, len(as))
	}
}

func revisions() (older, newer article.Enriched) {
	older = indextest.Articles()[2]
	newer = older
	newer.Revision = "r2"
	newer.Title = "Landmine kills farmer near Fizuli; second blast reported"
	newer.FetchedAt = older.FetchedAt.Add(time.Hour)
	return older, newer
}

func TestStaleRevisionDoesNotOverwrite(t *testing.T) {
	s, _ := open(t)
	older, newer := revisions()
	indextest.Write(t, s, newer)
	// The older revision is redelivered: success, not written.
	indextest.Write(t, s, older)
	// Both in one call, older last: the newer wins.
	indextest.Write(t, s, newer, older)
	res, err := s.Search(t.Context(), index.Query{Text: "blast"})
	if err != nil {
		t.Fatal(err)
	}
	if got := indextest.IDs(res); !slices.Equal(got, []string{"a03"}) {
		t.Fatalf("hits for the newer title = %v, want [a03]", got)
	}

	// The same revision re-enriched (same Version) is rewritten.
	again := newer
	again.Topics = append(again.Topics, article.Topic{ID: "casualties", Score: 0.7})
	indextest.Write(t, s, again)
	res, err = s.Search(t.Context(), index.Query{Topics: []string{"casualties"}})
	if err != nil || len(res.Hits) != 1 {
		t.Fatalf("re-enriched revision not rewritten: %v %v", indextest.IDs(res), err)
	}
}

func TestReopenKeepsDocumentsAndVersions(t *testing.T) {
	s, dir := open(t)
	older, newer := revisions()
	indextest.Write(t, s, newer)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping after Close succeeded")
	}
	s2, err := blevestore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	indextest.Write(t, s2, older)
	res, err := s2.Search(t.Context(), index.Query{Text: "blast"})
	if err != nil || res.Total != 1 {
		t.Fatalf("after reopen: hits %v, err %v; want the newer revision", indextest.IDs(res), err)
	}
}

func TestRejectedDocument(t *testing.T) {
	s, _ := open(t)
	as := indextest.Articles()[:3]
	as[1].ID = ""
	errs := s.Write(t.Context(), as)
	if errs[0] != nil || errs[2] != nil {
		t.Errorf("healthy documents failed: %v", errs)
	}
	if !index.IsRejected(errs[1]) || index.IsRetryable(errs[1]) {
		t.Errorf("document without id: %v, want rejected", errs[1])
	}
	if n, _ := s.Count(t.Context()); n != 2 {
		t.Errorf("Count = %d, want 2", n)
	}
}

func TestWriteWithDoneContextIsRetryable(t *testing.T) {
	s, _ := open(t)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	for _, err := range s.Write(ctx, indextest.Articles()[:2]) {
		if !index.IsRetryable(err) {
			t.Errorf("err = %v, want retryable", err)
		}
	}
}

func TestBadSort(t *testing.T) {
	s, _ := open(t)
	if _, err := s.Search(t.Context(), index.Query{Sort: "popularity"}); err == nil {
		t.Error("unknown sort accepted")
	}
}

// TestLargeWriteInSeveralBatches writes more text in one call than one
// bleve batch takes: every document is indexed, in its own language.
func TestLargeWriteInSeveralBatches(t *testing.T) {
	s, _ := open(t)
	as := realistic(t, 600)
	indextest.Write(t, s, as...)
	if n, err := s.Count(t.Context()); err != nil || n != len(as) {
		t.Fatalf("Count = %d, %v; want %d", n, err, len(as))
	}
	langs := map[string]int{}
	for _, a := range as {
		langs[a.Language]++
	}
	for lang, want := range langs {
		res, err := s.Search(t.Context(), index.Query{Languages: []string{lang}, Size: 1})
		if err != nil || res.Total != want {
			t.Errorf("language %s: %d hits, %v; want %d", lang, res.Total, err, want)
		}
	}
}

// TestPhraseMatchesAlias: a quoted name finds the articles whose entity
// carries it as an alias, as Elasticsearch's phrase query on the aliases
// field does, and a phrase does not run from one alias into the next.
func TestPhraseMatchesAlias(t *testing.T) {
	s, _ := open(t)
	indextest.Write(t, s, indextest.Articles()...)
	for _, c := range []struct {
		text string
		want []string
	}{
		{`"Khankendi"`, []string{"a01", "a02", "a10"}},
		{`"Nikol Pashinyan"`, []string{"a04", "a05"}},
		{`"Khankendi Stepanakert"`, nil},
	} {
		res, err := s.Search(t.Context(), index.Query{Text: c.text})
		if err != nil {
			t.Fatal(err)
		}
		got := indextest.IDs(res)
		slices.Sort(got)
		if !slices.Equal(got, c.want) && !(len(got) == 0 && len(c.want) == 0) {
			t.Errorf("%s: hits %v, want %v", c.text, got, c.want)
		}
	}
}
