// Package indextest holds what the tests of both search engines share: a
// small corpus of enriched articles and the queries every engine must
// answer the same way. Only tests import it.
package indextest

import (
	_ "embed"
	"encoding/json"
	"time"

	"github.com/wiredesk/wiredesk/index"
	"github.com/wiredesk/wiredesk/ingest/article"
)

//go:embed testdata/articles.json
var articlesJSON []byte

// Articles returns the corpus: ten articles in English, Russian and
// Armenian, with unrelated stories that share words with the relevant ones
// (a coal mine, Formula 1 in Baku). The Khankendi entity carries the
// aliases Stepanakert, Степанакерт and Ստեփանակերտ; each article names the
// city in one script only. QIDs are placeholders, not Wikidata's.
func Articles() []article.Enriched {
	var as []article.Enriched
	if err := json.Unmarshal(articlesJSON, &as); err != nil {
		panic("indextest: decoding testdata/articles.json: " + err.Error())
	}
	return as
}

// Case is a query and the ids it must return. Ordered cases must return
// them in this order; the others in any order.
type Case struct {
	Name    string
	Query   index.Query
	Want    []string
	Ordered bool
}

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

// Cases are the queries both engines run on Articles.
var Cases = []Case{
	{Name: "body word", Query: index.Query{Text: "tractor"}, Want: []string{"a03"}},
	{Name: "english stemming", Query: index.Query{Text: "landmines"}, Want: []string{"a03"}},
	{Name: "two words must both match", Query: index.Query{Text: "coal mine"}, Want: []string{"a06"}},
	{Name: "phrase", Query: index.Query{Text: `"street circuit"`}, Want: []string{"a07"}},
	{Name: "phrase not adjacent", Query: index.Query{Text: `"street Baku"`}, Want: nil},
	{Name: "alias in latin finds all scripts", Query: index.Query{Text: "Khankendi"}, Want: []string{"a01", "a02", "a10"}},
	{Name: "alias in cyrillic", Query: index.Query{Text: "Степанакерт"}, Want: []string{"a01", "a02", "a10"}},
	{Name: "russian stemming", Query: index.Query{Text: "пленные"}, Want: []string{"a09"}},
	{Name: "spelling variant through entity", Query: index.Query{Text: "Fuzuli"}, Want: []string{"a03"}},
	{Name: "topic filter", Query: index.Query{Topics: []string{"landmines"}}, Want: []string{"a03"}},
	{Name: "topic filter any of", Query: index.Query{Topics: []string{"landmines", "prisoners"}}, Want: []string{"a03", "a09"}},
	{Name: "conflict filter", Query: index.Query{Conflicts: []string{"georgia-south-ossetia", "georgia-abkhazia"}}, Want: []string{"a08", "a09"}},
	{Name: "entity by id", Query: index.Query{Entities: []string{"pashinyan"}}, Want: []string{"a04", "a05"}},
	{Name: "entity by qid", Query: index.Query{Entities: []string{"q990000002"}}, Want: []string{"a05"}},
	{Name: "entity by alias any case", Query: index.Query{Entities: []string{"STEPANAKERT"}}, Want: []string{"a01", "a02", "a10"}},
	{Name: "entity by cyrillic alias", Query: index.Query{Entities: []string{"Пашинян"}}, Want: []string{"a04", "a05"}},
	{Name: "source filter", Query: index.Query{Sources: []string{"kavkaz-lenta"}}, Want: []string{"a02", "a09"}},
	{Name: "language filter", Query: index.Query{Languages: []string{"hy"}}, Want: []string{"a10"}},
	{Name: "relevant only with text", Query: index.Query{Text: "Baku", RelevantOnly: true}, Want: nil},
	{Name: "text and filters", Query: index.Query{Text: "first", Topics: []string{"refugees-return"}, Sources: []string{"caucasus-wire"}}, Want: []string{"a01"}},
	{Name: "date range from inclusive to exclusive",
		Query: index.Query{From: day("2024-04-10").Add(12 * time.Hour), To: day("2024-05-02").Add(18 * time.Hour), Sort: index.SortDate},
		Want:  []string{"a04", "a06", "a03"}, Ordered: true},
	{Name: "sort by date", Query: index.Query{Conflicts: []string{"nagorno-karabakh"}, Sort: index.SortDate},
		Want: []string{"a05", "a04", "a03", "a10", "a02", "a01"}, Ordered: true},
	{Name: "size limits hits", Query: index.Query{Sort: index.SortDate, Size: 2}, Want: []string{"a07", "a09"}, Ordered: true},
	{Name: "no match", Query: index.Query{Text: "volcano"}, Want: nil},
}
