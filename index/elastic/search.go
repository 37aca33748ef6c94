package esstore

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/wiredesk/wiredesk/index"
)

// Search runs q through the alias. See index.Query for its semantics; the
// query matches blevestore's clause for clause.
func (s *Store) Search(ctx context.Context, q index.Query) (index.Result, error) {
	q, err := q.Normalize()
	if err != nil {
		return index.Result{}, err
	}
	var out struct {
		Hits struct {
			Total struct{ Value int } `json:"total"`
			Hits  []struct {
				ID        string              `json:"_id"`
				Score     *float64            `json:"_score"`
				Source    json.RawMessage     `json:"_source"`
				Highlight map[string][]string `json:"highlight"`
			} `json:"hits"`
		} `json:"hits"`
	}
	path := "/" + s.alias + "/_search?ignore_unavailable=true&allow_no_indices=true"
	if err := s.call(ctx, http.MethodPost, path, SearchBody(q), &out); err != nil {
		return index.Result{}, fmt.Errorf("searching %s: %w", s.alias, err)
	}
	res := index.Result{Total: out.Hits.Total.Value, Hits: make([]index.Hit, 0, len(out.Hits.Hits))}
	for _, h := range out.Hits.Hits {
		var src struct {
			Title       string    `json:"title"`
			URL         string    `json:"url"`
			Source      string    `json:"source"`
			Language    string    `json:"language"`
			Published   time.Time `json:"published"`
			Topics      []string  `json:"topics"`
			Conflicts   []string  `json:"conflicts"`
			EntityNames []string  `json:"entity_names"`
			Summary     string    `json:"summary"`
			Text        string    `json:"text"`
		}
		if err := json.Unmarshal(h.Source, &src); err != nil {
			return index.Result{}, fmt.Errorf("decoding hit %q: %w", h.ID, err)
		}
		hit := index.Hit{
			ID: h.ID, Title: src.Title, URL: src.URL, Source: src.Source, Language: src.Language,
			Published: src.Published.UTC(), Topics: src.Topics, Conflicts: src.Conflicts, Entities: src.EntityNames,
		}
		if h.Score != nil {
			hit.Score = *h.Score
		}
		for _, f := range []string{"text", "summary", "title"} {
			for _, frag := range h.Highlight[f] {
				if len(hit.Snippets) < maxSnippets {
					hit.Snippets = append(hit.Snippets, strings.TrimSpace(frag))
				}
			}
		}
		if len(hit.Snippets) == 0 {
			if lead := index.LeadSnippet(src.Summary, src.Text, leadSize); lead != "" {
				hit.Snippets = []string{lead}
			}
		}
		res.Hits = append(res.Hits, hit)
	}
	return res, nil
}

const (
	maxSnippets  = 3
	leadSize     = 200
	fragmentSize = 200
)

// SearchBody is the Elasticsearch request body for a normalised q: every
// clause of the text must match one of the text fields (standard or
// language analysis) or an entity alias; filters go into filter context,
// so they do not score.
func SearchBody(q index.Query) map[string]any {
	var must, filter []any
	for _, c := range index.Clauses(q.Text) {
		mm := map[string]any{"query": c.Text, "fields": searchFields}
		if c.Phrase {
			mm["type"] = "phrase"
		} else {
			mm["type"] = "best_fields"
			mm["operator"] = "and"
		}
		must = append(must, map[string]any{"multi_match": mm})
	}
	anyOf := func(field string, values []string, fold bool) {
		var vs []string
		for _, v := range values {
			if v = strings.TrimSpace(v); v != "" {
				if fold {
					v = strings.ToLower(v)
				}
				vs = append(vs, v)
			}
		}
		if len(vs) > 0 {
			filter = append(filter, map[string]any{"terms": map[string]any{field: vs}})
		}
	}
	anyOf("topics", q.Topics, false)
	anyOf("conflicts", q.Conflicts, false)
	anyOf("entity_keys", q.Entities, true)
	anyOf("source", q.Sources, false)
	anyOf("language", q.Languages, false)
	if !q.From.IsZero() || !q.To.IsZero() {
		r := map[string]any{}
		if !q.From.IsZero() {
			r["gte"] = q.From.UTC().Format(time.RFC3339Nano)
		}
		if !q.To.IsZero() {
			r["lt"] = q.To.UTC().Format(time.RFC3339Nano)
		}
		filter = append(filter, map[string]any{"range": map[string]any{"published": r}})
	}
	if q.RelevantOnly {
		filter = append(filter, map[string]any{"term": map[string]any{"relevant": true}})
	}

	var query map[string]any
	if len(must) == 0 && len(filter) == 0 {
		query = map[string]any{"match_all": map[string]any{}}
	} else {
		b := map[string]any{}
		if len(must) > 0 {
			b["must"] = must
		}
		if len(filter) > 0 {
			b["filter"] = filter
		}
		query = map[string]any{"bool": b}
	}
	sort := []any{
		map[string]any{"published": "desc"},
		map[string]any{"id": "asc"},
	}
	if q.Sort != index.SortDate {
		sort = append([]any{map[string]any{"_score": "desc"}}, sort...)
	}
	body := map[string]any{
		"size":             q.Size,
		"track_total_hits": true,
		"track_scores":     true,
		"query":            query,
		"sort":             sort,
		"_source":          sourceFields,
	}
	if len(must) > 0 {
		hl := map[string]any{}
		for _, f := range textFields {
			hl[f] = map[string]any{}
		}
		body["highlight"] = map[string]any{
			"pre_tags":            []string{index.HighlightPre},
			"post_tags":           []string{index.HighlightPost},
			"require_field_match": false,
			"fragment_size":       fragmentSize,
			"number_of_fragments": maxSnippets,
			"fields":              hl,
		}
	}
	return body
}
