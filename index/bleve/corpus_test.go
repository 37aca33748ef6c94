package blevestore_test

import (
	"fmt"
	"html"
	"io/fs"
	"math/rand/v2"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/wiredesk/wiredesk/configs"
	"github.com/wiredesk/wiredesk/ingest"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// A realistic corpus for the benchmarks: enriched articles of about 5 KB
// as the enricher publishes them, built like the end-to-end bench's
// (cmd/internal/bench/corpus.go) from the demo feeds — the title and lead
// of a demo article plus two to four paragraphs of other demo articles in
// the same language — with three to eight gazetteer entities (names,
// aliases in several scripts, QIDs, locations) and one to three topics.

var (
	tagRe  = regexp.MustCompile(`<[^>]*>`)
	paraRe = regexp.MustCompile(`(?s)<p[^>]*>.*?</p>`)
)

type seed struct {
	title, summary, lang string
	paras                []string
}

type gazEntity struct {
	ID       string   `yaml:"id"`
	Name     string   `yaml:"name"`
	Type     string   `yaml:"type"`
	Wikidata string   `yaml:"wikidata"`
	Lat      *float64 `yaml:"lat"`
	Lon      *float64 `yaml:"lon"`
	Aliases  []any    `yaml:"aliases"`
}

func plain(s string) string {
	return strings.Join(strings.Fields(html.UnescapeString(tagRe.ReplaceAllString(s, " "))), " ")
}

type corpus struct {
	seeds []seed
	ents  []article.Entity
}

var loadCorpus = sync.OnceValues(func() (corpus, error) {
	files, err := configs.DemoFeeds()
	if err != nil {
		return corpus{}, err
	}
	var seeds []seed
	for _, file := range files {
		arts, err := ingest.Parse(ingest.Feed{ID: "seed", URL: "https://seed.example/" + file.Name}, file.Body, "", time.Now())
		if err != nil {
			return corpus{}, fmt.Errorf("parsing %s: %w", file.Name, err)
		}
		for _, a := range arts {
			var paras []string
			for _, p := range paraRe.FindAllString(a.Body, -1) {
				if p = plain(p); p != "" {
					paras = append(paras, p)
				}
			}
			if len(paras) == 0 && a.Body != "" {
				paras = []string{plain(a.Body)}
			}
			if len(paras) == 0 {
				continue
			}
			lang := a.Lang
			if lang == "" {
				lang = "en"
			}
			seeds = append(seeds, seed{title: a.Title, summary: plain(a.Summary), lang: lang, paras: paras})
		}
	}

	raw, err := fs.ReadFile(configs.FS, "gazetteer.yaml")
	if err != nil {
		return corpus{}, err
	}
	var gaz struct {
		Entities []gazEntity `yaml:"entities"`
	}
	if err := yaml.Unmarshal(raw, &gaz); err != nil {
		return corpus{}, fmt.Errorf("decoding gazetteer: %w", err)
	}
	var ents []article.Entity
	for _, g := range gaz.Entities {
		if g.Type == "none" {
			continue
		}
		e := article.Entity{ID: g.ID, Name: g.Name, Type: g.Type, Wikidata: g.Wikidata}
		if g.Lat != nil && g.Lon != nil {
			e.Location = &article.GeoPoint{Lat: *g.Lat, Lon: *g.Lon}
		}
		for _, a := range g.Aliases {
			switch a := a.(type) {
			case string:
				e.Aliases = append(e.Aliases, a)
			case map[string]any:
				if s, ok := a["text"].(string); ok {
					e.Aliases = append(e.Aliases, s)
				}
			}
		}
		ents = append(ents, e)
	}
	return corpus{seeds, ents}, nil
})

// realistic returns n distinct enriched articles, reproducibly.
func realistic(tb testing.TB, n int) []article.Enriched {
	tb.Helper()
	c, err := loadCorpus()
	if err != nil {
		tb.Fatal(err)
	}
	seeds, ents := c.seeds, c.ents
	byLang := map[string][]int{}
	for i, s := range seeds {
		byLang[s.lang] = append(byLang[s.lang], i)
	}
	topics := []string{"ceasefire-violation", "landmines", "prisoners", "refugees-return", "border-demarcation", "peace-talks", "casualties", "protests"}
	conflicts := []string{"nagorno-karabakh", "armenia-azerbaijan", "georgia-abkhazia", "georgia-south-ossetia", "georgia-russia"}
	rng := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	out := make([]article.Enriched, n)
	for k := range out {
		s := seeds[k%len(seeds)]
		paras := []string{s.paras[0]}
		same := byLang[s.lang]
		for range 2 + rng.IntN(3) {
			o := seeds[same[rng.IntN(len(same))]]
			paras = append(paras, o.paras[rng.IntN(len(o.paras))])
		}
		text := strings.Join(paras, "\n\n")
		pub := base.Add(time.Duration(k) * time.Second)
		a := article.Enriched{
			Raw: article.Raw{
				SchemaVersion: article.RawSchemaVersion,
				ID:            fmt.Sprintf("bench-%07d", k),
				Revision:      fmt.Sprintf("%016x", rng.Uint64()),
				URL:           fmt.Sprintf("https://bench.example/news/%d", k),
				Source:        fmt.Sprintf("bench-%03d", k%50),
				FeedURL:       fmt.Sprintf("https://bench.example/feed/bench-%03d.xml", k%50),
				Title:         s.title,
				Summary:       s.summary,
				Body:          text,
				Lang:          s.lang,
				PublishedAt:   pub,
				PublishedFrom: "feed",
				FetchedAt:     pub.Add(time.Minute),
			},
			SchemaVersion: article.EnrichedSchemaVersion,
			Text:          text,
			Language:      s.lang,
			Relevant:      rng.IntN(10) > 0,
			Relevance:     rng.Float64(),
			Conflicts:     []string{conflicts[rng.IntN(len(conflicts))]},
			Versions:      article.Versions{Taxonomy: "2026.11.1", Gazetteer: "2026.11.4"},
			EnrichedAt:    pub.Add(time.Minute + time.Second),
		}
		for range 1 + rng.IntN(3) {
			a.Topics = append(a.Topics, article.Topic{ID: topics[rng.IntN(len(topics))], Score: rng.Float64(),
				Evidence: []article.Evidence{{Field: "text", Start: 10, End: 20, Text: "ceasefire", Rule: "ceasefire"}}})
		}
		for range 3 + rng.IntN(6) {
			e := ents[rng.IntN(len(ents))]
			e.Evidence = []article.Evidence{{Field: "text", Start: 30, End: 40, Text: e.Name, Rule: e.Name}}
			a.Entities = append(a.Entities, e)
			if e.Location != nil {
				a.Locations = append(a.Locations, *e.Location)
			}
		}
		out[k] = a
	}
	return out
}
