package blevestore_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/wiredesk/wiredesk/index/indextest"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// synthetic returns n distinct articles cycled from the test corpus.
func synthetic(n int) []article.Enriched {
	base := indextest.Articles()
	out := make([]article.Enriched, n)
	for i := range out {
		a := base[i%len(base)]
		a.ID = fmt.Sprintf("%s-%d", a.ID, i)
		a.FetchedAt = a.FetchedAt.Add(time.Duration(i) * time.Second)
		out[i] = a
	}
	return out
}

// BenchmarkWrite measures indexing throughput in batches of 500, the
// indexer's default batch size, into an on-disk index.
func BenchmarkWrite(b *testing.B) {
	const batch = 500
	docs := synthetic(batch * 8)
	s, _ := open(b)
	b.ResetTimer()
	n := 0
	for i := 0; b.Loop(); i++ {
		chunk := docs[(i%8)*batch : (i%8+1)*batch]
		for _, err := range s.Write(b.Context(), chunk) {
			if err != nil {
				b.Fatal(err)
			}
		}
		n += batch
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "docs/s")
}
