package indextest

import (
	"slices"
	"testing"

	"github.com/wiredesk/wiredesk/index"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// Write writes as to s and fails the test on any per-article error.
func Write(t testing.TB, s index.Store, as ...article.Enriched) {
	t.Helper()
	for i, err := range s.Write(t.Context(), as) {
		if err != nil {
			t.Fatalf("Write %s: %v", as[i].ID, err)
		}
	}
}

// IDs returns the ids of r's hits, in order.
func IDs(r index.Result) []string {
	out := []string{}
	for _, h := range r.Hits {
		out = append(out, h.ID)
	}
	return out
}

// RunCases runs every shared case against s, which must hold Articles,
// as a subtest each.
func RunCases(t *testing.T, s index.Store) {
	for _, c := range Cases {
		t.Run(c.Name, func(t *testing.T) {
			res, err := s.Search(t.Context(), c.Query)
			if err != nil {
				t.Fatal(err)
			}
			got, want := IDs(res), append([]string{}, c.Want...)
			if !c.Ordered {
				slices.Sort(got)
				slices.Sort(want)
			}
			if !slices.Equal(got, want) {
				t.Errorf("hits = %v, want %v", got, want)
			}
		})
	}
}
