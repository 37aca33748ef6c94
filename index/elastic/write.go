package esstore

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"unicode/utf8"

	"github.com/wiredesk/wiredesk/index"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// Write indexes docs with one _bulk request (plus one lookup _search, and a
// create-index request for a month not seen before). See index.Store and
// the package comment for the contract. Per item: 2xx and 409 (a stale
// revision) are success; 429 and 5xx are retryable; other 400-class
// statuses are rejected with the engine's error type and reason. When a
// request fails as a whole (no connection, timeout, 429 or 5xx) every
// document not already rejected is retryable.
func (s *Store) Write(ctx context.Context, docs []article.Enriched) []error {
	errs := make([]error, len(docs))
	built := make([]index.Doc, len(docs))
	newest := make(map[string]int, len(docs)) // id -> position of its newest revision
	var order []string                        // ids in first-seen order
	for i, a := range docs {
		d := index.NewDoc(a)
		if reason := d.Validate(); reason != "" {
			errs[i] = &index.ItemError{ID: a.ID, Status: http.StatusBadRequest, Type: "wiredesk_invalid_article", Reason: reason}
			continue
		}
		built[i] = d
		j, ok := newest[d.ID]
		if !ok {
			order = append(order, d.ID)
		}
		if !ok || d.Version >= built[j].Version {
			newest[d.ID] = i
		}
	}
	// failAll marks every document not yet rejected as failed with the
	// whole request.
	failAll := func(status int, reason string, cause error) []error {
		for i := range docs {
			if errs[i] == nil {
				errs[i] = &index.ItemError{ID: docs[i].ID, Request: true, Status: status, Reason: reason, Err: cause}
			}
		}
		return errs
	}
	if len(order) == 0 {
		return errs
	}

	where, err := s.locate(ctx, order)
	if err != nil {
		return failAll(0, "looking up existing articles", err)
	}

	var body bytes.Buffer
	var sent []int // positions in docs, in bulk order
	for _, id := range order {
		i := newest[id]
		d := built[i]
		src, err := json.Marshal(d)
		if err != nil {
			errs[i] = &index.ItemError{ID: id, Status: http.StatusBadRequest, Type: "wiredesk_invalid_article", Reason: "encoding document: " + err.Error()}
			continue
		}
		idx, ok := where[id]
		if !ok {
			idx = s.IndexFor(d.Published)
			if _, err := s.ensureIndex(ctx, idx); err != nil {
				return failAll(0, "creating index "+idx, err)
			}
		}
		// The action line by hand: encoding a map per item costs more
		// than the rest of the request building.
		qi, _ := json.Marshal(idx)
		qid, _ := json.Marshal(id)
		body.WriteString(`{"index":{"_index":`)
		body.Write(qi)
		body.WriteString(`,"_id":`)
		body.Write(qid)
		body.WriteString(`,"version":`)
		body.WriteString(strconv.FormatInt(d.Version, 10))
		body.WriteString(`,"version_type":"external_gte"}}` + "\n")
		body.Write(src)
		body.WriteByte('\n')
		sent = append(sent, i)
	}

	if len(sent) > 0 {
		if failed := s.bulk(ctx, body.Bytes(), docs, sent, errs); failed != nil {
			return failAll(failed.Status, failed.Reason, failed.Err)
		}
	}

	// Older revisions in this call were not sent; they share the fate of
	// the newest (success when it was written or refused as stale).
	for i := range docs {
		if errs[i] != nil || built[i].ID == "" {
			continue
		}
		if j := newest[built[i].ID]; j != i && errs[j] != nil {
			ie := *errs[j].(*index.ItemError)
			ie.ID = docs[i].ID
			errs[i] = &ie
		}
	}
	return errs
}

// bulkItem is one entry of a bulk response's items.
type bulkItem struct {
	ID     string `json:"_id"`
	Status int    `json:"status"`
	Error  *struct {
		Type     string `json:"type"`
		Reason   string `json:"reason"`
		CausedBy *struct {
			Type   string `json:"type"`
			Reason string `json:"reason"`
		} `json:"caused_by"`
	} `json:"error"`
}

// bulk posts the request and fills errs for the items; it returns a
// non-nil error when the request failed as a whole.
func (s *Store) bulk(ctx context.Context, body []byte, docs []article.Enriched, sent []int, errs []error) *index.ItemError {
	const path = "/_bulk?filter_path=errors,items.*._id,items.*.status,items.*.error"
	res, err := s.do(ctx, http.MethodPost, path, body)
	if err != nil {
		return &index.ItemError{Err: err}
	}
	if res.status < 200 || res.status > 299 {
		return &index.ItemError{Status: res.status, Reason: "bulk request: " + errorReason(res.body)}
	}
	var out struct {
		Errors bool                  `json:"errors"`
		Items  []map[string]bulkItem `json:"items"`
	}
	if err := json.Unmarshal(res.body, &out); err != nil {
		return &index.ItemError{Status: res.status, Reason: "decoding bulk response", Err: err}
	}
	if !out.Errors {
		return nil // every item succeeded
	}
	if len(out.Items) != len(sent) {
		return &index.ItemError{Status: res.status, Reason: fmt.Sprintf("bulk response has %d items for %d documents", len(out.Items), len(sent))}
	}
	for k, m := range out.Items {
		i := sent[k]
		for _, it := range m { // one key: the action
			if it.ID != "" && it.ID != docs[i].ID {
				errs[i] = &index.ItemError{ID: docs[i].ID, Status: http.StatusInternalServerError, Reason: "bulk response out of order: got _id " + strconv.Quote(it.ID)}
				continue
			}
			if it.Status >= 200 && it.Status <= 299 || it.Status == http.StatusConflict {
				continue // 409: a newer revision is indexed
			}
			ie := &index.ItemError{ID: docs[i].ID, Status: it.Status}
			if it.Error != nil {
				ie.Type, ie.Reason = it.Error.Type, it.Error.Reason
				if c := it.Error.CausedBy; c != nil && c.Reason != "" {
					ie.Reason += ": " + c.Type + ": " + c.Reason
				}
				ie.Reason = truncate(ie.Reason, maxReason)
			}
			errs[i] = ie
		}
	}
	return nil
}

// locate returns the index that holds each of ids that is already
// indexed.
func (s *Store) locate(ctx context.Context, ids []string) (map[string]string, error) {
	q := map[string]any{
		"size":    len(ids),
		"_source": false,
		"query":   map[string]any{"ids": map[string]any{"values": ids}},
	}
	var out struct {
		Hits struct {
			Hits []struct {
				Index string `json:"_index"`
				ID    string `json:"_id"`
			} `json:"hits"`
		} `json:"hits"`
	}
	path := "/" + s.alias + "/_search?ignore_unavailable=true&allow_no_indices=true&filter_path=hits.hits._index,hits.hits._id"
	if err := s.call(ctx, http.MethodPost, path, q, &out); err != nil {
		return nil, err
	}
	where := make(map[string]string, len(out.Hits.Hits))
	for _, h := range out.Hits.Hits {
		// Should an article be in two indices already (see the package
		// comment), keep writing to the newest month: it sorts last.
		if h.Index > where[h.ID] {
			where[h.ID] = h.Index
		}
	}
	return where, nil
}

// maxReason caps an engine error reason, which can quote a field's value,
// so that it fits a message header.
const maxReason = 1024

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
