package index

import (
	"encoding/json"
	"math"
	"strings"
	"time"

	"github.com/wiredesk/wiredesk/ingest/article"
)

// Doc is the flattened search document built from an enriched article. Its
// JSON form is the Elasticsearch document; the field names are the
// engine-neutral names both engines map.
type Doc struct {
	ID       string `json:"id"`
	Revision string `json:"revision"`
	// Version orders revisions of one article: FetchedAt in microseconds.
	// A write with an older Version than the stored document is refused.
	Version  int64  `json:"version"`
	URL      string `json:"url,omitempty"`
	Source   string `json:"source"`
	FeedURL  string `json:"feed_url,omitempty"`
	Language string `json:"language,omitempty"`

	Title      string   `json:"title"`
	Summary    string   `json:"summary,omitempty"`
	Text       string   `json:"text,omitempty"`
	Authors    []string `json:"authors,omitempty"`
	Categories []string `json:"categories,omitempty"`

	// Published is the publication time, or the fetch time when the
	// article has none; PublishedFrom says which ("feed" or "first_seen").
	Published     time.Time `json:"published"`
	PublishedFrom string    `json:"published_from,omitempty"`
	Fetched       time.Time `json:"fetched,omitzero"`
	Enriched      time.Time `json:"enriched,omitzero"`

	Relevant  bool     `json:"relevant"`
	Relevance float64  `json:"relevance"`
	Conflicts []string `json:"conflicts,omitempty"`
	Topics    []string `json:"topics,omitempty"`

	EntityIDs []string `json:"entity_ids,omitempty"`
	QIDs      []string `json:"entity_qids,omitempty"`
	// EntityNames are the canonical names of all entities in article
	// order; People, Places and Orgs split them by type.
	EntityNames []string `json:"entity_names,omitempty"`
	People      []string `json:"people,omitempty"`
	Places      []string `json:"places,omitempty"`
	Orgs        []string `json:"orgs,omitempty"`
	// Aliases holds every name of every entity, canonical names included,
	// for free-text search.
	Aliases []string `json:"aliases,omitempty"`
	// EntityKeys holds the lower-cased ids, QIDs, names and aliases of all
	// entities: the field Query.Entities filters on.
	EntityKeys []string `json:"entity_keys,omitempty"`

	// Locations are the places the article names, including the locations
	// of its place entities, without duplicates.
	Locations []article.GeoPoint `json:"locations,omitempty"`

	// Evidence is the topic and entity evidence with scores, stored for
	// display and never indexed (see Evidence type).
	Evidence json.RawMessage `json:"evidence"`

	Taxonomy  string `json:"taxonomy_version,omitempty"`
	Gazetteer string `json:"gazetteer_version,omitempty"`
}

// Evidence is the stored, unindexed evidence of a Doc.
type Evidence struct {
	Topics   []article.Topic  `json:"topics"`
	Entities []EntityEvidence `json:"entities"`
}

// EntityEvidence is one entity's evidence.
type EntityEvidence struct {
	ID       string             `json:"id"`
	Name     string             `json:"name"`
	Type     string             `json:"type"`
	Wikidata string             `json:"wikidata,omitempty"`
	Evidence []article.Evidence `json:"evidence"`
}

// NewDoc flattens an enriched article into a search document.
func NewDoc(a article.Enriched) Doc {
	d := Doc{
		ID:            a.ID,
		Revision:      a.Revision,
		Version:       a.FetchedAt.UnixMicro(),
		URL:           a.URL,
		Source:        a.Source,
		FeedURL:       a.FeedURL,
		Language:      a.Language,
		Title:         a.Title,
		Summary:       a.Summary,
		Text:          a.Text,
		Authors:       a.Authors,
		Categories:    a.Categories,
		Published:     a.PublishedAt.UTC(),
		PublishedFrom: a.PublishedFrom,
		Fetched:       a.FetchedAt.UTC(),
		Enriched:      a.EnrichedAt.UTC(),
		Relevant:      a.Relevant,
		Relevance:     a.Relevance,
		Conflicts:     dedupe(a.Conflicts),
		Taxonomy:      a.Versions.Taxonomy,
		Gazetteer:     a.Versions.Gazetteer,
	}
	if d.Language == "" {
		d.Language = a.Lang
	}
	if d.Published.IsZero() {
		d.Published = d.Fetched
		if d.PublishedFrom == "" {
			d.PublishedFrom = "first_seen"
		}
	}
	ev := Evidence{Topics: a.Topics, Entities: make([]EntityEvidence, 0, len(a.Entities))}
	if ev.Topics == nil {
		ev.Topics = []article.Topic{}
	}
	for _, t := range a.Topics {
		d.Topics = append(d.Topics, t.ID)
	}
	d.Topics = dedupe(d.Topics)

	locs := append([]article.GeoPoint(nil), a.Locations...)
	for _, e := range a.Entities {
		ev.Entities = append(ev.Entities, EntityEvidence{ID: e.ID, Name: e.Name, Type: e.Type, Wikidata: e.Wikidata, Evidence: e.Evidence})
		d.EntityIDs = append(d.EntityIDs, e.ID)
		if e.Wikidata != "" {
			d.QIDs = append(d.QIDs, e.Wikidata)
		}
		if e.Name != "" {
			d.EntityNames = append(d.EntityNames, e.Name)
			switch e.Type {
			case article.Person:
				d.People = append(d.People, e.Name)
			case article.Place:
				d.Places = append(d.Places, e.Name)
			case article.Org:
				d.Orgs = append(d.Orgs, e.Name)
			}
			d.Aliases = append(d.Aliases, e.Name)
		}
		d.Aliases = append(d.Aliases, e.Aliases...)
		for _, k := range append([]string{e.ID, e.Wikidata, e.Name}, e.Aliases...) {
			if k = strings.TrimSpace(k); k != "" {
				d.EntityKeys = append(d.EntityKeys, strings.ToLower(k))
			}
		}
		if e.Location != nil {
			locs = append(locs, *e.Location)
		}
	}
	d.EntityIDs = dedupe(d.EntityIDs)
	d.QIDs = dedupe(d.QIDs)
	d.EntityNames = dedupe(d.EntityNames)
	d.People = dedupe(d.People)
	d.Places = dedupe(d.Places)
	d.Orgs = dedupe(d.Orgs)
	d.Aliases = dedupe(d.Aliases)
	d.EntityKeys = dedupe(d.EntityKeys)
	d.Locations = dedupeGeo(locs)

	// Marshalling cannot fail: the evidence holds only strings, ints and
	// finite floats; a NaN score would fail and is caught by the engines
	// when they encode the whole document.
	if b, err := json.Marshal(ev); err == nil {
		d.Evidence = b
	} else {
		d.Evidence = json.RawMessage(`{}`)
	}
	return d
}

// dedupe removes empty and repeated strings, keeping the first occurrence.
func dedupe(in []string) []string {
	if len(in) == 0 {
		return nil
	}
	seen := make(map[string]bool, len(in))
	out := in[:0:0]
	for _, s := range in {
		if s == "" || seen[s] {
			continue
		}
		seen[s] = true
		out = append(out, s)
	}
	return out
}

func dedupeGeo(in []article.GeoPoint) []article.GeoPoint {
	var out []article.GeoPoint
	seen := make(map[article.GeoPoint]bool, len(in))
	for _, p := range in {
		if seen[p] || p.Lat < -90 || p.Lat > 90 || p.Lon < -180 || p.Lon > 180 {
			continue
		}
		seen[p] = true
		out = append(out, p)
	}
	return out
}

// MaxIDBytes is the longest article id the engines accept (Elasticsearch's
// _id limit).
const MaxIDBytes = 512

// Validate reports what makes d unindexable by any engine, or "" when it
// is fine. Both stores reject such a document with status 400 before
// sending it: Elasticsearch would fail the whole bulk request for a bad id
// or a negative version, not just the one item.
func (d Doc) Validate() string {
	switch {
	case d.ID == "":
		return "article has no id"
	case len(d.ID) > MaxIDBytes:
		return "article id is longer than 512 bytes"
	case d.Version < 0:
		return "article has no fetch time (fetched_at before 1970)"
	case math.IsNaN(d.Relevance) || math.IsInf(d.Relevance, 0):
		return "relevance is not a finite number"
	}
	return ""
}
