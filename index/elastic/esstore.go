// Package esstore indexes wiredesk's articles into Elasticsearch 8 (or
// OpenSearch 2, which speaks the same bulk, template, mapping and search
// APIs) and searches them. It implements index.Store.
//
// # Index layout
//
// Setup installs a composable index template for monthly indices named
// <alias>-YYYY.MM (strict mappings, language sub-fields, the read alias
// in the template so every new month joins it) and an ILM policy when the
// cluster has ILM. Articles are not a data stream: they are updated in
// place when re-enriched or edited.
//
// # Which month an article lives in
//
// A new article goes to the month of its publication date. Feeds do move
// publication dates when they edit a story, so routing every revision by
// its own date could leave one article in two monthly indices. Before each
// bulk request Write therefore looks the ids up through the alias (one
// _search with an ids query) and writes an article that already exists
// into the index that holds it, whatever its new date. The document's
// published field changes; its index does not. The lookup is near-real-
// time: two revisions of one article with publication dates in different
// months, written by separate Write calls less than one refresh interval
// (1 s) apart, can still land in two indices. Within one Write call the
// newest revision of each id is the only one sent.
//
// # Exactly-once effect
//
// Every item is indexed with _id = article id, version = index.Doc.Version
// (fetch time in µs) and version_type=external_gte: a redelivery of the
// same revision rewrites the document, a stale revision gets 409, which
// Write reports as success.
//
// The client is elastic-transport-go with hand-written requests: the
// go-elasticsearch root package would compile its typed API (~860
// packages), and its product check (the X-Elastic-Product header) is not
// made here, so OpenSearch needs no header-adding proxy.
package esstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/elastic/elastic-transport-go/v8/elastictransport"

	"github.com/wiredesk/wiredesk/index"
)

// Config configures a Store. The zero value of each field but URLs is a
// usable default.
type Config struct {
	// URLs are the cluster's HTTP endpoints, e.g. http://127.0.0.1:9200.
	URLs []string
	// Username and Password, or APIKey, authenticate when set.
	Username, Password, APIKey string
	// Alias is the read alias, the template name and the index prefix.
	// Default DefaultAlias.
	Alias string
	// Replicas per monthly index: 0 (the default) suits a single node.
	Replicas int
	// RetentionDays deletes a month's index that many days after its
	// creation, through ILM; 0 keeps articles forever.
	RetentionDays int
	// RequestTimeout bounds each HTTP request when the context has no
	// earlier deadline. Default 30 s.
	RequestTimeout time.Duration
	// MaxRetries is how often the transport retries a request that got
	// 502, 503 or 504 or no connection, on the next node; default 2,
	// negative disables. Longer outages are the caller's to retry.
	MaxRetries int
	// Transport is the HTTP transport; nil means http.DefaultTransport.
	Transport http.RoundTripper
}

// Store is an Elasticsearch-backed index.Store. It is safe for concurrent
// use.
type Store struct {
	tp      *elastictransport.Client
	alias   string
	cfg     Config
	timeout time.Duration

	// own is the transport New made when Config.Transport was nil; Close
	// closes its idle connections.
	own *http.Transport

	mu      sync.Mutex
	indices map[string]bool // monthly indices known to exist
	closed  bool
}

var _ index.Store = (*Store)(nil)

// ErrClosed is returned after Close.
var ErrClosed = errors.New("esstore: store closed")

// New returns a Store for the cluster at cfg.URLs. It makes no request.
func New(cfg Config) (*Store, error) {
	if len(cfg.URLs) == 0 {
		return nil, errors.New("esstore: no Elasticsearch URL configured")
	}
	var own *http.Transport
	if cfg.Transport == nil {
		own = http.DefaultTransport.(*http.Transport).Clone()
		cfg.Transport = own
	}
	tc := elastictransport.Config{
		Username: cfg.Username, Password: cfg.Password, APIKey: cfg.APIKey,
		Transport:     cfg.Transport,
		RetryOnStatus: []int{http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout},
		MaxRetries:    2,
		RetryBackoff:  func(attempt int) time.Duration { return time.Duration(attempt) * 100 * time.Millisecond },
	}
	switch {
	case cfg.MaxRetries < 0:
		tc.DisableRetry = true
	case cfg.MaxRetries > 0:
		tc.MaxRetries = cfg.MaxRetries
	}
	for _, raw := range cfg.URLs {
		u, err := url.Parse(strings.TrimRight(raw, "/"))
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("esstore: parsing Elasticsearch URL %q: invalid", raw)
		}
		tc.URLs = append(tc.URLs, u)
	}
	tp, err := elastictransport.New(tc)
	if err != nil {
		return nil, fmt.Errorf("esstore: creating transport: %w", err)
	}
	s := &Store{tp: tp, alias: cfg.Alias, cfg: cfg, timeout: cfg.RequestTimeout, indices: map[string]bool{}, own: own}
	if s.alias == "" {
		s.alias = DefaultAlias
	}
	if s.timeout <= 0 {
		s.timeout = 30 * time.Second
	}
	return s, nil
}

// Alias returns the read alias.
func (s *Store) Alias() string { return s.alias }

// IndexFor returns the monthly index an article published at t is first
// written to.
func (s *Store) IndexFor(t time.Time) string {
	return s.alias + "-" + t.UTC().Format("2006.01")
}

// response is a completed HTTP exchange.
type response struct {
	status int
	body   []byte
}

// statusError is an unexpected HTTP status from the engine.
type statusError struct {
	method, path string
	status       int
	body         []byte
}

func (e *statusError) Error() string {
	name, _, _ := strings.Cut(e.path, "?")
	return fmt.Sprintf("esstore: %s %s: status %d: %s", e.method, name, e.status, errorReason(e.body))
}

// errorReason extracts "type: reason" from an Elasticsearch error body.
func errorReason(body []byte) string {
	var e struct {
		Error json.RawMessage `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && len(e.Error) > 0 {
		var d struct {
			Type, Reason string
			CausedBy     *struct{ Type, Reason string } `json:"caused_by"`
		}
		if json.Unmarshal(e.Error, &d) == nil && d.Type != "" {
			s := d.Type + ": " + d.Reason
			if d.CausedBy != nil && d.CausedBy.Reason != "" {
				s += ": " + d.CausedBy.Reason
			}
			return s
		}
		return string(e.Error)
	}
	if len(body) > 300 {
		body = body[:300]
	}
	return string(body)
}

// do sends one request. body may be nil, []byte, or a value to encode as
// JSON. Any status is returned as a response; only transport failures
// are errors.
func (s *Store) do(ctx context.Context, method, path string, body any) (response, error) {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		return response{}, ErrClosed
	}
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
		ctype = "application/x-ndjson"
	default:
		buf, err := json.Marshal(b)
		if err != nil {
			return response{}, fmt.Errorf("encoding request body: %w", err)
		}
		rd = bytes.NewReader(buf)
	}
	name, _, _ := strings.Cut(path, "?") // for messages
	ctx, cancel := context.WithTimeoutCause(ctx, s.timeout,
		fmt.Errorf("esstore: request took longer than %s: %w", s.timeout, context.DeadlineExceeded))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, path, rd)
	if err != nil {
		return response{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	req.Header.Set("Accept", "application/json")
	res, err := s.tp.Perform(req)
	if err != nil {
		if ctx.Err() != nil {
			err = context.Cause(ctx) // which deadline, or why cancelled
		}
		return response{}, fmt.Errorf("%s %s: %w", method, name, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		return response{}, fmt.Errorf("reading response of %s %s: %w", method, name, err)
	}
	return response{status: res.StatusCode, body: b}, nil
}

// call is do for requests that must succeed with 2xx; it decodes the body
// into out when out is not nil.
func (s *Store) call(ctx context.Context, method, path string, body, out any) error {
	res, err := s.do(ctx, method, path, body)
	if err != nil {
		return err
	}
	if res.status < 200 || res.status > 299 {
		return &statusError{method: method, path: path, status: res.status, body: res.body}
	}
	if out != nil {
		if err := json.Unmarshal(res.body, out); err != nil {
			return fmt.Errorf("decoding response of %s %s: %w", method, path, err)
		}
	}
	return nil
}

// Count returns the number of articles behind the alias; 0 before the
// first article is written.
func (s *Store) Count(ctx context.Context) (int, error) {
	var out struct{ Count int }
	err := s.call(ctx, http.MethodGet, "/"+s.alias+"/_count?ignore_unavailable=true&allow_no_indices=true", nil, &out)
	if err != nil {
		return 0, fmt.Errorf("counting articles: %w", err)
	}
	return out.Count, nil
}

// Ping returns nil when the cluster answers and its health is not red.
func (s *Store) Ping(ctx context.Context) error {
	var out struct{ Status string }
	if err := s.call(ctx, http.MethodGet, "/_cluster/health", nil, &out); err != nil {
		return fmt.Errorf("checking cluster health: %w", err)
	}
	if out.Status == "red" {
		return errors.New("esstore: cluster health is red")
	}
	return nil
}

// Refresh makes all written articles visible to search. Tests and the
// demo call it; the indexer does not need to.
func (s *Store) Refresh(ctx context.Context) error {
	if err := s.call(ctx, http.MethodPost, "/"+s.alias+"/_refresh?ignore_unavailable=true&allow_no_indices=true", nil, nil); err != nil {
		return fmt.Errorf("refreshing %s: %w", s.alias, err)
	}
	return nil
}

// Close stops the store from making requests and closes its idle
// connections (those of Config.Transport are the caller's). It is safe to
// call more than once.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.own != nil {
		s.own.CloseIdleConnections()
	}
	return nil
}

func itoa(n int) string { return strconv.Itoa(n) }
