package ingest

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"
)

// corpusDir is shared/feeds-corpus, beside the repository checkout.
const corpusDir = "../../shared/feeds-corpus"

// perFileTimeout bounds one fetch-and-parse; a hang fails the test.
const perFileTimeout = 20 * time.Second

// TestCorpus serves every feed of the shared corpus over loopback HTTP
// (feedparser files with the headers their comments name) and runs Fetch
// on it: nothing may panic or hang, and every failure must be one classified
// line. Where gofeed or feed-rs ship an expected parse, item counts and
// titles are compared and the agreement rate is logged.
func TestCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("corpus run skipped in -short mode")
	}
	if _, err := os.Stat(corpusDir); err != nil {
		t.Skipf("feed corpus not found at %s (it is shared/feeds-corpus beside the repository checkout): %v", corpusDir, err)
	}
	files := corpusInputs(t)
	if len(files) < 100 {
		t.Fatalf("only %d corpus files found", len(files))
	}

	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rel := strings.TrimPrefix(r.URL.Path, "/")
		body, err := os.ReadFile(filepath.Join(corpusDir, filepath.FromSlash(rel)))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		if strings.HasPrefix(rel, "feedparser/") {
			for k, v := range feedparserHeaders(body) {
				w.Header().Set(k, v)
			}
		}
		w.Write(body)
	}))
	defer srv.Close()
	c := newTestClient(t, Options{Timeout: perFileTimeout})

	type outcome struct {
		arts int
		err  error
	}
	var (
		ok, failed int
		byClass    = map[string]int{}
		samples    = map[string][]string{}
		cmp        corpusComparison
	)
	for _, rel := range files {
		done := make(chan outcome, 1)
		go func() {
			res, err := c.Fetch(context.Background(), Feed{ID: "corpus", URL: srv.URL + "/" + rel}, Validators{})
			done <- outcome{len(res.Articles), err}
		}()
		var o outcome
		select {
		case o = <-done:
		case <-time.After(perFileTimeout + 5*time.Second):
			t.Fatalf("%s: fetch and parse did not finish in %s", rel, perFileTimeout)
		}
		if o.err != nil {
			failed++
			class := ErrorClass(o.err)
			byClass[class]++
			if len(samples[class]) < 4 {
				samples[class] = append(samples[class], rel+": "+strings.ReplaceAll(o.err.Error(), srv.URL+"/", ""))
			}
			if strings.ContainsAny(o.err.Error(), "\r\n") {
				t.Errorf("%s: error is not one line: %q", rel, o.err)
			}
			if class == ClassOther {
				t.Errorf("%s: unclassified error: %v", rel, o.err)
			}
		} else {
			ok++
		}
		cmp.check(t, rel, o.err)
	}
	t.Logf("corpus: %d files, %d parsed, %d failed", len(files), ok, failed)
	for class, n := range byClass {
		t.Logf("  failed with class %s: %d, e.g.", class, n)
		for _, s := range samples[class] {
			t.Logf("    %s", s)
		}
	}
	cmp.report(t)
}

// corpusInputs lists feed documents, leaving out README files and the
// expected-output files of gofeed (X.json beside X.xml, X_expected.json)
// and feed-rs (X.serde.json).
func corpusInputs(t *testing.T) []string {
	var out []string
	err := filepath.WalkDir(corpusDir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(corpusDir, path)
		rel = filepath.ToSlash(rel)
		if expectedOutputFor(rel) != "" || strings.HasSuffix(rel, ".md") {
			return nil
		}
		out = append(out, rel)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(out)
	return out
}

// expectedOutputFor returns the input that rel is the expected output of,
// or "" when rel is an input.
func expectedOutputFor(rel string) string {
	switch {
	case strings.HasSuffix(rel, ".serde.json"):
		return strings.TrimSuffix(rel, ".serde.json")
	case strings.HasPrefix(rel, "gofeed/") && strings.HasSuffix(rel, "_expected.json"):
		return strings.TrimSuffix(rel, "_expected.json") + ".json"
	case strings.HasPrefix(rel, "gofeed/") && strings.HasSuffix(rel, ".json"):
		x := strings.TrimSuffix(rel, ".json") + ".xml"
		if _, err := os.Stat(filepath.Join(corpusDir, x)); err == nil {
			return x
		}
	}
	return ""
}

var headerLineRe = regexp.MustCompile(`(?m)^Header:\s*([A-Za-z-]+):\s*(.*?)\s*$`)

// feedparserHeaders reads "Header: Name: value" lines from the leading
// comment of a feedparser test file.
func feedparserHeaders(body []byte) map[string]string {
	end := bytes.Index(body, []byte("-->"))
	if end < 0 {
		return nil
	}
	out := map[string]string{}
	for _, m := range headerLineRe.FindAllSubmatch(body[:end], -1) {
		out[string(m[1])] = string(m[2])
	}
	return out
}

// corpusComparison compares our parse with the expected outputs shipped
// by gofeed and feed-rs.
type corpusComparison struct {
	compared, agree       int
	agreeKept             int // agreement once items we drop by design are discounted
	titlesCompared, title int
	classes               map[string][]string
}

func (c *corpusComparison) check(t *testing.T, rel string, fetchErr error) {
	var exp string
	var oracle string
	switch {
	case strings.HasPrefix(rel, "gofeed/"):
		oracle = "gofeed"
		if strings.HasSuffix(rel, ".xml") {
			exp = strings.TrimSuffix(rel, ".xml") + ".json"
		} else if strings.HasSuffix(rel, ".json") {
			exp = strings.TrimSuffix(rel, ".json") + "_expected.json"
		}
	case strings.HasPrefix(rel, "feed-rs/"):
		oracle = "feed-rs"
		exp = strings.TrimSuffix(rel, filepath.Ext(rel)) + ".serde.json"
	}
	if exp == "" {
		return
	}
	data, err := os.ReadFile(filepath.Join(corpusDir, exp))
	if err != nil {
		return
	}
	wantTitles, keep, ok := expectedItems(data)
	if !ok {
		return
	}
	if c.classes == nil {
		c.classes = map[string][]string{}
	}
	c.compared++
	body, _ := os.ReadFile(filepath.Join(corpusDir, rel))
	var ct string
	arts, perr := Parse(Feed{ID: "corpus", URL: "http://corpus.test/" + rel}, body, ct, testNow)
	switch {
	case perr != nil && len(wantTitles) == 0:
		// The oracle found an empty or invalid feed; we refused it.
		c.agree++
		c.agreeKept++
		return
	case perr != nil:
		c.add(oracle+": we fail to parse ("+ErrorClass(perr)+")", rel, fmt.Sprintf("want %d items: %v", len(wantTitles), perr))
		return
	case len(arts) == len(wantTitles):
		c.agree++
		c.agreeKept++
	case len(arts) == keep:
		c.agreeKept++
		c.add(oracle+": oracle items without title, link, GUID or text, which we drop by design", rel, fmt.Sprintf("ours %d, want %d", len(arts), len(wantTitles)))
	default:
		raw := universalCount(body)
		switch {
		case len(arts) < len(wantTitles) && raw == len(wantTitles):
			c.add(oracle+": items dropped by normalisation (no link, GUID, title or text; or a repeated id)", rel, fmt.Sprintf("ours %d, want %d", len(arts), len(wantTitles)))
		case raw == len(arts):
			c.add(oracle+": gofeed's universal parser differs from the oracle", rel, fmt.Sprintf("ours %d, want %d", len(arts), len(wantTitles)))
		default:
			c.add(oracle+": other", rel, fmt.Sprintf("ours %d, gofeed universal %d, want %d", len(arts), raw, len(wantTitles)))
		}
	}
	if len(arts) == len(wantTitles) {
		for i, w := range wantTitles {
			if w == "" {
				continue
			}
			c.titlesCompared++
			if arts[i].Title == collapseSpace(htmlText(w)) || arts[i].Title == collapseSpace(w) {
				c.title++
			} else if len(c.classes["title mismatch"]) < 1000 {
				c.add("title mismatch", rel, fmt.Sprintf("%q vs %q", arts[i].Title, w))
			}
		}
	}
	_ = fetchErr
}

func (c *corpusComparison) add(class, rel, detail string) {
	c.classes[class] = append(c.classes[class], rel+" ("+detail+")")
}

func (c *corpusComparison) report(t *testing.T) {
	if c.compared == 0 {
		t.Log("no expected outputs found to compare with")
		return
	}
	t.Logf("item counts agree with the expected output for %d of %d feeds (%.1f%%)", c.agree, c.compared, 100*float64(c.agree)/float64(c.compared))
	t.Logf("... and for %d of %d feeds (%.1f%%) once oracle items without title, link, GUID or text (which Parse drops by design) are discounted", c.agreeKept, c.compared, 100*float64(c.agreeKept)/float64(c.compared))
	if c.titlesCompared > 0 {
		t.Logf("titles agree for %d of %d items compared (%.1f%%)", c.title, c.titlesCompared, 100*float64(c.title)/float64(c.titlesCompared))
	}
	keys := make([]string, 0, len(c.classes))
	for k := range c.classes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := c.classes[k]
		t.Logf("  %s: %d", k, len(v))
		for _, s := range v[:min(len(v), 5)] {
			t.Logf("    %s", s)
		}
	}
}

// expectedTitles reads item titles from a gofeed (items/entries) or
// feed-rs (entries with title.content) expected-output file.
func expectedTitles(data []byte) ([]string, bool) {
	titles, _, ok := expectedItems(data)
	return titles, ok
}

// identityKeys are the item fields without which we drop an item.
var identityKeys = []string{"title", "link", "links", "guid", "id", "description", "summary", "content"}

// expectedItems returns the expected titles and how many expected items
// have a title, link, GUID/id or text (the items we keep).
func expectedItems(data []byte) ([]string, int, bool) {
	var doc map[string]json.RawMessage
	if json.Unmarshal(data, &doc) != nil {
		return nil, 0, false
	}
	raw, ok := doc["items"]
	if !ok {
		if raw, ok = doc["entries"]; !ok {
			// A gofeed expected file without items: an empty feed.
			if _, isFeed := doc["version"]; isFeed {
				return nil, 0, true
			}
			return nil, 0, false
		}
	}
	var items []map[string]json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil, 0, string(bytes.TrimSpace(raw)) == "null"
	}
	titles := make([]string, len(items))
	identifiable := 0
	for i, it := range items {
		for _, k := range identityKeys {
			if v := string(bytes.TrimSpace(it[k])); v != "" && v != `""` && v != "null" && v != "[]" && v != "{}" && v != `{"value":""}` {
				identifiable++
				break
			}
		}
		var s string
		if json.Unmarshal(it["title"], &s) == nil {
			titles[i] = s
			continue
		}
		var obj struct {
			Content string `json:"content"`
		}
		if json.Unmarshal(it["title"], &obj) == nil {
			titles[i] = obj.Content
		}
	}
	return titles, identifiable, true
}

func universalCount(body []byte) int {
	f, err := gofeed.NewParser().Parse(bufio.NewReader(bytes.NewReader(body)))
	if err != nil {
		return -1
	}
	return len(f.Items)
}

// TestCorpusUndeclaredKOI8R: feedparser's chardet fixture is KOI8-R with no
// charset anywhere; the guess must still produce Russian text.
func TestCorpusUndeclaredKOI8R(t *testing.T) {
	path := filepath.Join(corpusDir, "feedparser/tests/illformed/chardet/koi8r.xml")
	body, err := os.ReadFile(path)
	if err != nil {
		t.Skipf("corpus file not found (shared/feeds-corpus beside the checkout): %v", err)
	}
	arts, err := Parse(Feed{ID: "koi8r", URL: "http://corpus.test/koi8r.xml"}, body, "", testNow)
	if err != nil || len(arts) != 1 {
		t.Fatalf("%d articles, %v", len(arts), err)
	}
	cyrillic := 0
	for _, r := range arts[0].Title {
		if r >= 'А' && r <= 'я' {
			cyrillic++
		}
	}
	if cyrillic < 10 {
		t.Errorf("title is not Russian: %q", arts[0].Title)
	}
}
