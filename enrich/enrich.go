// Package enrich decides whether a news article is about a Caucasus
// conflict, which topics it covers and which people, places and
// organisations it names, and records the evidence for every tag.
//
// The rules live in two data files: a taxonomy (conflicts, topics, weighted
// phrases, relevance thresholds) and a gazetteer (entities and their names
// in several scripts). Both carry a version that is stamped on every
// enriched article. The package knows nothing about NATS: Enrich takes an
// article and returns one.
package enrich

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/wiredesk/wiredesk/ingest/article"
)

// ErrNoText reports an article with no title, summary or body text. Redelivery
// does not help; the consumer may terminate the message at once.
var ErrNoText = errors.New("enrich: article has no text")

// errInternal reports a bug found at run time (a recovered panic).
var errInternal = errors.New("enrich: internal error")

// Enricher tags articles with one compiled taxonomy and gazetteer. It is
// immutable after Load and safe for concurrent use; to change the rules,
// Load a new Enricher and swap it in.
type Enricher struct {
	tax      Taxonomy
	versions article.Versions

	entities []entity
	entDict  *dict
	aliases  []aliasRef // entity dictionary pattern ids, then near-miss ids
	hasExact bool       // some alias is case-sensitive
	near     nearMiss
	// knownWords holds every word of every alias and phrase key: such a
	// word is never a near miss of another name.
	knownWords map[string]struct{}
	phrDict    *dict
	phrases    []phraseRef // phrase dictionary pattern ids
	numRules   int
	topicCtx   [][]int // per topic: entity indexes that satisfy its context
	conflicts  map[string]int

	pool sync.Pool // *scratch
}

type entity struct {
	out       article.Entity // template: ID, Name, Type, Wikidata, Location, Aliases
	country   string
	conflicts []int // indexes into tax.Conflicts
	weight    float64
	context   []int // entity indexes that confirm an ambiguous alias
	place     bool
}

type aliasRef struct {
	entity    int32
	ambiguous bool
	rule      string // the alias as written in the gazetteer
	// exact, when not empty, holds the letters of a case-sensitive alias as
	// written; a match counts only when the text has the same letters.
	exact string
}

type phraseKind uint8

const (
	kindTopic phraseKind = iota
	kindNegative
	kindConflict
	kindFraming
	kindOffTopic
	kindContext
)

type phraseRef struct {
	kind   phraseKind
	target int // topic or conflict index
	weight float64
	rule   string
	ruleID int32 // the same for all case forms of one phrase of one rule
}

// scratch is per-call working memory, pooled.
type scratch struct {
	f        folded
	hits     []hit
	repeats  []uint8 // per phrase ruleID: matches counted so far
	touched  []int32 // ruleIDs to reset in repeats
	mentions []mention
	res      resolver
	near     nearScratch
}

// Load reads the taxonomy and gazetteer YAML files from fsys (an embed.FS
// of configs/ or os.DirFS), validates them strictly and compiles them. The
// error names the file and, for YAML errors, the line.
func Load(fsys fs.FS, taxonomyPath, gazetteerPath string) (*Enricher, error) {
	var tax Taxonomy
	if err := readYAML(fsys, taxonomyPath, &tax); err != nil {
		return nil, fmt.Errorf("loading taxonomy: %w", err)
	}
	if err := tax.Validate(); err != nil {
		return nil, fmt.Errorf("validating taxonomy %s: %w", taxonomyPath, err)
	}
	var gaz Gazetteer
	if err := readYAML(fsys, gazetteerPath, &gaz); err != nil {
		return nil, fmt.Errorf("loading gazetteer: %w", err)
	}
	conflicts := map[string]int{}
	known := map[string]bool{}
	for i, c := range tax.Conflicts {
		conflicts[c.ID] = i
		known[c.ID] = true
	}
	if err := gaz.Validate(known); err != nil {
		return nil, fmt.Errorf("validating gazetteer %s: %w", gazetteerPath, err)
	}
	return compile(tax, gaz, conflicts), nil
}

func compile(tax Taxonomy, gaz Gazetteer, conflicts map[string]int) *Enricher {
	e := &Enricher{
		tax:       tax,
		versions:  article.Versions{Taxonomy: tax.Version, Gazetteer: gaz.Version},
		entDict:   newDict(),
		phrDict:   newDict(),
		conflicts: conflicts,
	}
	setDefaults(&e.tax)
	index := map[string]int{}
	for i, g := range gaz.Entities {
		index[g.ID] = i
	}
	for i, g := range gaz.Entities {
		ent := entity{
			out: article.Entity{
				ID: g.ID, Name: g.Name, Type: g.Type, Wikidata: g.Wikidata,
			},
			country: g.Country,
			weight:  1,
			place:   g.Type == article.Place,
		}
		if g.Weight != nil {
			ent.weight = *g.Weight
		}
		if g.Lat != nil {
			ent.out.Location = &article.GeoPoint{Lat: *g.Lat, Lon: *g.Lon}
		}
		for _, c := range g.Conflicts {
			ent.conflicts = append(ent.conflicts, conflicts[c])
		}
		for _, c := range g.Context {
			ent.context = append(ent.context, index[c])
		}
		names := []string{g.Name}
		names = append(names, aliasTexts(g.Aliases)...)
		names = append(names, aliasTexts(g.Ambiguous)...)
		ent.out.Aliases = dedupe(names)
		e.entities = append(e.entities, ent)

		addAlias := func(alias Alias, ambiguous bool) {
			key := foldKey(alias.Text)
			forms := []string{key}
			if !g.NoInflect && !alias.CaseSensitive {
				forms = inflections(key)
			}
			for _, k := range forms {
				id := int32(len(e.aliases))
				rule := alias.Text
				if k != key {
					rule = alias.Text + " (case form)"
				}
				ref := aliasRef{entity: int32(i), ambiguous: ambiguous, rule: rule}
				if alias.CaseSensitive {
					ref.exact = caseLetters(alias.Text)
					e.hasExact = true
				}
				e.aliases = append(e.aliases, ref)
				e.entDict.add(k, id)
			}
		}
		ambiguousName := slices.ContainsFunc(g.Ambiguous, func(a Alias) bool { return a.Text == g.Name })
		if g.Type != typeNone && !ambiguousName && !strings.Contains(g.Name, "/") {
			addAlias(Alias{Text: g.Name}, false)
		}
		for _, a := range g.Aliases {
			addAlias(a, false)
		}
		for _, a := range g.Ambiguous {
			addAlias(a, true)
		}
	}
	e.near = e.buildNearMiss(gaz)
	addPhrase := func(p Phrase, kind phraseKind, target int) {
		key := foldKey(p.Text)
		ruleID := int32(e.numRules)
		e.numRules++
		for _, k := range inflections(key) {
			id := int32(len(e.phrases))
			e.phrases = append(e.phrases, phraseRef{kind: kind, target: target, weight: p.Weight, rule: p.Text, ruleID: ruleID})
			e.phrDict.add(k, id)
		}
	}
	for ci, c := range e.tax.Conflicts {
		for _, p := range c.Phrases {
			addPhrase(p, kindConflict, ci)
		}
	}
	e.topicCtx = make([][]int, len(e.tax.Topics))
	for ti, t := range e.tax.Topics {
		for _, p := range t.Phrases {
			addPhrase(p, kindTopic, ti)
		}
		for _, p := range t.Negative {
			if p.Weight == 1 {
				p.Weight = 3
			}
			addPhrase(p, kindNegative, ti)
		}
		for _, c := range t.Context {
			if ei, ok := index[c]; ok {
				e.topicCtx[ti] = append(e.topicCtx[ti], ei)
			} else {
				addPhrase(Phrase{Text: c, Weight: 0}, kindContext, ti)
			}
		}
	}
	for _, p := range e.tax.Framing {
		addPhrase(p, kindFraming, -1)
	}
	for _, p := range e.tax.OffTopic {
		addPhrase(p, kindOffTopic, -1)
	}
	e.knownWords = map[string]struct{}{}
	for _, d := range []*dict{e.entDict, e.phrDict} {
		for k, de := range d.m {
			if de.ids != nil || de.prefix {
				for _, w := range words(k) {
					e.knownWords[w] = struct{}{}
				}
			}
		}
	}
	e.pool.New = func() any {
		return &scratch{
			repeats: make([]uint8, e.numRules),
			res: resolver{
				slot:      make([]int32, len(e.entities)),
				confirmed: make([]bool, len(e.entities)),
			},
		}
	}
	return e
}

func setDefaults(t *Taxonomy) {
	if t.Positions == (PositionWeights{}) {
		t.Positions = PositionWeights{Title: 2.5, Summary: 1.5, Lead: 1.5, Body: 1}
	}
	if t.Relevance.ConflictShare == 0 {
		t.Relevance.ConflictShare = 0.3
	}
	for i := range t.Topics {
		if t.Topics[i].MinScore == 0 {
			t.Topics[i].MinScore = 2
		}
	}
}

func dedupe(names []string) []string {
	seen := map[string]bool{}
	out := names[:0:0]
	for _, n := range names {
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out
}

// Versions returns the versions of the taxonomy and gazetteer in use.
func (e *Enricher) Versions() article.Versions { return e.versions }

// Enrich tags one article. It copies every field of raw, adds clean text,
// the detected language, relevance, conflicts, topics, entities and
// locations, each tag with its evidence, and stamps the rule versions.
//
// Evidence offsets are byte offsets into the Title, Summary or Text of the
// returned article. Fields with invalid UTF-8 are repaired (bad bytes become
// U+FFFD) before matching, so the offsets hold for the JSON encoding too.
// Bodies longer than 2 MiB, and clean text longer than 512 KiB, are cut,
// and Truncated is set.
//
// Enrich never panics on bad input. It returns an error only for an article
// it cannot process at all: ErrNoText when there is no text, the context's
// error when ctx is done, or a wrapped internal error.
func (e *Enricher) Enrich(ctx context.Context, raw article.Raw) (out article.Enriched, err error) {
	defer func() {
		if r := recover(); r != nil {
			out, err = article.Enriched{}, fmt.Errorf("enriching article %q: %w: %v", raw.ID, errInternal, r)
		}
	}()
	if err := ctx.Err(); err != nil {
		return article.Enriched{}, fmt.Errorf("enriching article %q: %w", raw.ID, context.Cause(ctx))
	}
	raw.Title = validUTF8(cutUTF8(raw.Title, maxTextBytes))
	raw.Summary = validUTF8(cutUTF8(raw.Summary, maxTextBytes))
	text, truncated := cleanText(raw.Body)
	if strings.TrimSpace(raw.Title) == "" && strings.TrimSpace(raw.Summary) == "" && strings.TrimSpace(text) == "" {
		return article.Enriched{}, fmt.Errorf("enriching article %q: %w", raw.ID, ErrNoText)
	}
	out = article.Enriched{
		Raw:           raw,
		SchemaVersion: article.EnrichedSchemaVersion,
		Text:          text,
		Truncated:     truncated,
		Conflicts:     []string{},
		Topics:        []article.Topic{},
		Entities:      []article.Entity{},
		Locations:     []article.GeoPoint{},
		Versions:      e.versions,
	}
	e.tag(&out)
	out.EnrichedAt = time.Now().UTC()
	return out, nil
}

func validUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}
