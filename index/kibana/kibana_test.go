package kibana_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/wiredesk/wiredesk/index/kibana"
)

// fakeKibana is an HTTP FAKE of Kibana's saved-objects import API, not
// Kibana: it checks the request the way Kibana does (kbn-xsrf header,
// multipart field "file" with a .ndjson name, one JSON object per line)
// and stores the objects by type and id, so overwriting can be seen. It
// answers 503 for the first `starting` requests, as Kibana does while it
// starts.
type fakeKibana struct {
	*httptest.Server
	t *testing.T

	mu       sync.Mutex
	starting int
	requests int
	objects  map[string]string // "type/id" -> title
	lastAuth string
	lastPath string
	// refuse makes the fake report these "type/id" as failed.
	refuse map[string]bool
}

func newFakeKibana(t *testing.T) *fakeKibana {
	f := &fakeKibana{t: t, objects: map[string]string{}, refuse: map[string]bool{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeKibana) fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"statusCode": status, "error": http.StatusText(status), "message": msg})
}

func (f *fakeKibana) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	f.lastAuth = r.Header.Get("Authorization")
	f.lastPath = r.URL.Path
	if f.starting > 0 {
		f.starting--
		f.fail(w, http.StatusServiceUnavailable, "Kibana server is not ready yet")
		return
	}
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/api/saved_objects/_import") {
		f.fail(w, http.StatusNotFound, "Not Found")
		return
	}
	if r.Header.Get("kbn-xsrf") == "" {
		f.fail(w, http.StatusBadRequest, "Request must contain a kbn-xsrf header.")
		return
	}
	if r.URL.Query().Get("overwrite") != "true" {
		f.fail(w, http.StatusBadRequest, "fake: wiredesk always imports with overwrite=true")
		return
	}
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		f.fail(w, http.StatusUnsupportedMediaType, "Unsupported Media Type")
		return
	}
	if err := r.ParseMultipartForm(32 << 20); err != nil {
		f.fail(w, http.StatusBadRequest, err.Error())
		return
	}
	file, hdr, err := r.FormFile("file")
	if err != nil {
		f.fail(w, http.StatusBadRequest, "[request body.file]: expected value of type [Stream] but got [undefined]")
		return
	}
	if !strings.HasSuffix(hdr.Filename, ".ndjson") {
		f.fail(w, http.StatusBadRequest, "Invalid file extension "+hdr.Filename)
		return
	}
	data, _ := io.ReadAll(file)
	type objErr struct {
		ID    string         `json:"id"`
		Type  string         `json:"type"`
		Title string         `json:"title"`
		Error map[string]any `json:"error"`
	}
	var errs []objErr
	n := 0
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		var o struct {
			ID, Type   string
			Attributes struct{ Title string }
		}
		if err := json.Unmarshal([]byte(line), &o); err != nil || o.ID == "" || o.Type == "" {
			f.fail(w, http.StatusBadRequest, "fake: line is not a saved object: "+line)
			return
		}
		if f.refuse[o.Type+"/"+o.ID] {
			errs = append(errs, objErr{ID: o.ID, Type: o.Type, Title: o.Attributes.Title, Error: map[string]any{
				"type": "missing_references", "references": []map[string]string{{"type": "index-pattern", "id": "gone"}}}})
			continue
		}
		f.objects[o.Type+"/"+o.ID] = o.Attributes.Title
		n++
	}
	w.Header().Set("Content-Type", "application/json")
	out := map[string]any{"success": len(errs) == 0, "successCount": n}
	if len(errs) > 0 {
		out["errors"] = errs
	}
	json.NewEncoder(w).Encode(out)
}

const objects = `{"type":"index-pattern","id":"wd-view","attributes":{"title":"wiredesk-articles"},"references":[]}
{"type":"search","id":"wd-search","attributes":{"title":"Landmines"},"references":[{"type":"index-pattern","id":"wd-view","name":"kibanaSavedObjectMeta.searchSourceJSON.index"}]}`

func TestImportRequestShape(t *testing.T) {
	f := newFakeKibana(t)
	res, err := kibana.Import(context.Background(), kibana.Target{URL: f.URL + "/", Username: "elastic", Password: "s3cret"}, []byte(objects))
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 2 {
		t.Errorf("imported %d objects, want 2", res.Imported)
	}
	if !strings.HasPrefix(f.lastAuth, "Basic ") {
		t.Errorf("Authorization = %q, want basic auth", f.lastAuth)
	}
	if f.objects["search/wd-search"] != "Landmines" {
		t.Errorf("fake holds %v", f.objects)
	}
	// Twice: overwrite, same objects, no error.
	if _, err := kibana.Import(context.Background(), kibana.Target{URL: f.URL}, []byte(objects)); err != nil {
		t.Fatalf("second import: %v", err)
	}
	if len(f.objects) != 2 {
		t.Errorf("after two imports the fake holds %d objects, want 2", len(f.objects))
	}
}

func TestImportSpaceAndAPIKey(t *testing.T) {
	f := newFakeKibana(t)
	if _, err := kibana.Import(context.Background(), kibana.Target{URL: f.URL + "/s/newsroom", APIKey: "a2V5"}, []byte(objects)); err != nil {
		t.Fatal(err)
	}
	if f.lastPath != "/s/newsroom/api/saved_objects/_import" {
		t.Errorf("path = %q, want the space's import API", f.lastPath)
	}
	if f.lastAuth != "ApiKey a2V5" {
		t.Errorf("Authorization = %q, want ApiKey", f.lastAuth)
	}
}

func TestImportWaitsForKibanaToStart(t *testing.T) {
	f := newFakeKibana(t)
	f.starting = 2
	res, err := kibana.Import(context.Background(), kibana.Target{URL: f.URL, RetryDelay: 10 * time.Millisecond}, []byte(objects))
	if err != nil {
		t.Fatal(err)
	}
	if res.Imported != 2 || f.requests != 3 {
		t.Errorf("imported %d in %d requests, want 2 in 3", res.Imported, f.requests)
	}
}

func TestImportGivesUpWhenContextEnds(t *testing.T) {
	f := newFakeKibana(t)
	f.starting = 1 << 30
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := kibana.Import(ctx, kibana.Target{URL: f.URL, RetryDelay: 10 * time.Millisecond}, []byte(objects))
	var se *kibana.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusServiceUnavailable {
		t.Fatalf("err = %v, want the last 503", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want it to say the deadline passed", err)
	}
}

func TestImportReportsRefusedObjects(t *testing.T) {
	f := newFakeKibana(t)
	f.refuse["search/wd-search"] = true
	_, err := kibana.Import(context.Background(), kibana.Target{URL: f.URL, RetryDelay: time.Millisecond}, []byte(objects))
	var ie *kibana.ImportError
	if !errors.As(err, &ie) {
		t.Fatalf("err = %v, want *ImportError", err)
	}
	if ie.Imported != 1 || len(ie.Objects) != 1 || ie.Objects[0].ID != "wd-search" || ie.Objects[0].Kind != "missing_references" {
		t.Errorf("ImportError = %+v", ie)
	}
	if !strings.Contains(err.Error(), "index-pattern/gone") {
		t.Errorf("error %q does not name the missing reference", err)
	}
	if f.requests != 1 {
		t.Errorf("%d requests: a refused object must not be retried", f.requests)
	}
}

func TestImportBadInput(t *testing.T) {
	if _, err := kibana.Import(context.Background(), kibana.Target{URL: "http://127.0.0.1:1"}, []byte("  \n")); !errors.Is(err, kibana.ErrNoObjects) {
		t.Errorf("empty file: err = %v", err)
	}
	if _, err := kibana.Import(context.Background(), kibana.Target{URL: "localhost:5601"}, []byte(objects)); err == nil {
		t.Error("URL without scheme accepted")
	}
	f := newFakeKibana(t)
	_, err := kibana.Import(context.Background(), kibana.Target{URL: f.URL}, []byte("{not json"))
	var se *kibana.StatusError
	if !errors.As(err, &se) || se.Status != http.StatusBadRequest {
		t.Errorf("malformed NDJSON: err = %v, want Kibana's 400", err)
	}
}
