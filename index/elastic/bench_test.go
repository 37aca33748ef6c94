package esstore_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wiredesk/wiredesk/index"
	esstore "github.com/wiredesk/wiredesk/index/elastic"
	"github.com/wiredesk/wiredesk/index/indextest"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// The bulk benchmarks compare like with like: Store.Write (id lookup,
// encoding, the _bulk request, per-item classification) against a bare
// _bulk POST whose encoding is done in the loop too and whose bytes are
// the very bytes Write sends (checked before timing). Both go to the same
// endpoint: the local fake, and the real engine when one is running.
//
//	go test ./index/elastic -run '^$' -bench Bulk -benchtime 200x
//
// BenchmarkBulkRatio interleaves the two on every iteration, so drift in
// the machine or the engine hits both alike, and reports write/bare, the
// indexer's throughput as a share of the bare request's (goal ≥ 0.8).

const benchBatch = 500

// benchDocs are synthetic articles with what real ones carry: entities
// with aliases and locations, evidence, topics.
func benchDocs(n int) []article.Enriched {
	docs := synthetic(n)
	for i := range docs {
		d := &docs[i]
		loc := article.GeoPoint{Lat: 39.8 + float64(i%10)/10, Lon: 46.7}
		d.Entities = []article.Entity{
			{ID: "khankendi", Name: "Khankendi", Type: article.Place, Wikidata: "Q990000001",
				Aliases: []string{"Stepanakert", "Степанакерт", "Ստեփանակերտ"}, Location: &loc,
				Evidence: []article.Evidence{{Text: "Stepanakert", Start: 10, End: 21, Rule: "gazetteer:khankendi"}}},
			{ID: "pashinyan", Name: "Nikol Pashinyan", Type: article.Person, Aliases: []string{"Пашинян"},
				Evidence: []article.Evidence{{Text: "Pashinyan", Start: 40, End: 49, Rule: "gazetteer:pashinyan"}}},
		}
		d.Topics[0].Evidence = []article.Evidence{{Text: "shelling", Start: 60, End: 68, Rule: "topic:armed-clashes"}}
	}
	return docs
}

// bareBody encodes docs the way Write does, without Write's lookup,
// de-duplication and bookkeeping: the baseline a hand-rolled bulk loop
// would need anyway.
func bareBody(s *esstore.Store, docs []article.Enriched) []byte {
	var body bytes.Buffer
	for _, a := range docs {
		d := index.NewDoc(a)
		src, _ := json.Marshal(d)
		qi, _ := json.Marshal(s.IndexFor(d.Published))
		qid, _ := json.Marshal(d.ID)
		body.WriteString(`{"index":{"_index":`)
		body.Write(qi)
		body.WriteString(`,"_id":`)
		body.Write(qid)
		body.WriteString(`,"version":`)
		body.WriteString(strconv.FormatInt(d.Version, 10))
		body.WriteString(`,"version_type":"external_gte"}}` + "\n")
		body.Write(src)
		body.WriteByte('\n')
	}
	return body.Bytes()
}

const bulkPath = "/_bulk?filter_path=errors,items.*._id,items.*.status,items.*.error"

// barePost sends body as one _bulk request and reads the whole response.
func barePost(b *testing.B, client *http.Client, base string, body []byte) {
	res, err := client.Post(base+bulkPath, "application/x-ndjson", bytes.NewReader(body))
	if err != nil {
		b.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b.Fatalf("bare _bulk: status %d", res.StatusCode)
	}
}

// recorder keeps the last _bulk body a Store sent.
type recorder struct {
	mu   sync.Mutex
	last []byte
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasPrefix(req.URL.Path, "/_bulk") && req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body = io.NopCloser(bytes.NewReader(b))
		r.mu.Lock()
		r.last = b
		r.mu.Unlock()
	}
	return http.DefaultTransport.RoundTrip(req)
}

type bulkTarget struct {
	base  string
	store *esstore.Store
}

// bulkTargets returns the fake and, when it runs, the real engine, each
// with a store whose first Write has been checked to send exactly
// bareBody's bytes.
func bulkTargets(b *testing.B, chunks [][]article.Enriched) map[string]bulkTarget {
	out := map[string]bulkTarget{}
	f := newFakeES(&testing.T{})
	b.Cleanup(f.Close)
	out["fake"] = bulkTarget{base: f.URL}
	if u, ok := engineForBench(b); ok {
		es := engineStore(b)
		out["engine"] = bulkTarget{base: u, store: es}
	}
	for name, tg := range out {
		rec := &recorder{}
		alias := esstore.DefaultAlias
		if tg.store != nil {
			alias = tg.store.Alias()
		}
		s, err := esstore.New(esstore.Config{URLs: []string{tg.base}, Alias: alias, MaxRetries: -1, Transport: rec})
		if err != nil {
			b.Fatal(err)
		}
		for _, c := range chunks {
			for _, err := range s.Write(b.Context(), c) {
				if err != nil {
					b.Fatalf("%s: %v", name, err)
				}
			}
			if !bytes.Equal(rec.last, bareBody(s, c)) {
				b.Fatalf("%s: the bare body differs from the body Write sends; the comparison would be unfair", name)
			}
		}
		tg.store = s
		out[name] = tg
	}
	return out
}

// engineForBench returns the engine's URL when one answers: benchmarks
// run on the fake regardless and add the engine when it is there. As in
// the tests, a set WIREDESK_TEST_ELASTICSEARCH_URL must answer.
func engineForBench(b *testing.B) (string, bool) {
	if _, set := os.LookupEnv(indextest.EngineEnv); set {
		return indextest.EngineURL(b), true
	}
	const u = "http://127.0.0.1:9200"
	c := &http.Client{Timeout: 2 * time.Second}
	if res, err := c.Get(u); err == nil {
		res.Body.Close()
		return u, true
	}
	b.Logf("no search engine at %s: benchmarking against the fake only (set %s to add one)", u, indextest.EngineEnv)
	return "", false
}

func BenchmarkBulk(b *testing.B) {
	docs := benchDocs(benchBatch * 4)
	chunks := [][]article.Enriched{docs[:500], docs[500:1000], docs[1000:1500], docs[1500:]}
	targets := bulkTargets(b, chunks)
	client := &http.Client{}
	for _, name := range []string{"fake", "engine"} {
		tg, ok := targets[name]
		if !ok {
			continue
		}
		size := int64(len(bareBody(tg.store, chunks[0])))
		b.Run(name+"/write", func(b *testing.B) {
			b.SetBytes(size)
			n := 0
			for i := 0; b.Loop(); i++ {
				for _, err := range tg.store.Write(b.Context(), chunks[i%4]) {
					if err != nil {
						b.Fatal(err)
					}
				}
				n += benchBatch
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "docs/s")
		})
		b.Run(name+"/bare", func(b *testing.B) {
			b.SetBytes(size)
			n := 0
			for i := 0; b.Loop(); i++ {
				barePost(b, client, tg.base, bareBody(tg.store, chunks[i%4]))
				n += benchBatch
			}
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "docs/s")
		})
	}
}

func BenchmarkBulkRatio(b *testing.B) {
	docs := benchDocs(benchBatch * 4)
	chunks := [][]article.Enriched{docs[:500], docs[500:1000], docs[1000:1500], docs[1500:]}
	targets := bulkTargets(b, chunks)
	client := &http.Client{}
	for _, name := range []string{"fake", "engine"} {
		tg, ok := targets[name]
		if !ok {
			continue
		}
		b.Run(name, func(b *testing.B) {
			var tWrite, tBare time.Duration
			var bytesSent int64
			n := 0
			for i := 0; b.Loop(); i++ {
				c := chunks[i%4]
				start := time.Now()
				for _, err := range tg.store.Write(b.Context(), c) {
					if err != nil {
						b.Fatal(err)
					}
				}
				mid := time.Now()
				body := bareBody(tg.store, c)
				barePost(b, client, tg.base, body)
				tBare += time.Since(mid)
				tWrite += mid.Sub(start)
				bytesSent += int64(len(body))
				n += len(c)
			}
			b.ReportMetric(float64(n)/tWrite.Seconds(), "write-docs/s")
			b.ReportMetric(float64(n)/tBare.Seconds(), "bare-docs/s")
			b.ReportMetric(float64(bytesSent)/1e6/tWrite.Seconds(), "write-MB/s")
			b.ReportMetric(float64(bytesSent)/1e6/tBare.Seconds(), "bare-MB/s")
			b.ReportMetric(tBare.Seconds()/tWrite.Seconds(), "write/bare")
		})
	}
}
