// Package kibana imports saved objects (data views, saved searches,
// visualisations, dashboards) into Kibana through its saved-objects import
// API. It knows nothing about which objects: wiredesk's own are embedded
// by package deploy/kibana.
package kibana

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"time"
)

// Target is the Kibana to import into.
type Target struct {
	// URL is Kibana's base URL, e.g. http://127.0.0.1:5601. A space is
	// chosen by its path: https://kibana.example/s/newsroom.
	URL string
	// Username and Password (basic auth), or APIKey (an Elasticsearch API
	// key, sent as "Authorization: ApiKey …"), authenticate when set.
	Username, Password, APIKey string
	// HTTPClient sends the request; nil means a client with a 60 s
	// timeout over http.DefaultTransport.
	HTTPClient *http.Client
	// RetryDelay is the first wait before retrying an unavailable Kibana
	// (503 "Kibana server is not ready yet", or no connection); it doubles
	// up to 5 s. Zero means 1 s.
	RetryDelay time.Duration
}

// Result is what Kibana reported for a successful import.
type Result struct {
	// Imported is Kibana's successCount.
	Imported int
}

// ObjectError is one saved object Kibana refused to import.
type ObjectError struct {
	Type, ID, Title string
	// Kind is Kibana's error type: "conflict", "missing_references",
	// "unsupported_type", "unknown"…
	Kind    string
	Message string
	// Missing lists "type/id" of references that do not exist, for
	// Kind "missing_references".
	Missing []string
}

func (e ObjectError) String() string {
	s := e.Type + "/" + e.ID
	if e.Title != "" {
		s += " (" + e.Title + ")"
	}
	s += ": " + e.Kind
	if e.Message != "" {
		s += ": " + e.Message
	}
	if len(e.Missing) > 0 {
		s += ": missing " + strings.Join(e.Missing, ", ")
	}
	return s
}

// ImportError reports an import Kibana answered but did not complete:
// some objects, listed in Objects, were not imported.
type ImportError struct {
	Imported int
	Objects  []ObjectError
}

func (e *ImportError) Error() string {
	parts := make([]string, len(e.Objects))
	for i, o := range e.Objects {
		parts[i] = o.String()
	}
	return fmt.Sprintf("kibana: %d objects imported, %d failed: %s", e.Imported, len(e.Objects), strings.Join(parts, "; "))
}

// StatusError is an HTTP status other than 200 from the import API.
type StatusError struct {
	Status  int
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("kibana: import API answered status %d: %s", e.Status, e.Message)
}

// ErrNoObjects is returned for an empty NDJSON file.
var ErrNoObjects = errors.New("kibana: no saved objects to import")

// Import uploads ndjson, a saved-objects export (one JSON object per
// line), to POST /api/saved_objects/_import?overwrite=true, so that
// objects with the same type and id are replaced: importing the same file
// twice leaves Kibana as after the first import.
//
// While Kibana is starting (503) or refuses connections, Import retries
// with backoff until ctx is done; the context bounds the whole call. Any
// other failure returns at once: a *StatusError for an unexpected status,
// an *ImportError when Kibana imported only some objects.
func Import(ctx context.Context, t Target, ndjson []byte) (Result, error) {
	if len(bytes.TrimSpace(ndjson)) == 0 {
		return Result{}, ErrNoObjects
	}
	u, err := url.Parse(strings.TrimRight(t.URL, "/"))
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return Result{}, fmt.Errorf("kibana: parsing Kibana URL %q: want http(s)://host[:port][/s/space]", t.URL)
	}
	endpoint := u.String() + "/api/saved_objects/_import?overwrite=true"
	body, ctype, err := multipartBody(ndjson)
	if err != nil {
		return Result{}, err
	}
	client := t.HTTPClient
	if client == nil {
		client = &http.Client{Timeout: 60 * time.Second}
	}
	delay := t.RetryDelay
	if delay <= 0 {
		delay = time.Second
	}
	var last error // the last retryable failure
	for attempt := 1; ; attempt++ {
		res, err := post(ctx, client, endpoint, t, body, ctype)
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil && last != nil {
			// The deadline cut a retry short: report why we were retrying.
			return Result{}, fmt.Errorf("kibana: giving up after %d attempts: %w (last: %w)", attempt, context.Cause(ctx), last)
		}
		if !retryable(err) || ctx.Err() != nil {
			return Result{}, err
		}
		last = err
		timer := time.NewTimer(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return Result{}, fmt.Errorf("kibana: giving up after %d attempts: %w (last: %w)", attempt, context.Cause(ctx), err)
		case <-timer.C:
		}
		delay = min(2*delay, 5*time.Second)
	}
}

// retryable reports a Kibana that is starting or not reachable yet.
func retryable(err error) bool {
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status == http.StatusServiceUnavailable
	}
	var ie *ImportError
	return !errors.As(err, &ie) // transport errors
}

func multipartBody(ndjson []byte) ([]byte, string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	h := make(textproto.MIMEHeader)
	// Kibana checks the file name's extension: it must be .ndjson.
	h.Set("Content-Disposition", `form-data; name="file"; filename="wiredesk.ndjson"`)
	h.Set("Content-Type", "application/ndjson")
	part, err := w.CreatePart(h)
	if err != nil {
		return nil, "", fmt.Errorf("kibana: building request: %w", err)
	}
	part.Write(ndjson)
	if len(ndjson) > 0 && ndjson[len(ndjson)-1] != '\n' {
		part.Write([]byte{'\n'})
	}
	if err := w.Close(); err != nil {
		return nil, "", fmt.Errorf("kibana: building request: %w", err)
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}

func post(ctx context.Context, client *http.Client, endpoint string, t Target, body []byte, ctype string) (Result, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return Result{}, fmt.Errorf("kibana: building request: %w", err)
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("kbn-xsrf", "wiredesk")
	req.Header.Set("Accept", "application/json")
	switch {
	case t.APIKey != "":
		req.Header.Set("Authorization", "ApiKey "+t.APIKey)
	case t.Username != "":
		req.SetBasicAuth(t.Username, t.Password)
	}
	res, err := client.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("kibana: posting saved objects: %w", err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return Result{}, fmt.Errorf("kibana: reading import response: %w", err)
	}
	if res.StatusCode != http.StatusOK {
		var e struct{ Message string }
		msg := strings.TrimSpace(string(raw))
		if json.Unmarshal(raw, &e) == nil && e.Message != "" {
			msg = e.Message
		}
		if len(msg) > 500 {
			msg = msg[:500] + "…"
		}
		return Result{}, &StatusError{Status: res.StatusCode, Message: msg}
	}
	var out struct {
		Success      bool `json:"success"`
		SuccessCount int  `json:"successCount"`
		Errors       []struct {
			ID    string `json:"id"`
			Type  string `json:"type"`
			Title string `json:"title"`
			Meta  struct {
				Title string `json:"title"`
			} `json:"meta"`
			Error struct {
				Type       string `json:"type"`
				Message    string `json:"message"`
				References []struct {
					Type string `json:"type"`
					ID   string `json:"id"`
				} `json:"references"`
			} `json:"error"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return Result{}, fmt.Errorf("kibana: decoding import response: %w", err)
	}
	if out.Success && len(out.Errors) == 0 {
		return Result{Imported: out.SuccessCount}, nil
	}
	ie := &ImportError{Imported: out.SuccessCount}
	for _, e := range out.Errors {
		oe := ObjectError{Type: e.Type, ID: e.ID, Title: e.Title, Kind: e.Error.Type, Message: e.Error.Message}
		if oe.Title == "" {
			oe.Title = e.Meta.Title
		}
		for _, r := range e.Error.References {
			oe.Missing = append(oe.Missing, r.Type+"/"+r.ID)
		}
		ie.Objects = append(ie.Objects, oe)
	}
	if len(ie.Objects) == 0 {
		ie.Objects = []ObjectError{{Kind: "unknown", Message: "Kibana reported success=false without errors"}}
	}
	return Result{}, ie
}
