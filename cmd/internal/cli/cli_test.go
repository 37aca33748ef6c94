package cli_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/wiredesk/wiredesk/cmd/internal/cli"
)

// TestDemoThenSearch runs the README's first command and the searches it
// suggests, as a newcomer would.
func TestDemoThenSearch(t *testing.T) {
	data := t.TempDir()
	var out, errs bytes.Buffer
	if code := cli.Main([]string{"demo", "-data", data}, &out, &errs); code != 0 {
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
		if code := cli.Main(append([]string{"search", "-data", data}, args...), &out, &errs); code != 0 {
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
	if code := cli.Main([]string{"demo", "-data", data}, &out, &errs); code != 0 {
		t.Fatalf("second demo exited %d: %s", code, errs.String())
	}
	if !strings.Contains(out.String(), "0 published this run; 50 articles in the index") {
		t.Errorf("second demo run changed the index:\n%s", out.String())
	}
}

func TestUsageErrors(t *testing.T) {
	var out, errs bytes.Buffer
	if code := cli.Main([]string{"frobnicate"}, &out, &errs); code != 2 {
		t.Errorf("unknown command exited %d, want 2", code)
	}
	if code := cli.Main([]string{"search", "-sort", "sideways", "x"}, &out, &errs); code != 2 {
		t.Errorf("bad sort exited %d, want 2", code)
	}
	if code := cli.Main([]string{"run", "-config", "does-not-exist.yaml"}, &out, &errs); code != 2 {
		t.Errorf("missing config exited %d, want 2", code)
	}
}
