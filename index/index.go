// Package index turns enriched articles into search documents and defines
// the one search that both engines run: Elasticsearch (package
// index/elastic) and the embedded bleve index (package index/bleve).
//
// The package knows nothing about NATS. A Store takes articles and returns
// one outcome per article; the caller decides what to ack, retry or
// dead-letter with IsRetryable and IsRejected.
package index

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/wiredesk/wiredesk/ingest/article"
)

// Store is a search index. Both engines implement it.
type Store interface {
	// Write indexes docs and returns one error per doc, in the same order
	// (nil = durable in the index). A stale revision, one whose Version is
	// older than the stored document's, counts as success and is not
	// written; an equal Version is rewritten, so re-enriching the same
	// revision takes effect. The context bounds the whole call.
	Write(ctx context.Context, docs []article.Enriched) []error
	// Search runs q. The zero Query matches every document.
	Search(ctx context.Context, q Query) (Result, error)
	// Count returns the number of documents in the index.
	Count(ctx context.Context) (int, error)
	// Ping returns nil when the index can take writes.
	Ping(ctx context.Context) error
	// Close releases the store. It is safe to call more than once.
	Close() error
}

// Sort orders of Query.Sort.
const (
	SortRelevance = "relevance"
	SortDate      = "date"
)

// Query is the one search both engines run.
//
// Text is free text: words and "quoted phrases", all of which must occur in
// the title, summary, body (each also through its language-specific
// analysis) or in the names and aliases of the article's entities, so
// "Khankendi" finds a story that only says "Stepanakert" when the entity
// carries both names. Each filter list matches any of its values; the
// filters together must all match. Entities match an entity id, a Wikidata
// QID, a canonical name or any alias, ignoring case. From is inclusive and
// To exclusive; zero times leave that end open. Sort is SortRelevance (the
// default) or SortDate (newest first). Size 0 means DefaultSize.
type Query struct {
	Text         string
	Topics       []string
	Conflicts    []string
	Entities     []string
	Sources      []string
	Languages    []string
	From, To     time.Time
	RelevantOnly bool
	Sort         string
	Size         int
}

// Size limits of Query.Size.
const (
	DefaultSize = 20
	MaxSize     = 1000
)

// Hit is one matching document.
type Hit struct {
	ID        string
	Title     string
	URL       string
	Source    string
	Language  string
	Published time.Time
	Topics    []string
	Conflicts []string
	// Entities are the canonical names of the article's entities.
	Entities []string
	// Score is the engine's relevance score; engines score differently, so
	// compare scores only within one result.
	Score float64
	// Snippets are highlighted fragments of the body, summary or title
	// with each match wrapped in HighlightPre and HighlightPost. Without a
	// text match the first snippet is the start of the summary or body,
	// without markers.
	Snippets []string
}

// Result is a page of hits.
type Result struct {
	// Total is the number of matching documents, which may exceed len(Hits).
	Total int
	Hits  []Hit
}

// Markers around highlighted matches in Hit.Snippets.
const (
	HighlightPre  = "«"
	HighlightPost = "»"
)

// Normalize returns q with its defaults applied and its size clamped, and
// an error for an unknown sort order.
func (q Query) Normalize() (Query, error) {
	switch q.Sort {
	case "":
		q.Sort = SortRelevance
	case SortRelevance, SortDate:
	default:
		return q, &QueryError{Reason: "unknown sort order " + quote(q.Sort) + ` (want "relevance" or "date")`}
	}
	if q.Size <= 0 {
		q.Size = DefaultSize
	}
	if q.Size > MaxSize {
		q.Size = MaxSize
	}
	if !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From) {
		return q, &QueryError{Reason: "empty date range: to is not after from"}
	}
	return q, nil
}

// QueryError reports a query the engines cannot run.
type QueryError struct{ Reason string }

func (e *QueryError) Error() string { return "index: bad query: " + e.Reason }

func quote(s string) string { return `"` + s + `"` }

// Clause is one part of Query.Text: a word (which the engine's analyzers
// may split further) or a quoted phrase.
type Clause struct {
	Text   string
	Phrase bool
}

// Clauses splits free text into words and "quoted phrases"; an unclosed
// quote runs to the end. Both engines require every clause to match.
func Clauses(text string) []Clause {
	var out []Clause
	for text != "" {
		text = strings.TrimLeftFunc(text, unicode.IsSpace)
		if text == "" {
			break
		}
		if text[0] == '"' {
			body, rest, _ := strings.Cut(text[1:], `"`)
			if body = strings.TrimSpace(body); body != "" {
				out = append(out, Clause{Text: body, Phrase: true})
			}
			text = rest
			continue
		}
		end := strings.IndexFunc(text, func(r rune) bool { return unicode.IsSpace(r) || r == '"' })
		if end < 0 {
			end = len(text)
		}
		out = append(out, Clause{Text: text[:end]})
		text = text[end:]
	}
	return out
}

// LeadSnippet is the snippet of a hit without a text match: the start of
// the summary, or of the body, cut at a word boundary near max bytes.
func LeadSnippet(summary, body string, max int) string {
	s := strings.TrimSpace(summary)
	if s == "" {
		s = strings.TrimSpace(body)
	}
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= max {
		return s
	}
	cut := strings.LastIndexByte(s[:max], ' ')
	if cut < max/2 {
		cut = max
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
	}
	return s[:cut] + " …"
}
