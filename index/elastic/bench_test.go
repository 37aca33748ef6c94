package esstore_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/wiredesk/wiredesk/index"
	esstore "github.com/wiredesk/wiredesk/index/elastic"
)

const benchBatch = 500

func benchWrite(b *testing.B, s *esstore.Store) {
	docs := synthetic(benchBatch * 4)
	n := 0
	for i := 0; b.Loop(); i++ {
		chunk := docs[(i%4)*benchBatch : (i%4+1)*benchBatch]
		for _, err := range s.Write(b.Context(), chunk) {
			if err != nil {
				b.Fatal(err)
			}
		}
		n += len(chunk)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkWriteFake is Store.Write (lookup, encode, bulk, classify)
// against the local fake; compare with BenchmarkBareBulkFake, a bare
// _bulk POST of equivalent bytes to the same fake.
func BenchmarkWriteFake(b *testing.B) {
	f := newFakeES(&testing.T{})
	defer f.Close()
	s, err := esstore.New(esstore.Config{URLs: []string{f.URL}, MaxRetries: -1})
	if err != nil {
		b.Fatal(err)
	}
	benchWrite(b, s)
}

func BenchmarkBareBulkFake(b *testing.B) {
	f := newFakeES(&testing.T{})
	defer f.Close()
	var body bytes.Buffer
	for _, a := range synthetic(benchBatch) {
		d := index.NewDoc(a)
		meta, _ := json.Marshal(map[string]any{"index": map[string]any{"_index": "x", "_id": d.ID, "version": d.Version, "version_type": "external_gte"}})
		src, _ := json.Marshal(d)
		body.Write(meta)
		body.WriteByte('\n')
		body.Write(src)
		body.WriteByte('\n')
	}
	b.SetBytes(int64(body.Len()))
	n := 0
	for b.Loop() {
		res, err := http.Post(f.URL+"/_bulk", "application/x-ndjson", bytes.NewReader(body.Bytes()))
		if err != nil {
			b.Fatal(err)
		}
		res.Body.Close()
		n += benchBatch
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkWriteEngine is Store.Write against the real engine.
func BenchmarkWriteEngine(b *testing.B) {
	s := engineStore(b)
	benchWrite(b, s)
}
