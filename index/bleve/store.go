// Package blevestore is the embedded search index: wiredesk's articles in
// an on-disk bleve index, for running without Elasticsearch. It implements
// index.Store with the same documents and the same query semantics as
// package esstore.
package blevestore

import (
	"context"
	"errors"
	"fmt"
	"html"
	"math"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/search"
	"github.com/blevesearch/bleve/v2/search/query"
	bleveindex "github.com/blevesearch/bleve_index_api"
	bolterrors "go.etcd.io/bbolt/errors"

	"github.com/wiredesk/wiredesk/index"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// Store is an on-disk bleve index of articles. Its methods are safe for
// concurrent use; writes are serialised so that the stale-revision check
// and the write are atomic.
type Store struct {
	idx bleve.Index
	an  analyzers

	mu     sync.Mutex // serialises Write, guards closed
	closed bool
}

var _ index.Store = (*Store)(nil)

// ErrLocked is returned by Open when another process has the index open.
var ErrLocked = errors.New("blevestore: index is in use by another process (a running wiredesk?)")

// ErrClosed is returned by a Store after Close.
var ErrClosed = errors.New("blevestore: index closed")

const mappingKey = "wiredesk_mapping_version"

// Open opens the index in dir, creating it (and dir) when absent. It
// refuses an index built with a different mapping version: rebuild it from
// the stream instead.
func Open(dir string) (*Store, error) {
	idx, err := bleve.OpenUsing(dir, runtimeConfig())
	switch {
	case errors.Is(err, bolterrors.ErrTimeout):
		return nil, fmt.Errorf("opening index %q: %w", dir, ErrLocked)
	case errors.Is(err, bleve.ErrorIndexPathDoesNotExist) || errors.Is(err, bleve.ErrorIndexMetaMissing):
		m, merr := newMapping()
		if merr != nil {
			return nil, fmt.Errorf("building index mapping: %w", merr)
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, fmt.Errorf("creating index directory %q: %w", dir, err)
		}
		// bleve.New wants to create the directory itself.
		_ = os.Remove(dir)
		idx, err = bleve.NewUsing(dir, m, bleve.Config.DefaultIndexType, bleve.Config.DefaultKVStore, runtimeConfig())
		if err != nil {
			return nil, fmt.Errorf("creating index %q: %w", dir, err)
		}
		if err := idx.SetInternal([]byte(mappingKey), []byte(mappingVersion)); err != nil {
			_ = idx.Close()
			return nil, fmt.Errorf("recording mapping version in %q: %w", dir, err)
		}
	case err != nil:
		return nil, fmt.Errorf("opening index %q: %w", dir, err)
	default:
		v, err := idx.GetInternal([]byte(mappingKey))
		if err != nil || string(v) != mappingVersion {
			_ = idx.Close()
			if err == nil {
				err = fmt.Errorf("index has mapping %q, this build uses %q: remove the directory and re-index", v, mappingVersion)
			}
			return nil, fmt.Errorf("opening index %q: %w", dir, err)
		}
	}
	an, err := newAnalyzers(idx.Mapping())
	if err != nil {
		_ = idx.Close()
		return nil, fmt.Errorf("opening index %q: %w", dir, err)
	}
	return &Store{idx: idx, an: an}, nil
}

// Write indexes docs in bleve batches of at most about maxBatchBytes of
// text each, every one persisted to disk before Write returns. See
// index.Store for the contract. A document bleve cannot take (no id, a
// NaN score) is rejected with status 400; a failed batch makes every
// document in it retryable with status 500, and the documents of batches
// the context's end kept from being written are retryable too.
func (s *Store) Write(ctx context.Context, docs []article.Enriched) []error {
	errs := make([]error, len(docs))
	fail := func(i int, status int, reason string, cause error) {
		errs[i] = &index.ItemError{ID: docs[i].ID, Status: status, Reason: reason, Err: cause}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || ctx.Err() != nil {
		cause := ErrClosed
		if !s.closed {
			cause = context.Cause(ctx)
		}
		for i := range docs {
			fail(i, 0, "", cause)
		}
		return errs
	}

	// newest holds, per id, the position of the newest revision in this
	// call; the others are stale relative to it and succeed unwritten.
	newest := make(map[string]int, len(docs))
	built := make([]index.Doc, len(docs))
	for i, a := range docs {
		d := index.NewDoc(a)
		if reason := d.Validate(); reason != "" {
			fail(i, http.StatusBadRequest, reason, nil)
			continue
		}
		built[i] = d
		if j, ok := newest[d.ID]; !ok || d.Version >= built[j].Version {
			newest[d.ID] = i
		}
	}

	// The documents go to bleve in batches of about maxBatchBytes of
	// text: bleve holds a whole batch analysed in memory while it builds
	// its segment, so memory grows with the batch, while the cost per
	// document hardly falls beyond a few hundred articles.
	batch := s.idx.NewBatch()
	var inBatch []int
	size := 0
	flush := func() {
		if batch.Size() == 0 {
			return
		}
		if ctx.Err() != nil {
			for _, i := range inBatch {
				fail(i, 0, "", context.Cause(ctx))
			}
		} else if err := s.idx.Batch(batch); err != nil {
			for _, i := range inBatch {
				fail(i, http.StatusInternalServerError, "writing batch", err)
			}
		}
		batch.Reset()
		inBatch, size = inBatch[:0], 0
	}
	for id, i := range newest {
		stored, found, err := s.storedVersion(id)
		if err != nil {
			fail(i, http.StatusInternalServerError, "reading stored version", err)
			continue
		}
		if found && stored > built[i].Version {
			continue // stale: a newer revision is indexed
		}
		if err := batch.IndexAdvanced(s.an.newDocument(built[i])); err != nil {
			fail(i, http.StatusBadRequest, "building document", err)
			continue
		}
		inBatch = append(inBatch, i)
		if size += docBytes(built[i]); size >= maxBatchBytes {
			flush()
		}
	}
	flush()
	// Duplicates of a failed newest revision share its fate: they were
	// not written either.
	for i := range docs {
		if errs[i] != nil {
			continue
		}
		if j, ok := newest[built[i].ID]; ok && j != i && errs[j] != nil && !index.IsRejected(errs[j]) {
			fail(i, http.StatusInternalServerError, "writing batch", errors.Unwrap(errs[j]))
		}
	}
	return errs
}

// maxBatchBytes bounds the text of one bleve batch; see Write. 512 KiB
// is about 200 realistic articles (title, summary, text and entity
// aliases). BenchmarkWriteRealistic, writing calls of 500 articles:
// 1 MiB peaks at ~165 MB of heap, 512 KiB at ~105 MB and 256 KiB at
// ~75 MB, while the bytes allocated per article rise by 12 % and 40 %
// (smaller segments, more merging) and the CPU per article with them.
const maxBatchBytes = 512 << 10

// docBytes is the text of d that bleve analyses.
func docBytes(d index.Doc) int {
	n := len(d.Title) + len(d.Summary) + len(d.Text)
	for _, a := range d.Aliases {
		n += len(a)
	}
	return n
}

// storedVersion reads the Version of the indexed document with id.
func (s *Store) storedVersion(id string) (v int64, found bool, err error) {
	doc, err := s.idx.Document(id)
	if err != nil || doc == nil {
		return 0, false, err
	}
	doc.VisitFields(func(f bleveindex.Field) {
		if f.Name() != "version" {
			return
		}
		if nf, ok := f.(bleveindex.NumericField); ok {
			if n, err := nf.Number(); err == nil {
				v, found = int64(n), true
			}
		}
	})
	if !found {
		// Indexed without a version: any revision may replace it.
		return math.MinInt64, true, nil
	}
	return v, true, nil
}

// Search runs q. See index.Query for its semantics.
func (s *Store) Search(ctx context.Context, q index.Query) (index.Result, error) {
	q, err := q.Normalize()
	if err != nil {
		return index.Result{}, err
	}
	req := bleve.NewSearchRequestOptions(buildQuery(q), q.Size, 0, false)
	req.Fields = storedFields
	if q.Sort == index.SortDate {
		req.SortBy([]string{"-published", "_id"})
	} else {
		req.SortBy([]string{"-_score", "-published", "_id"})
	}
	if strings.TrimSpace(q.Text) != "" {
		req.Highlight = bleve.NewHighlight() // html style; markers replaced below
		for _, f := range textFields {
			req.Highlight.AddField(f)
		}
	}
	res, err := s.idx.SearchInContext(ctx, req)
	if err != nil {
		return index.Result{}, fmt.Errorf("searching bleve index: %w", err)
	}
	out := index.Result{Total: int(res.Total), Hits: make([]index.Hit, 0, len(res.Hits))}
	for _, m := range res.Hits {
		out.Hits = append(out.Hits, hit(m))
	}
	return out, nil
}

// buildQuery mirrors esstore's query: every clause of the text must match
// one of searchFields; filters match any of their values, all together.
func buildQuery(q index.Query) query.Query {
	var must []query.Query
	for _, c := range index.Clauses(q.Text) {
		var per []query.Query
		for _, f := range searchFields {
			if c.Phrase {
				mq := query.NewMatchPhraseQuery(c.Text)
				mq.SetField(f.field)
				mq.Analyzer = f.analyzer
				per = append(per, mq)
			} else {
				mq := query.NewMatchQuery(c.Text)
				mq.SetField(f.field)
				mq.Analyzer = f.analyzer
				mq.SetOperator(query.MatchQueryOperatorAnd)
				per = append(per, mq)
			}
		}
		must = append(must, query.NewDisjunctionQuery(per))
	}

	var filters []query.Query
	anyOf := func(field string, values []string, fold bool) {
		var ds []query.Query
		for _, v := range values {
			if v = strings.TrimSpace(v); v == "" {
				continue
			}
			if fold {
				v = strings.ToLower(v)
			}
			tq := query.NewTermQuery(v)
			tq.SetField(field)
			ds = append(ds, tq)
		}
		if len(ds) > 0 {
			filters = append(filters, query.NewDisjunctionQuery(ds))
		}
	}
	anyOf("topics", q.Topics, false)
	anyOf("conflicts", q.Conflicts, false)
	anyOf("entity_keys", q.Entities, true)
	anyOf("source", q.Sources, false)
	anyOf("language", q.Languages, false)
	if !q.From.IsZero() || !q.To.IsZero() {
		incl, excl := true, false
		rq := query.NewDateRangeInclusiveQuery(q.From.UTC(), q.To.UTC(), &incl, &excl)
		rq.SetField("published")
		filters = append(filters, rq)
	}
	if q.RelevantOnly {
		bq := query.NewBoolFieldQuery(true)
		bq.SetField("relevant")
		filters = append(filters, bq)
	}

	switch {
	case len(must) == 0 && len(filters) == 0:
		return query.NewMatchAllQuery()
	case len(filters) == 0:
		return query.NewConjunctionQuery(must)
	}
	// Filters go into the boolean query's filter, which does not score,
	// as in Elasticsearch's filter context. The text clauses are in the
	// filter as well: bleve drops a must clause that can match nothing
	// (all its words analysed away) instead of matching nothing.
	bq := query.NewBooleanQuery(nil, nil, nil)
	if len(must) > 0 {
		bq.AddMust(query.NewConjunctionQuery(must))
	}
	bq.AddFilter(query.NewConjunctionQuery(append(filters, must...)))
	return bq
}

func hit(m *search.DocumentMatch) index.Hit {
	h := index.Hit{
		ID:        m.ID,
		Score:     m.Score,
		Title:     str(m.Fields["title"]),
		URL:       str(m.Fields["url"]),
		Source:    str(m.Fields["source"]),
		Language:  str(m.Fields["language"]),
		Topics:    strs(m.Fields["topics"]),
		Conflicts: strs(m.Fields["conflicts"]),
		Entities:  strs(m.Fields["entity_names"]),
	}
	if t, err := time.Parse(time.RFC3339Nano, str(m.Fields["published"])); err == nil {
		h.Published = t.UTC()
	}
	for _, f := range []string{"text", "summary", "title"} {
		for _, frag := range m.Fragments[f] {
			if len(h.Snippets) == maxSnippets {
				break
			}
			h.Snippets = append(h.Snippets, marks(frag))
		}
	}
	if len(h.Snippets) == 0 {
		if lead := index.LeadSnippet(str(m.Fields["summary"]), str(m.Fields["text"]), leadSize); lead != "" {
			h.Snippets = []string{lead}
		}
	}
	return h
}

const (
	maxSnippets = 3
	leadSize    = 200
)

// marks turns bleve's HTML fragment into plain text with the index
// markers. bleve escapes the text, so a literal "<mark>" in an article
// arrives as "&lt;mark&gt;" and is not mistaken for a match.
func marks(frag string) string {
	frag = strings.ReplaceAll(frag, "<mark>", index.HighlightPre)
	frag = strings.ReplaceAll(frag, "</mark>", index.HighlightPost)
	return strings.TrimSpace(html.UnescapeString(frag))
}

func str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		if len(v) > 0 {
			return str(v[0])
		}
	}
	return ""
}

func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		out := make([]string, 0, len(v))
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Count returns the number of indexed articles.
func (s *Store) Count(ctx context.Context) (int, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	n, err := s.idx.DocCount()
	if err != nil {
		return 0, fmt.Errorf("counting bleve documents: %w", err)
	}
	return int(n), nil
}

// Ping returns nil while the index is open.
func (s *Store) Ping(ctx context.Context) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return ErrClosed
	}
	return ctx.Err()
}

// Close closes the index after any running Write. It is safe to call more
// than once.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.idx.Close()
}

// runtimeConfig is bleve's configuration at New and Open. Another process
// holding the index (a running `wiredesk run`) keeps its lock: fail after
// a short wait instead of blocking forever. Scorch's defaults are kept: a
// batch returns only when it is persisted (no "unsafe_batch"), and its
// merge and persister settings measured no better otherwise
// (BenchmarkWriteRealistic).
func runtimeConfig() map[string]any {
	return map[string]any{"bolt_timeout": "2s"}
}
