// Package article is the contract every wiredesk stage shares: the raw
// article the fetcher publishes, the enriched article the enricher publishes,
// and the deterministic identity that makes redelivery harmless.
//
// It imports only the standard library so that any consumer can depend on it.
package article

import (
	"time"
)

// Schema versions of the two message types. The major number changes only
// with a breaking change; additive changes bump the minor number.
const (
	RawSchemaVersion      = "1.0"
	EnrichedSchemaVersion = "1.0"
)

// Raw is an article as the fetcher found it in a feed.
type Raw struct {
	SchemaVersion string `json:"schema_version"`
	// ID is derived from the canonical URL, or from the feed URL and GUID
	// when the item has no usable link. See ID.
	ID string `json:"id"`
	// Revision is a hash of the content; an edited article keeps its ID and
	// gets a new Revision.
	Revision string `json:"revision"`
	// URL is the canonical article URL (tracking parameters and fragment
	// removed). Empty when the item had no link.
	URL     string `json:"url,omitempty"`
	GUID    string `json:"guid,omitempty"`
	Source  string `json:"source"` // feed id from the feed registry
	FeedURL string `json:"feed_url"`
	Title   string `json:"title"`
	Summary string `json:"summary,omitempty"`
	// Body is the article body as published: HTML or plain text.
	Body string `json:"body,omitempty"`
	// BodyFrom says where Body came from: "feed", or "page" when the feed
	// carried only a summary and the text was extracted from the article
	// page. Empty when there is no body.
	BodyFrom   string   `json:"body_from,omitempty"`
	Lang       string   `json:"lang,omitempty"` // language hint from the feed or registry
	Authors    []string `json:"authors,omitempty"`
	Categories []string `json:"categories,omitempty"`
	// PublishedAt is when the article was published; PublishedFrom says
	// where that came from: "feed", "page" (the article page's metadata)
	// or "first_seen".
	PublishedAt   time.Time `json:"published_at"`
	PublishedFrom string    `json:"published_from"`
	// FutureDate is true when the feed dated the article more than a few
	// minutes in the future; PublishedAt then does not use that date.
	FutureDate bool      `json:"future_date,omitempty"`
	FetchedAt  time.Time `json:"fetched_at"`
}

// MsgID is the JetStream de-duplication id: the same revision of the same
// article is stored once however often it is published.
func (r *Raw) MsgID() string { return r.ID + ":" + r.Revision }

// Enriched is a raw article with the enricher's findings. Its JSON object
// holds every field of Raw plus the fields below.
type Enriched struct {
	Raw
	SchemaVersion string `json:"schema_version"` // shadows Raw's
	// Text is the body as clean text, paragraphs separated by blank lines.
	// Evidence offsets into the body refer to Text.
	Text string `json:"text"`
	// Truncated is true when the body was longer than the enricher reads
	// and Text holds only its beginning.
	Truncated bool `json:"truncated,omitempty"`
	// Language is the detected language (ISO 639-1), not the feed's hint.
	Language   string     `json:"language"`
	Relevant   bool       `json:"relevant"`
	Relevance  float64    `json:"relevance"`
	Conflicts  []string   `json:"conflicts"`
	Topics     []Topic    `json:"topics"`
	Entities   []Entity   `json:"entities"`
	Versions   Versions   `json:"versions"`
	Locations  []GeoPoint `json:"locations,omitempty"` // places the article names
	EnrichedAt time.Time  `json:"enriched_at"`
}

// Topic is one topic tag with the evidence for it.
type Topic struct {
	ID       string     `json:"id"`
	Score    float64    `json:"score"`
	Evidence []Evidence `json:"evidence"`
}

// Entity types.
const (
	Person = "person"
	Place  = "place"
	Org    = "org"
)

// Entity is a named entity resolved to a gazetteer entry.
type Entity struct {
	ID       string     `json:"id"`       // gazetteer id
	Name     string     `json:"name"`     // canonical English name
	Type     string     `json:"type"`     // Person, Place or Org
	Wikidata string     `json:"wikidata"` // QID, empty when not known for sure
	Location *GeoPoint  `json:"location,omitempty"`
	Aliases  []string   `json:"aliases,omitempty"` // every known name, for search
	Evidence []Evidence `json:"evidence"`
}

// Evidence is a span of text that made a rule or alias fire.
type Evidence struct {
	Field string `json:"field"` // "title", "summary" or "text"
	Start int    `json:"start"` // byte offset into the field
	End   int    `json:"end"`
	Text  string `json:"text"` // the matched text as it appears
	Rule  string `json:"rule"` // the phrase, alias or rule that fired
}

// GeoPoint is a WGS84 coordinate.
type GeoPoint struct {
	Lat float64 `json:"lat"`
	Lon float64 `json:"lon"`
}

// Versions records the rule sets used, so a tag can be traced to its rules.
type Versions struct {
	Taxonomy  string `json:"taxonomy"`
	Gazetteer string `json:"gazetteer"`
}
