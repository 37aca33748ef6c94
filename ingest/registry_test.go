package ingest

import (
	"bufio"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadRegistryGood(t *testing.T) {
	t.Setenv("WIREDESK_TEST_TOKEN", "s3cret")
	feeds, err := LoadRegistry(os.DirFS("testdata"), "registry.good.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(feeds) != 2 {
		t.Fatalf("got %d feeds, want 2", len(feeds))
	}
	en, ru := feeds[0], feeds[1]
	if en.MinInterval != 5*time.Minute || en.MaxInterval != time.Hour {
		t.Errorf("defaults not applied: %v %v", en.MinInterval, en.MaxInterval)
	}
	if en.Country != "AM" {
		t.Errorf("country not upper-cased: %q", en.Country)
	}
	if ru.MinInterval != 2*time.Minute || ru.MaxInterval != 30*time.Minute || !ru.FullText {
		t.Errorf("overrides not applied: %+v", ru)
	}
	if got := ru.Headers["Authorization"]; got != "Bearer s3cret" {
		t.Errorf("header expansion: got %q", got)
	}
}

// TestLoadRegistryBad loads every *.bad.yaml fixture; its first line says
// "# expect: <substring of the error>".
func TestLoadRegistryBad(t *testing.T) {
	files, err := filepath.Glob("testdata/*.bad.yaml")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, path := range files {
		name := filepath.Base(path)
		t.Run(name, func(t *testing.T) {
			want := expectLine(t, path)
			_, err := LoadRegistry(os.DirFS("testdata"), name)
			if err == nil {
				t.Fatalf("no error, want %q", want)
			}
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error\n  %s\nwant it to contain\n  %s", err, want)
			}
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("error is not one line: %q", err)
			}
			if !strings.Contains(err.Error(), name) {
				t.Errorf("error does not name the file: %s", err)
			}
		})
	}
}

func expectLine(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Scan()
	want, ok := strings.CutPrefix(sc.Text(), "# expect: ")
	if !ok {
		t.Fatalf("%s: first line must be '# expect: ...'", path)
	}
	return want
}

// TestShippedRegistry keeps configs/feeds.yaml loadable.
func TestShippedRegistry(t *testing.T) {
	const path = "../configs/feeds.yaml"
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not present: %v", path, err)
	}
	feeds, err := LoadRegistry(os.DirFS(".."), "configs/feeds.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(feeds) < 10 {
		t.Errorf("only %d feeds in the shipped registry", len(feeds))
	}
}
