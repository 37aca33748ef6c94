package esstore_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeES is an HTTP FAKE of Elasticsearch, not a search engine: it
// answers just enough of the API for Write (GET /, the lookup _search,
// index creation, _bulk) to inject faults a real engine cannot produce on
// demand — a 429 for one item, a 5xx or a stall for the whole request. It
// records every document it accepted, by _id, so tests can check that each
// article arrived exactly once.
type fakeES struct {
	*httptest.Server

	mu sync.Mutex
	// itemStatus gives the status for an item by _id; itemFailures, when
	// set, says for how many bulk attempts of that _id the status applies.
	itemStatus   map[string]int
	itemFailures map[string]int
	// wholeStatus fails the next wholeFailures bulk requests as a whole.
	wholeStatus   int
	wholeFailures int
	// stall makes every bulk request wait this long before answering.
	stall time.Duration

	stored   map[string]int64 // _id -> version
	accepted int              // items answered 2xx
	bulks    int
}

func newFakeES(t *testing.T) *fakeES {
	f := &fakeES{itemStatus: map[string]int{}, itemFailures: map[string]int{}, stored: map[string]int64{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeES) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/" && r.Method == http.MethodGet:
		io.WriteString(w, `{"version":{"number":"8.19.0-fake"}}`)
	case strings.HasSuffix(r.URL.Path, "/_search"):
		io.WriteString(w, `{"hits":{"hits":[]}}`)
	case r.Method == http.MethodPut:
		io.WriteString(w, `{"acknowledged":true}`)
	case r.URL.Path == "/_bulk":
		f.bulk(w, r)
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":{"type":"fake_not_implemented","reason":"the fake does not serve `+r.Method+" "+r.URL.Path+`"}}`)
	}
}

func (f *fakeES) bulk(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	f.mu.Lock()
	stall := f.stall
	f.bulks++
	if f.wholeFailures > 0 {
		f.wholeFailures--
		status := f.wholeStatus
		f.mu.Unlock()
		w.WriteHeader(status)
		io.WriteString(w, `{"error":{"type":"fake_failure","reason":"injected"},"status":`+itoa(status)+`}`)
		return
	}
	f.mu.Unlock()
	if stall > 0 {
		select {
		case <-time.After(stall):
		case <-r.Context().Done():
			return
		}
	}

	type item struct {
		ID     string `json:"_id"`
		Status int    `json:"status"`
		Error  any    `json:"error,omitempty"`
	}
	var items []map[string]item
	errors := false
	sc := bufio.NewScanner(bytes.NewReader(body))
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	f.mu.Lock()
	for sc.Scan() {
		var meta struct {
			Index struct {
				ID      string `json:"_id"`
				Version int64  `json:"version"`
			} `json:"index"`
		}
		if err := json.Unmarshal(sc.Bytes(), &meta); err != nil || !sc.Scan() {
			f.mu.Unlock()
			w.WriteHeader(http.StatusBadRequest)
			io.WriteString(w, `{"error":{"type":"parse_exception","reason":"fake: malformed bulk body"}}`)
			return
		}
		id, v := meta.Index.ID, meta.Index.Version
		it := item{ID: id, Status: http.StatusCreated}
		if st, ok := f.itemStatus[id]; ok && (f.itemFailures[id] > 0 || f.itemFailures[id] == -1) {
			if f.itemFailures[id] > 0 {
				f.itemFailures[id]--
			}
			it.Status = st
			it.Error = map[string]any{"type": "fake_item_failure", "reason": "injected status " + itoa(st)}
		} else if old, ok := f.stored[id]; ok && old > v {
			it.Status = http.StatusConflict
			it.Error = map[string]any{"type": "version_conflict_engine_exception", "reason": "current version is higher"}
		} else {
			f.stored[id] = v
			f.accepted++
		}
		if it.Status >= 300 {
			errors = true
		}
		items = append(items, map[string]item{"index": it})
	}
	f.mu.Unlock()
	json.NewEncoder(w).Encode(map[string]any{"errors": errors, "items": items})
}

// failItem makes the next n bulk attempts of id answer status; n = -1
// means forever.
func (f *fakeES) failItem(id string, status, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.itemStatus[id] = status
	f.itemFailures[id] = n
}

func (f *fakeES) failRequests(status, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.wholeStatus, f.wholeFailures = status, n
}

func (f *fakeES) storedIDs() map[string]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make(map[string]int64, len(f.stored))
	for k, v := range f.stored {
		out[k] = v
	}
	return out
}

func itoa(n int) string { return strconv.Itoa(n) }
