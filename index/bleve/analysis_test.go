package blevestore

import (
	"fmt"
	"maps"
	"slices"
	"testing"

	"github.com/blevesearch/bleve/v2/document"
	bleveindex "github.com/blevesearch/bleve_index_api"

	"github.com/wiredesk/wiredesk/index"
	"github.com/wiredesk/wiredesk/index/indextest"
)

// TestSharedAnalysisMatches holds the shared tokenisation of the language
// fields (see analysis.go) to the analyzers queries use: every language
// field must index exactly the terms, with the same frequencies, that its
// analyzer gives on the text alone, and the standard fields and their
// stored text must be untouched.
func TestSharedAnalysisMatches(t *testing.T) {
	m, err := newMapping()
	if err != nil {
		t.Fatal(err)
	}
	a, err := newAnalyzers(m)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range langs {
		if !a.shared[l.lang].ok {
			t.Fatalf("analyzer %s cannot share the standard tokens", l.analyzer)
		}
	}
	docs := []index.Doc{}
	for _, art := range indextest.Articles() {
		docs = append(docs, index.NewDoc(art))
	}
	for _, lang := range []string{"en", "ru", "en-GB"} {
		docs = append(docs, index.Doc{
			ID: "tricky-" + lang, Language: lang,
			Title:   "PASHINYAN'S Government’S ceasefire: Ivan'S Пашиняна «ПЛЕННЫЕ» İstanbul ǅemal ΣΊΣΥΦΟΣ",
			Summary: "The talks were held; the THE and AND. Переговоры были проведены, и В Москве тоже. 3.5% 2024-05-01 e-mail O'Neill's",
			Text:    "Ստեփանակերտ Xankəndi ქუთაისი straße STRASSE ﬁnancial Ǆ İ ı K (Kelvin) ΌΣΟΣ it's IT'S rock'n'roll",
		})
	}
	for _, d := range docs {
		doc := a.newDocument(d)
		analyze(doc)
		std := map[string]bleveindex.TokenFrequencies{}
		for _, f := range doc.Fields {
			tf, ok := f.(*document.TextField)
			if !ok {
				continue
			}
			switch f.Name() {
			case "title", "summary", "text":
				std[f.Name()] = tf.AnalyzedTokenFrequencies()
				if want := map[string]string{"title": d.Title, "summary": d.Summary, "text": d.Text}[f.Name()]; tf.Text() != want {
					t.Errorf("%s %s: stored text changed to %q", d.ID, f.Name(), tf.Text())
				}
			}
		}
		n := 0
		for _, f := range doc.Fields {
			tf, ok := f.(*document.TextField)
			if !ok {
				continue
			}
			var base, lang string
			for _, l := range langs {
				for _, tfn := range textFields {
					if f.Name() == tfn+l.suffix {
						base, lang = tfn, l.lang
					}
				}
			}
			if base == "" {
				continue
			}
			n++
			if lang != language(d.Language) {
				t.Errorf("%s (%s) has field %s", d.ID, d.Language, f.Name())
			}
			want := terms(document.NewTextFieldCustom("x", nil, []byte(tf.Text()), optLang, a.lang[lang]))
			if got := termsOf(tf.AnalyzedTokenFrequencies()); got != want {
				t.Errorf("%s %s:\n got %s\nwant %s", d.ID, f.Name(), got, want)
			}
			// The standard field's terms are those of the standard analyzer.
			wantStd := terms(document.NewTextFieldCustom("x", nil, []byte(tf.Text()), optText, a.standard))
			if got := termsOf(std[base]); got != wantStd {
				t.Errorf("%s %s:\n got %s\nwant %s", d.ID, base, got, wantStd)
			}
		}
		if language(d.Language) != "" && n == 0 {
			t.Errorf("%s (%s) has no language fields", d.ID, d.Language)
		}
	}
}

func analyze(doc *document.Document) {
	doc.VisitFields(func(f bleveindex.Field) {
		if f.Options().IsIndexed() {
			f.Analyze()
		}
	})
}

func terms(f *document.TextField) string {
	f.Analyze()
	return termsOf(f.AnalyzedTokenFrequencies())
}

func termsOf(tfs bleveindex.TokenFrequencies) string {
	out := ""
	for _, k := range slices.Sorted(maps.Keys(tfs)) {
		tf := tfs[k]
		out += fmt.Sprintf("%s/%s×%d ", k, tf.Term, tf.Frequency())
		for _, l := range tf.Locations {
			out += fmt.Sprintf("@%d:%d-%d ", l.Position, l.Start, l.End)
		}
	}
	return out
}
