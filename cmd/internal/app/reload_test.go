package app

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wiredesk/wiredesk/cmd/internal/config"
	"github.com/wiredesk/wiredesk/configs"
)

// TestSIGHUPReloadsRules edits the taxonomy's version on disk, sends
// SIGHUP, and checks that the enricher now works under the new version;
// a broken file keeps the rules in force.
func TestSIGHUPReloadsRules(t *testing.T) {
	dir := t.TempDir()
	copyFile := func(name string) string {
		data, err := configs.FS.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	c := config.Enricher{Taxonomy: copyFile("taxonomy.yaml"), Gazetteer: copyFile("gazetteer.yaml")}
	e, err := LoadEnricher(c)
	if err != nil {
		t.Fatal(err)
	}
	r := &reloadable{}
	r.cur.Store(e)
	before := e.Versions().Taxonomy

	// Until watchSIGHUP has subscribed, a SIGHUP would end the test binary.
	guard := make(chan os.Signal, 1)
	signal.Notify(guard, syscall.SIGHUP)
	defer signal.Stop(guard)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { r.watchSIGHUP(ctx, c, discard()); close(done) }()
	defer func() { cancel(); <-done }()

	data, _ := os.ReadFile(c.Taxonomy)
	edited := strings.Replace(string(data), before, before+"-edited", 1)
	if edited == string(data) {
		t.Fatalf("taxonomy.yaml does not carry its version %q", before)
	}
	if err := os.WriteFile(c.Taxonomy, []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for r.cur.Load().Versions().Taxonomy != before+"-edited" {
		if time.Now().After(deadline) {
			t.Fatal("rules were not reloaded after SIGHUP")
		}
		_ = syscall.Kill(os.Getpid(), syscall.SIGHUP)
		time.Sleep(100 * time.Millisecond)
	}

	// A broken file is refused and the current rules stay.
	if err := os.WriteFile(c.Taxonomy, []byte("version: [broken"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.reload(c, discard())
	if got := r.cur.Load().Versions().Taxonomy; got != before+"-edited" {
		t.Errorf("a broken taxonomy replaced the rules: version %q", got)
	}
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
