package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wiredesk/wiredesk/cmd/internal/cli"
	"github.com/wiredesk/wiredesk/cmd/internal/embedded"
	"github.com/wiredesk/wiredesk/cmd/internal/fetcher"
	"github.com/wiredesk/wiredesk/ingest"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// corpusDir is shared/feeds-corpus beside the repository checkout.
const corpusDir = "../../../../shared/feeds-corpus"

func runCLI(args ...string) (code int, stdout, stderr string) {
	var out, errs bytes.Buffer
	code = cli.Main(args, nil, &out, &errs)
	return code, out.String(), errs.String()
}

// TestFeedsCheckCorpus runs `wiredesk feeds check FILE` on every file of
// the shared feed corpus and checks that it agrees with ingest.Parse: the
// same articles (id, revision, title, url) as JSON lines and exit 0, or
// exit 1 with Parse's error as one line on stderr and nothing on stdout.
func TestFeedsCheckCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus run skipped in -short mode")
	}
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("feed corpus not found at %s (it is shared/feeds-corpus beside the repository checkout): %v", corpusDir, err)
	}
	const feedURL = "https://corpus.example/feed"
	var files, failed int
	err := filepath.WalkDir(corpusDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(path, ".md") {
			return err
		}
		files++
		body, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if len(body) > ingest.DefaultMaxBodyBytes {
			return nil // check refuses it as too large; Parse has no cap
		}
		rel, _ := filepath.Rel(corpusDir, path)
		want, perr := ingest.Parse(ingest.Feed{ID: "check", Name: "check", URL: feedURL}, body, "", time.Now())
		code, stdout, stderr := runCLI("feeds", "check", "-url", feedURL, path)
		if perr != nil {
			failed++
			if code != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, perr.Error()) {
				t.Errorf("%s: Parse fails with %q; check exited %d, stdout %d bytes, stderr %q", rel, perr, code, len(stdout), stderr)
			}
			return nil
		}
		if code != 0 {
			t.Errorf("%s: Parse succeeds; check exited %d: %s", rel, code, stderr)
			return nil
		}
		lines := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
		if stdout == "" {
			lines = nil
		}
		if len(lines) != len(want) {
			t.Errorf("%s: check printed %d lines, Parse found %d articles", rel, len(lines), len(want))
			return nil
		}
		for i, line := range lines {
			var got article.Raw
			if err := json.Unmarshal([]byte(line), &got); err != nil {
				t.Errorf("%s: line %d is not an article: %v", rel, i+1, err)
				return nil
			}
			w := want[i]
			if got.ID != w.ID || got.Revision != w.Revision || got.Title != w.Title || got.URL != w.URL || got.Body != w.Body {
				t.Errorf("%s: article %d differs: check %s/%s %q, Parse %s/%s %q", rel, i, got.ID, got.Revision, got.Title, w.ID, w.Revision, w.Title)
				return nil
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Fatalf("only %d corpus files found", files)
	}
	t.Logf("%d corpus files: check agreed with Parse on all (%d of them fail to parse)", files, failed)
}

// TestFeedsCheckURL fetches a feed from loopback: the SSRF guard refuses
// it unless -allow names the address, and the target sees no connection
// while it is refused.
func TestFeedsCheckURL(t *testing.T) {
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprint(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>T</title><link>https://t.example/</link>
<item><title>One</title><link>/a/1?utm_source=rss</link><pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate></item>
<item><title>Two</title><link>/a/2</link></item></channel></rss>`)
	}))
	defer srv.Close()

	code, stdout, stderr := runCLI("feeds", "check", srv.URL+"/feed")
	if code != 1 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "address blocked") {
		t.Errorf("guarded check: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if hits.Load() != 0 {
		t.Fatalf("the guard let %d requests through", hits.Load())
	}
	code, stdout, stderr = runCLI("feeds", "check", "-allow", "127.0.0.1", "-id", "t", srv.URL+"/feed")
	if code != 0 {
		t.Fatalf("allowed check: exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 2 {
		t.Fatalf("printed %d lines:\n%s", len(lines), stdout)
	}
	var a article.Raw
	if err := json.Unmarshal([]byte(lines[0]), &a); err != nil {
		t.Fatal(err)
	}
	if a.URL != "https://t.example/a/1" || a.Source != "t" || a.PublishedFrom != "feed" {
		t.Errorf("first article: %+v", a)
	}
}

func TestFeedsUsage(t *testing.T) {
	for _, args := range [][]string{
		{"feeds"}, {"feeds", "frobnicate"}, {"feeds", "check"}, {"feeds", "check", "a", "b"},
		{"feeds", "import-opml"}, {"feeds", "status", "extra"}, {"feeds", "check", "-allow", "10.0.0.0/33", "https://x.example/"},
	} {
		if code, _, stderr := runCLI(args...); code != 2 {
			t.Errorf("%v exited %d, want 2: %s", args, code, stderr)
		}
	}
	if code, _, _ := runCLI("feeds", "check", filepath.Join(t.TempDir(), "missing.xml")); code != 1 {
		t.Errorf("missing file exited %d, want 1", code)
	}
}

// TestFeedsImportOPML: the fragment loads as a registry and holds the
// OPML's feeds as ingest.ParseOPML reads them.
func TestFeedsImportOPML(t *testing.T) {
	const fixture = "testdata/subscriptions.opml"
	code, stdout, stderr := runCLI("feeds", "import-opml", fixture)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	got, err := ingest.ParseRegistry([]byte(stdout), nil)
	if err != nil {
		t.Fatalf("the fragment is not a valid registry: %v\n%s", err, stdout)
	}
	fh, err := os.Open(fixture)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	want, err := ingest.ParseOPML(fh)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || len(got) != len(want) {
		t.Fatalf("got %d feeds, want 3 (%d from ParseOPML):\n%s", len(got), len(want), stdout)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.URL != w.URL || g.Name != w.Name || g.Lang != w.Lang || strings.Join(g.Tags, ",") != strings.Join(w.Tags, ",") {
			t.Errorf("feed %d: got %+v, want %+v", i, g, w)
		}
	}
	if !strings.Contains(stdout, "Новости предгорий") {
		t.Errorf("non-ASCII name not kept:\n%s", stdout)
	}
}

// TestFeedsStatus reads feed state from an embedded NATS server.
func TestFeedsStatus(t *testing.T) {
	ns, err := embedded.StartNATS(embedded.NATSOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	url := ns.ClientURL()

	code, stdout, stderr := runCLI("feeds", "status", "-nats", url)
	if code != 0 || !strings.Contains(stdout, "No feed state yet") {
		t.Fatalf("empty server: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}

	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: fetcher.BucketState})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	put := func(id string, st fetcher.State) {
		data, _ := json.Marshal(st)
		if _, err := kv.Put(ctx, id, data); err != nil {
			t.Fatal(err)
		}
	}
	put("oc-media", fetcher.State{LastAttempt: now, LastSuccess: now.Add(-time.Minute), NextPoll: now.Add(10 * time.Minute)})
	put("armenpress-en", fetcher.State{LastAttempt: now, LastSuccess: now.Add(-3 * time.Hour), Errors: 4,
		ErrorClass: ingest.ClassHTTP5xx, LastError: "fetching \"https://armenpress.example/rss\": ingest: http status 503 Service Unavailable", NextPoll: now.Add(40 * time.Minute)})
	put("new-feed", fetcher.State{LastAttempt: now, Errors: 1, ErrorClass: ingest.ClassDNS, NextPoll: now.Add(time.Minute)})

	code, stdout, stderr = runCLI("feeds", "status", "-nats", url)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	lines := strings.Split(strings.TrimSpace(stdout), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "FEED") {
		t.Fatalf("table:\n%s", stdout)
	}
	for i, want := range [][]string{
		{"armenpress-en", "failing", "ago", " 4 ", "http_5xx", "in ", "http status 503"},
		{"new-feed", "failing", "never", " 1 ", "dns"},
		{"oc-media", "ok", "ago", " 0 ", "in "},
	} {
		for _, w := range want {
			if !strings.Contains(lines[i+1], w) {
				t.Errorf("row %d lacks %q: %s", i+1, w, lines[i+1])
			}
		}
	}

	ns.Shutdown()
	ns.WaitForShutdown()
	if code, _, stderr := runCLI("feeds", "status", "-nats", url, "-timeout", "2s"); code != 1 || strings.Count(stderr, "\n") != 1 {
		t.Errorf("server down: exit %d, stderr %q", code, stderr)
	}
}
