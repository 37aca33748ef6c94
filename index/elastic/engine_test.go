package esstore_test

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/wiredesk/wiredesk/index"
	blevestore "github.com/wiredesk/wiredesk/index/bleve"
	esstore "github.com/wiredesk/wiredesk/index/elastic"
	"github.com/wiredesk/wiredesk/index/indextest"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// engineStore returns a Store on a fresh alias of its own, set up, and
// removes the alias's indices, template and policy afterwards.
func engineStore(t testing.TB) *esstore.Store {
	t.Helper()
	u := indextest.EngineURL(t)
	b := make([]byte, 4)
	rand.Read(b)
	alias := "wdtest-" + hex.EncodeToString(b)
	s, err := esstore.New(esstore.Config{URLs: []string{u}, Alias: alias})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, p := range []string{"/" + alias + "-*", "/_index_template/" + alias, "/_ilm/policy/" + alias} {
			req, _ := http.NewRequest(http.MethodDelete, u+p, nil)
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
			}
		}
		s.Close()
	})
	rep, err := s.Setup(t.Context())
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	t.Logf("setup: %+v", rep)
	return s
}

func TestEngineSetupIsIdempotent(t *testing.T) {
	s := engineStore(t)
	rep, err := s.Setup(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if rep.Template != "unchanged" || (rep.Policy != "unchanged" && rep.Policy != "skipped") {
		t.Errorf("second Setup changed something: %+v", rep)
	}
	if n, err := s.Count(t.Context()); err != nil || n != 0 {
		t.Errorf("Count on an empty alias = %d, %v", n, err)
	}
}

func TestEngineCases(t *testing.T) {
	s := engineStore(t)
	indextest.Write(t, s, indextest.Articles()...)
	if err := s.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	indextest.RunCases(t, s)
	res, err := s.Search(t.Context(), index.Query{Text: "tractor"})
	if err != nil || len(res.Hits) != 1 {
		t.Fatalf("tractor: %v %v", indextest.IDs(res), err)
	}
	if snip := strings.Join(res.Hits[0].Snippets, " "); !strings.Contains(snip, "«tractor»") {
		t.Errorf("snippets %q lack «tractor»", snip)
	}
}

// TestSameQueriesBothEngines runs every shared query on the same articles
// in Elasticsearch and in bleve and compares the hits: the same ids, in
// the same order where the order is defined (date sort).
func TestSameQueriesBothEngines(t *testing.T) {
	es := engineStore(t)
	bl, err := blevestore.Open(filepath.Join(t.TempDir(), "bleve"))
	if err != nil {
		t.Fatal(err)
	}
	defer bl.Close()
	as := indextest.Articles()
	indextest.Write(t, es, as...)
	indextest.Write(t, bl, as...)
	if err := es.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	for _, c := range indextest.Cases {
		t.Run(c.Name, func(t *testing.T) {
			re, err := es.Search(t.Context(), c.Query)
			if err != nil {
				t.Fatal(err)
			}
			rb, err := bl.Search(t.Context(), c.Query)
			if err != nil {
				t.Fatal(err)
			}
			ge, gb := indextest.IDs(re), indextest.IDs(rb)
			if !c.Ordered {
				slices.Sort(ge)
				slices.Sort(gb)
			}
			if !slices.Equal(ge, gb) || re.Total != rb.Total {
				t.Errorf("elasticsearch %v (total %d), bleve %v (total %d)", ge, re.Total, gb, rb.Total)
			}
		})
	}
}

func TestEngineStaleRevisionAndDuplicates(t *testing.T) {
	s := engineStore(t)
	older := indextest.Articles()[2]
	newer := older
	newer.Revision, newer.Title = "r2", "Second blast near Fizuli"
	newer.FetchedAt = older.FetchedAt.Add(time.Hour)
	indextest.Write(t, s, newer)
	indextest.Write(t, s, older) // 409 inside: success
	indextest.Write(t, s, newer) // redelivery of the same revision: rewritten
	// The newer revision moves its publication date into another month:
	// it must stay in the index that holds it.
	moved := newer
	moved.Revision, moved.PublishedAt = "r3", newer.PublishedAt.AddDate(0, 2, 0)
	moved.FetchedAt = newer.FetchedAt.Add(time.Hour)
	if err := s.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	indextest.Write(t, s, moved)
	if err := s.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Count(t.Context()); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v; want 1", n, err)
	}
	res, err := s.Search(t.Context(), index.Query{Text: "second blast"})
	if err != nil || len(res.Hits) != 1 || !res.Hits[0].Published.Equal(moved.PublishedAt) {
		t.Fatalf("hits %+v, err %v; want the moved revision", res.Hits, err)
	}
}

func TestEngineMappingErrorInOneOf100(t *testing.T) {
	s := engineStore(t)
	docs := synthetic(100)
	// A keyword longer than Lucene's 32766-byte term limit: a per-item
	// 400 from the engine.
	docs[37].Topics = []article.Topic{{ID: strings.Repeat("x", 40000), Score: 1}}
	errs := s.Write(t.Context(), docs)
	for i, err := range errs {
		switch {
		case i == 37:
			if !index.IsRejected(err) {
				t.Errorf("item 37: %v, want rejected", err)
			} else {
				t.Logf("item 37 rejected as expected: %.300s", err)
			}
		case err != nil:
			t.Errorf("item %d: %v", i, err)
		}
	}
	if err := s.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, err := s.Count(t.Context()); err != nil || n != 99 {
		t.Errorf("Count = %d, %v; want 99", n, err)
	}
}

func TestEngineStrictMappingRejectsUnknownFields(t *testing.T) {
	s := engineStore(t)
	u := indextest.EngineURL(t)
	req, _ := http.NewRequest(http.MethodPut, u+"/"+s.IndexFor(time.Now())+"/_doc/x", strings.NewReader(`{"id":"x","surprise":1}`))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "strict") {
		t.Errorf("unknown field: status %d %s, want a strict_dynamic_mapping_exception", res.StatusCode, body)
	}
}
