package enrich

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"text/tabwriter"

	"github.com/wiredesk/wiredesk/ingest/article"
)

// LabelledArticle is one line of an evaluation file (JSON lines): a raw
// article and its gold labels.
type LabelledArticle struct {
	ID    string `json:"id"`
	Title string `json:"title"`
	Body  string `json:"body"`
	Lang  string `json:"lang,omitempty"`
	Gold  Gold   `json:"gold"`
}

// Gold holds the labels a human gave an article. Conflicts and Topics are
// empty for stories that are not relevant; Entities lists the gazetteer ids
// of every person, place and organisation the story names.
type Gold struct {
	Relevant  bool     `json:"relevant"`
	Conflicts []string `json:"conflicts"`
	Topics    []string `json:"topics"`
	Entities  []string `json:"entities"`
}

// Counts are true positives, false positives and false negatives.
type Counts struct{ TP, FP, FN int }

// Precision, Recall and F1 are 1 when there is nothing to find and nothing
// was found.
func (c Counts) Precision() float64 { return ratio(c.TP, c.TP+c.FP) }
func (c Counts) Recall() float64    { return ratio(c.TP, c.TP+c.FN) }
func (c Counts) F1() float64 {
	p, r := c.Precision(), c.Recall()
	if p+r == 0 {
		return 0
	}
	return 2 * p * r / (p + r)
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 1
	}
	return float64(a) / float64(b)
}

func (c *Counts) add(o Counts) { c.TP += o.TP; c.FP += o.FP; c.FN += o.FN }

// Miss records one disagreement with the gold labels, for tuning.
type Miss struct {
	ID, Kind, Label string
	Got             bool // true: a false positive; false: a false negative
}

// Report is the result of Evaluate: micro-averaged counts overall and per
// label.
type Report struct {
	Articles    int
	Relevance   Counts
	Conflicts   Counts
	Topics      Counts
	Entities    Counts
	PerConflict map[string]Counts
	PerTopic    map[string]Counts
	PerType     map[string]Counts // entity type: person, place, org
	Misses      []Miss
	Versions    article.Versions
}

// Evaluate enriches every labelled article read from r (JSON lines) with e
// and compares the result with the gold labels. It fails on a line that is
// not a labelled article, naming the line.
func Evaluate(ctx context.Context, e *Enricher, r io.Reader) (Report, error) {
	rep := Report{
		PerConflict: map[string]Counts{}, PerTopic: map[string]Counts{}, PerType: map[string]Counts{},
		Versions: e.Versions(),
	}
	types := map[string]string{}
	for _, en := range e.entities {
		types[en.out.ID] = en.out.Type
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 16<<20)
	for line := 1; sc.Scan(); line++ {
		if len(sc.Bytes()) == 0 {
			continue
		}
		var la LabelledArticle
		if err := json.Unmarshal(sc.Bytes(), &la); err != nil {
			return rep, fmt.Errorf("decoding labelled article on line %d: %w", line, err)
		}
		for _, id := range la.Gold.Entities {
			if _, ok := types[id]; !ok {
				return rep, fmt.Errorf("checking labels of %q on line %d: unknown entity %q", la.ID, line, id)
			}
		}
		out, err := e.Enrich(ctx, article.Raw{ID: la.ID, Title: la.Title, Body: la.Body, Lang: la.Lang})
		if err != nil {
			return rep, fmt.Errorf("enriching %q on line %d: %w", la.ID, line, err)
		}
		rep.Articles++
		var got []string
		if out.Relevant {
			got = []string{"relevant"}
		}
		var want []string
		if la.Gold.Relevant {
			want = []string{"relevant"}
		}
		rep.Relevance.add(rep.compare(la.ID, "relevance", got, want, nil, nil))
		rep.Conflicts.add(rep.compare(la.ID, "conflict", out.Conflicts, la.Gold.Conflicts, rep.PerConflict, nil))
		rep.Topics.add(rep.compare(la.ID, "topic", topicList(out), la.Gold.Topics, rep.PerTopic, nil))
		rep.Entities.add(rep.compare(la.ID, "entity", entityList(out), la.Gold.Entities, rep.PerType, types))
	}
	if err := sc.Err(); err != nil {
		return rep, fmt.Errorf("reading labelled articles: %w", err)
	}
	if rep.Articles == 0 {
		return rep, errors.New("enrich: no labelled articles to evaluate")
	}
	return rep, nil
}

func topicList(out article.Enriched) []string {
	var s []string
	for _, t := range out.Topics {
		s = append(s, t.ID)
	}
	return s
}

func entityList(out article.Enriched) []string {
	var s []string
	for _, en := range out.Entities {
		s = append(s, en.ID)
	}
	return s
}

// compare counts one article's labels of one kind; per, if not nil, gets
// counts per label, or per group(label) when group is not nil.
func (rep *Report) compare(id, kind string, got, want []string, per map[string]Counts, group map[string]string) Counts {
	var c Counts
	bucket := func(label string) string {
		if group != nil {
			return group[label]
		}
		return label
	}
	bump := func(label string, d Counts) {
		if per != nil {
			x := per[bucket(label)]
			x.add(d)
			per[bucket(label)] = x
		}
	}
	for _, g := range dedupe(got) {
		if slices.Contains(want, g) {
			c.TP++
			bump(g, Counts{TP: 1})
		} else {
			c.FP++
			bump(g, Counts{FP: 1})
			rep.Misses = append(rep.Misses, Miss{ID: id, Kind: kind, Label: g, Got: true})
		}
	}
	for _, w := range dedupe(want) {
		if !slices.Contains(got, w) {
			c.FN++
			bump(w, Counts{FN: 1})
			rep.Misses = append(rep.Misses, Miss{ID: id, Kind: kind, Label: w})
		}
	}
	return c
}

// Print writes the report as an aligned table: precision, recall and F1
// for relevance, conflicts, each conflict, topics, each topic, entities and
// each entity type.
func (rep Report) Print(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%d articles, taxonomy %s, gazetteer %s\n", rep.Articles, rep.Versions.Taxonomy, rep.Versions.Gazetteer)
	fmt.Fprintf(tw, "label\tP\tR\tF1\tTP\tFP\tFN\t\n")
	row := func(name string, c Counts) {
		fmt.Fprintf(tw, "%s\t%.3f\t%.3f\t%.3f\t%d\t%d\t%d\t\n", name, c.Precision(), c.Recall(), c.F1(), c.TP, c.FP, c.FN)
	}
	group := func(name string, total Counts, per map[string]Counts) {
		row(name, total)
		keys := make([]string, 0, len(per))
		for k := range per {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			row("  "+k, per[k])
		}
	}
	row("relevance", rep.Relevance)
	group("conflicts (micro)", rep.Conflicts, rep.PerConflict)
	group("topics (micro)", rep.Topics, rep.PerTopic)
	group("entities (micro)", rep.Entities, rep.PerType)
	return tw.Flush()
}
