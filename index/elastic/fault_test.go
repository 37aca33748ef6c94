package esstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/wiredesk/wiredesk/index"
	esstore "github.com/wiredesk/wiredesk/index/elastic"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// synthetic returns n distinct articles.
func synthetic(n int) []article.Enriched {
	base := time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)
	out := make([]article.Enriched, n)
	for i := range out {
		a := article.Enriched{Raw: article.Raw{
			SchemaVersion: "1.0", ID: fmt.Sprintf("art-%05d", i), Revision: "r1",
			URL: fmt.Sprintf("https://news.example/%d", i), Source: "caucasus-wire",
			Title:       fmt.Sprintf("Border clash report %d", i),
			Summary:     "Shelling was reported overnight along the line of contact.",
			PublishedAt: base.Add(time.Duration(i) * time.Hour), PublishedFrom: "feed",
			FetchedAt: base.Add(time.Duration(i)*time.Hour + time.Minute),
		}}
		a.SchemaVersion = "1.0"
		a.Text = strings.Repeat("Villagers near the border said they heard shelling through the night. ", 20)
		a.Language, a.Relevant, a.Relevance = "en", true, 0.8
		a.Conflicts = []string{"nagorno-karabakh"}
		a.Topics = []article.Topic{{ID: "border-clashes", Score: 0.8}}
		out[i] = a
	}
	return out
}

func fakeStore(t *testing.T, f *fakeES, cfg esstore.Config) *esstore.Store {
	t.Helper()
	cfg.URLs = []string{f.URL}
	if cfg.MaxRetries == 0 {
		cfg.MaxRetries = -1 // the tests count requests
	}
	s, err := esstore.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestFakeOneItem429IsRetryableOthersSucceed(t *testing.T) {
	f := newFakeES(t)
	s := fakeStore(t, f, esstore.Config{})
	docs := synthetic(10)
	f.failItem(docs[3].ID, http.StatusTooManyRequests, 1)
	errs := s.Write(t.Context(), docs)
	for i, err := range errs {
		switch {
		case i == 3 && (!index.IsRetryable(err) || !strings.Contains(err.Error(), "429")):
			t.Errorf("item 3: %v, want retryable 429", err)
		case i != 3 && err != nil:
			t.Errorf("item %d: %v", i, err)
		}
	}
	// The caller retries only the failed one; it goes through.
	if err := s.Write(t.Context(), docs[3:4])[0]; err != nil {
		t.Fatalf("retry: %v", err)
	}
	if got := len(f.storedIDs()); got != 10 {
		t.Errorf("stored %d, want 10", got)
	}
}

func TestFake429StormIsRetriedToCompletion(t *testing.T) {
	f := newFakeES(t)
	s := fakeStore(t, f, esstore.Config{})
	docs := synthetic(200)
	for i, d := range docs {
		if i%3 == 0 {
			f.failItem(d.ID, http.StatusTooManyRequests, 1+i%4)
		}
	}
	f.failRequests(http.StatusTooManyRequests, 2)
	pending := docs
	for round := 0; len(pending) > 0; round++ {
		if round > 10 {
			t.Fatalf("%d articles still failing after 10 rounds", len(pending))
		}
		var next []article.Enriched
		for i, err := range s.Write(t.Context(), pending) {
			switch {
			case err == nil:
			case index.IsRetryable(err):
				next = append(next, pending[i])
			default:
				t.Fatalf("%s: %v, want only retryable failures", pending[i].ID, err)
			}
		}
		pending = next
	}
	stored := f.storedIDs()
	for _, d := range docs {
		if _, ok := stored[d.ID]; !ok {
			t.Errorf("%s never stored", d.ID)
		}
	}
	if len(stored) != len(docs) {
		t.Errorf("stored %d ids, want %d", len(stored), len(docs))
	}
}

func TestFakeWholeRequest5xxFailsEveryItemRetryable(t *testing.T) {
	f := newFakeES(t)
	s := fakeStore(t, f, esstore.Config{})
	f.failRequests(http.StatusInternalServerError, 1)
	for i, err := range s.Write(t.Context(), synthetic(5)) {
		var ie *index.ItemError
		if !index.IsRetryable(err) || !errors.As(err, &ie) || !ie.Request || ie.Status != 500 {
			t.Errorf("item %d: %v, want a retryable whole-request 500", i, err)
		}
	}
	if len(f.storedIDs()) != 0 {
		t.Error("documents stored despite the failure")
	}
}

func TestFakeTransportRetries503(t *testing.T) {
	f := newFakeES(t)
	s := fakeStore(t, f, esstore.Config{MaxRetries: 2})
	f.failRequests(http.StatusServiceUnavailable, 1)
	for i, err := range s.Write(t.Context(), synthetic(5)) {
		if err != nil {
			t.Errorf("item %d: %v, want the transport's retry to succeed", i, err)
		}
	}
}

func TestFakeTimeoutMidBulkIsRetryable(t *testing.T) {
	f := newFakeES(t)
	s := fakeStore(t, f, esstore.Config{RequestTimeout: 200 * time.Millisecond})
	f.stall = 5 * time.Second
	start := time.Now()
	for i, err := range s.Write(t.Context(), synthetic(5)) {
		if !index.IsRetryable(err) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("item %d: %v, want a retryable deadline", i, err)
		}
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Write took %s despite a 200ms request timeout", d)
	}
}

func TestFakeConnectionRefusedIsRetryable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	s, err := esstore.New(esstore.Config{URLs: []string{"http://" + addr}, MaxRetries: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i, err := range s.Write(t.Context(), synthetic(3)) {
		if !index.IsRetryable(err) {
			t.Errorf("item %d: %v, want retryable", i, err)
		}
	}
	if err := s.Ping(t.Context()); err == nil {
		t.Error("Ping succeeded against a closed port")
	}
}

func TestFakeItemRejectedAndConflict(t *testing.T) {
	f := newFakeES(t)
	s := fakeStore(t, f, esstore.Config{})
	docs := synthetic(4)
	f.failItem(docs[1].ID, http.StatusBadRequest, -1)
	f.failItem(docs[2].ID, http.StatusConflict, -1)
	errs := s.Write(t.Context(), docs)
	if !index.IsRejected(errs[1]) || !strings.Contains(errs[1].Error(), "injected status 400") {
		t.Errorf("item 1: %v, want rejected with the engine's reason", errs[1])
	}
	if errs[0] != nil || errs[2] != nil || errs[3] != nil {
		t.Errorf("errs = %v, want success for 0, 2 (409) and 3", errs)
	}
}

func TestFakeInvalidArticlesNeverReachTheEngine(t *testing.T) {
	f := newFakeES(t)
	s := fakeStore(t, f, esstore.Config{})
	docs := synthetic(3)
	docs[0].FetchedAt = time.Time{} // negative version: ES would fail the whole bulk
	docs[1].ID = strings.Repeat("x", 600)
	errs := s.Write(t.Context(), docs)
	if !index.IsRejected(errs[0]) || !index.IsRejected(errs[1]) || errs[2] != nil {
		t.Errorf("errs = %v, want 0 and 1 rejected, 2 written", errs)
	}
	if got := f.storedIDs(); len(got) != 1 {
		t.Errorf("stored %v", got)
	}
}

func TestFakeNewestRevisionInOneCallWins(t *testing.T) {
	f := newFakeES(t)
	s := fakeStore(t, f, esstore.Config{})
	a := synthetic(1)[0]
	newer := a
	newer.FetchedAt = a.FetchedAt.Add(time.Hour)
	for i, err := range s.Write(t.Context(), []article.Enriched{newer, a}) {
		if err != nil {
			t.Errorf("item %d: %v", i, err)
		}
	}
	if got := f.storedIDs()[a.ID]; got != newer.FetchedAt.UnixMicro() {
		t.Errorf("stored version %d, want the newer %d", got, newer.FetchedAt.UnixMicro())
	}
}
