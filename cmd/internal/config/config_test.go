package config_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/wiredesk/wiredesk/cmd/internal/config"
)

func TestShippedConfigIsValid(t *testing.T) {
	t.Setenv("WIREDESK_NATS_URL", "nats://nats:4222")
	c, err := config.Load("../../../configs/wiredesk.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.NATS.URL != "nats://nats:4222" {
		t.Errorf("nats.url = %q, want the environment's", c.NATS.URL)
	}
	if len(c.Indexer.Elasticsearch.URLs) != 0 {
		t.Errorf("an unset WIREDESK_ES_URL left %q", c.Indexer.Elasticsearch.URLs)
	}
	if c.Indexer.Consumer.Batch != 500 || c.Enricher.Consumer.AckWait != 30*time.Second {
		t.Errorf("consumer settings not read: %+v %+v", c.Indexer.Consumer, c.Enricher.Consumer)
	}
}

// Every testdata/*.bad.yaml must fail with the error its first line names
// ("# error: ..."); every *.good.yaml must load.
func TestFixtures(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yaml")
	if len(files) == 0 {
		t.Fatal("no fixtures")
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			_, err = config.Parse(data)
			if strings.HasSuffix(f, ".good.yaml") {
				if err != nil {
					t.Fatalf("want success, got %v", err)
				}
				return
			}
			first, _, _ := strings.Cut(string(data), "\n")
			want := strings.TrimSpace(strings.TrimPrefix(first, "# error:"))
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("error = %v, want it to contain %q", err, want)
			}
		})
	}
}
