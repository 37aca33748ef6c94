package enricher_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wiredesk/wiredesk/cmd/internal/bus"
	"github.com/wiredesk/wiredesk/cmd/internal/config"
	"github.com/wiredesk/wiredesk/cmd/internal/enricher"
	"github.com/wiredesk/wiredesk/cmd/internal/stagetest"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// rulesV is a FAKE enricher that only stamps a rule version, so that a
// reprocess under new rules is visible without depending on the taxonomy.
type rulesV string

func (v rulesV) Enrich(_ context.Context, raw article.Raw) (article.Enriched, error) {
	return article.Enriched{
		Raw: raw, SchemaVersion: article.EnrichedSchemaVersion,
		Conflicts: []string{}, Topics: []article.Topic{}, Entities: []article.Entity{},
		Versions: article.Versions{Taxonomy: string(v), Gazetteer: string(v)}, EnrichedAt: time.Now().UTC(),
	}, nil
}

// TestReprocessFromTime re-enriches the raw articles stored from a given
// time under new rules, leaves older ones alone, and removes its consumer.
func TestReprocessFromTime(t *testing.T) {
	ctx := context.Background()
	_, js := stagetest.JetStream(t)
	arts := demoRaw(t)[:6]
	publishRaw(t, js, arts[:2])
	time.Sleep(50 * time.Millisecond) // a gap between the two halves' store times
	from := time.Now()
	time.Sleep(50 * time.Millisecond)
	publishRaw(t, js, arts[2:])

	cfg := config.Default().Enricher
	cfg.Consumer = bus.ConsumerSettings{Batch: 4, BatchWait: 50 * time.Millisecond}
	s := &enricher.Service{JS: js, Enricher: rulesV("v2"), Config: cfg, Grace: 5 * time.Second, Logger: stagetest.Logger()}
	n, err := s.Reprocess(ctx, prometheus.NewRegistry(), from, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("reprocessed %d articles, want the 4 stored after -from", n)
	}
	got := map[string]bool{}
	for _, m := range readStream(t, js, bus.StreamEnriched) {
		if m.article.Versions.Taxonomy != "v2" {
			t.Errorf("enriched message under rules %q", m.article.Versions.Taxonomy)
		}
		got[m.article.ID] = true
	}
	for i, a := range arts {
		if want := i >= 2; got[a.ID] != want {
			t.Errorf("article %d re-enriched = %v, want %v", i, got[a.ID], want)
		}
	}
	stream, err := js.Stream(ctx, bus.StreamRaw)
	if err != nil {
		t.Fatal(err)
	}
	names := stream.ConsumerNames(ctx)
	for name := range names.Name() {
		t.Errorf("consumer %q left behind", name)
	}
}
