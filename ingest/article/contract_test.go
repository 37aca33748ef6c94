package article_test

import (
	"bytes"
	"encoding/json"
	"sort"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wiredesk/wiredesk/ingest/article"
	"github.com/wiredesk/wiredesk/ingest/article/schematest"
)

// full returns an enriched article with every field set, so that its JSON
// shows every property the Go types can produce.
func full() article.Enriched {
	now := time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC)
	ev := []article.Evidence{{Field: "text", Start: 0, End: 6, Text: "Lachin", Rule: "alias:Lachin"}}
	pt := &article.GeoPoint{Lat: 39.64, Lon: 46.55}
	return article.Enriched{
		Raw: article.Raw{
			ID: "0123456789abcdef0123456789abcdef", Revision: "0123456789abcdef",
			URL: "https://news.example/a", GUID: "g", Source: "feed-1", FeedURL: "https://news.example/feed",
			Title: "t", Summary: "s", Body: "<p>b</p>", BodyFrom: "page", Lang: "en", Authors: []string{"a"}, Categories: []string{"c"},
			PublishedAt: now, PublishedFrom: "feed", FutureDate: true, FetchedAt: now,
		},
		SchemaVersion: article.EnrichedSchemaVersion,
		Text:          "b", Truncated: true, Language: "en", Relevant: true, Relevance: 0.9,
		Conflicts:  []string{"armenia-azerbaijan"},
		Topics:     []article.Topic{{ID: "corridors-and-blockade", Score: 2, Evidence: ev}},
		Entities:   []article.Entity{{ID: "lachin", Name: "Lachin", Type: article.Place, Wikidata: "Q1", Location: pt, Aliases: []string{"Laçın"}, Evidence: ev}},
		Versions:   article.Versions{Taxonomy: "1", Gazetteer: "1"},
		Locations:  []article.GeoPoint{*pt},
		EnrichedAt: now,
	}
}

// TestSchemasMatchGoTypes fails when a field is added to or removed from
// the Go types without the same change in the JSON Schemas: the schemas
// forbid unknown properties, and every property they list must be one the
// Go types produce.
func TestSchemasMatchGoTypes(t *testing.T) {
	e := full()
	raw := e.Raw
	raw.SchemaVersion = article.RawSchemaVersion
	for _, tc := range []struct {
		schema string
		value  any
	}{{"schema/raw.v1.json", raw}, {"schema/enriched.v1.json", e}} {
		t.Run(tc.schema, func(t *testing.T) {
			s, doc := schematest.Compile(t, tc.schema)
			data, err := json.Marshal(tc.value)
			if err != nil {
				t.Fatal(err)
			}
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Validate(inst); err != nil {
				t.Fatalf("a fully populated value does not match %s: %v", tc.schema, err)
			}
			var produced []string
			for k := range inst.(map[string]any) {
				produced = append(produced, k)
			}
			var listed []string
			for k := range doc["properties"].(map[string]any) {
				listed = append(listed, k)
			}
			sort.Strings(produced)
			sort.Strings(listed)
			if !equal(produced, listed) {
				t.Errorf("Go type produces %v,\nschema lists %v", produced, listed)
			}
		})
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
