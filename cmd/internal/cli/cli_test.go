package cli_test

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/wiredesk/wiredesk/cmd/internal/cli"
)

// TestDemoThenSearch runs the README's first command and the searches it
// suggests, as a newcomer would.
func TestDemoThenSearch(t *testing.T) {
	data := t.TempDir()
	var out, errs bytes.Buffer
	if code := cli.Main([]string{"demo", "-data", data}, nil, &out, &errs); code != 0 {
		t.Fatalf("demo exited %d\nstdout:\n%s\nstderr:\n%s", code, out.String(), errs.String())
	}
	for _, want := range []string{"fetched caucasus-wire", "50 articles in the index", "wiredesk search Lachin"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("demo output lacks %q:\n%s", want, out.String())
		}
	}

	search := func(args ...string) string {
		t.Helper()
		var out, errs bytes.Buffer
		if code := cli.Main(append([]string{"search", "-data", data}, args...), nil, &out, &errs); code != 0 {
			t.Fatalf("search %v exited %d: %s", args, code, errs.String())
		}
		return out.String()
	}
	got := search("Lachin")
	if !strings.Contains(got, "articles found") || !strings.Contains(got, "«Lachin»") || !strings.Contains(got, "topics:") {
		t.Errorf("search Lachin printed no highlighted, tagged hits:\n%s", got)
	}
	got = search("-entity", "Khankendi", "-n", "50")
	if !strings.Contains(got, "Stepanakert") {
		t.Errorf("search -entity Khankendi did not find the Stepanakert stories:\n%s", got)
	}
	if got := search("-topic", "landmines", "-n", "50"); strings.Contains(got, "coal mine") {
		t.Errorf("the coal-mine story is tagged landmines:\n%s", got)
	}

	// A second demo run fetches the same feeds and republishes nothing.
	out.Reset()
	if code := cli.Main([]string{"demo", "-data", data}, nil, &out, &errs); code != 0 {
		t.Fatalf("second demo exited %d: %s", code, errs.String())
	}
	if !strings.Contains(out.String(), "0 published this run; 50 articles in the index") {
		t.Errorf("second demo run changed the index:\n%s", out.String())
	}
}

func TestUsageErrors(t *testing.T) {
	var out, errs bytes.Buffer
	if code := cli.Main([]string{"frobnicate"}, nil, &out, &errs); code != 2 {
		t.Errorf("unknown command exited %d, want 2", code)
	}
	if code := cli.Main([]string{"search", "-sort", "sideways", "x"}, nil, &out, &errs); code != 2 {
		t.Errorf("bad sort exited %d, want 2", code)
	}
	if code := cli.Main([]string{"run", "-config", "does-not-exist.yaml"}, nil, &out, &errs); code != 2 {
		t.Errorf("missing config exited %d, want 2", code)
	}
}

// TestEnrichFilter checks the JSON-lines filter: one output line per input
// line, in order, with an error object for a bad line.
func TestEnrichFilter(t *testing.T) {
	in := strings.Join([]string{
		`{"url":"https://news.example/a?utm_source=x","title":"Deminers clear anti-tank mines near Fuzuli","body":"<p>Azerbaijani deminers from ANAMA cleared anti-tank mines outside Fuzuli in Karabakh on Monday.</p>"}`,
		`{"title": not json`,
		``,
		`{"title":"Coal mine blast kills two in Silesia","body":"A methane explosion at a coal mine in southern Poland killed two miners."}`,
	}, "\n")
	var out, errs bytes.Buffer
	if code := cli.Main([]string{"enrich"}, strings.NewReader(in), &out, &errs); code != 0 {
		t.Fatalf("enrich exited %d: %s", code, errs.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 4 {
		t.Fatalf("got %d output lines for 4 input lines:\n%s", len(lines), out.String())
	}
	type result struct {
		Error    string `json:"error"`
		URL      string `json:"url"`
		Relevant bool   `json:"relevant"`
		Topics   []struct {
			ID string `json:"id"`
		} `json:"topics"`
	}
	var rs []result
	for _, l := range lines {
		var r result
		if err := json.Unmarshal([]byte(l), &r); err != nil {
			t.Fatalf("output line is not JSON: %q", l)
		}
		rs = append(rs, r)
	}
	if !rs[0].Relevant || rs[0].URL != "https://news.example/a" || len(rs[0].Topics) == 0 || rs[0].Topics[0].ID != "landmines" {
		t.Errorf("line 1: %+v", rs[0])
	}
	if rs[1].Error == "" || rs[2].Error == "" {
		t.Errorf("bad lines gave no error objects: %+v %+v", rs[1], rs[2])
	}
	if rs[3].Relevant || rs[3].Error != "" {
		t.Errorf("coal-mine story: %+v", rs[3])
	}
}

func TestEval(t *testing.T) {
	var out, errs bytes.Buffer
	if code := cli.Main([]string{"eval", "../../../enrich/testdata/eval/dev.jsonl"}, nil, &out, &errs); code != 0 {
		t.Fatalf("eval exited %d: %s", code, errs.String())
	}
	for _, want := range []string{"relevance", "F1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("eval output lacks %q:\n%s", want, out.String())
		}
	}
}
