package blevestore

import (
	"fmt"
	"strings"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/analysis/lang/ru"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/mapping"
	bleveindex "github.com/blevesearch/bleve_index_api"

	"github.com/wiredesk/wiredesk/index"
)

// mappingVersion is stored in the index; an index built with another
// mapping is refused at Open rather than searched wrongly.
//
// Version 2 analyses the language fields only in the article's own
// language, indexes and stores only what Search uses, and keeps the
// positions of aliases so that a quoted name matches an alias.
const mappingVersion = "wiredesk-articles/2"

const (
	// analyzerStandard mirrors Elasticsearch's standard analyzer: Unicode
	// word segmentation and lower-casing, no stop words (bleve's own
	// "standard" analyzer drops English stop words, which Elasticsearch's
	// does not; the two engines must agree on what a word matches).
	analyzerStandard = "wd_standard"
)

// The index holds only what Search needs: the text fields, the fields
// the filters of index.Query match, and the stored fields of index.Hit.
// The rest of index.Doc (evidence, revision, per-type entity names,
// locations, …) is Elasticsearch's to keep; add it here, with a new
// mappingVersion, when a query needs it.
//
// Each text field is analysed with the standard analyzer and, in a field
// of its own ("text_en", "text_ru"), with the analyzer of the article's
// language: English articles get the English field, Russian articles the
// Russian one, others neither. Elasticsearch analyses every article in
// every language sub-field; running the Porter stemmer over Russian and
// the Russian stemmer over English costs a third of the analysis and
// finds nothing the standard field does not, except stemmed forms of
// foreign words quoted in an article. Bleve ships English and Russian
// analyzers; its Armenian support is a stop list without a stemmer, which
// adds nothing over the standard field, so there is no Armenian field
// (Elasticsearch has one).
var (
	textFields = []string{"title", "summary", "text"}
	langs      = []struct{ lang, suffix, analyzer string }{{"en", "_en", en.AnalyzerName}, {"ru", "_ru", ru.AnalyzerName}}
	// searchFields are the fields free text is matched against, with
	// their analyzers. Queries name the analyzer so that query and
	// document are analysed alike whatever the mapping says.
	searchFields = func() []fieldAnalyzer {
		var fs []fieldAnalyzer
		for _, f := range textFields {
			fs = append(fs, fieldAnalyzer{f, analyzerStandard})
			for _, l := range langs {
				fs = append(fs, fieldAnalyzer{f + l.suffix, l.analyzer})
			}
		}
		return append(fs, fieldAnalyzer{"aliases", analyzerStandard})
	}()
	// storedFields are returned with each hit: index.Hit's fields, and
	// the summary and text for the lead snippet. The highlighter reads
	// the stored title, summary and text as well.
	storedFields = []string{"title", "url", "source", "language", "published", "topics", "conflicts", "entity_names", "summary", "text"}
	// filterFields are the keyword fields index.Query filters on.
	filterFields = []string{"source", "language", "conflicts", "topics", "entity_keys"}
)

type fieldAnalyzer struct{ field, analyzer string }

// Indexing options of the document's fields; newMapping declares the same.
const (
	optText     = bleveindex.IndexField | bleveindex.StoreField | bleveindex.IncludeTermVectors // the highlighter needs the positions
	optLang     = bleveindex.IndexField
	optAliases  = bleveindex.IndexField | bleveindex.IncludeTermVectors // phrase queries need the positions
	optFilter   = bleveindex.IndexField
	optStored   = bleveindex.StoreField
	optFiltered = bleveindex.IndexField | bleveindex.StoreField
	optDate     = bleveindex.IndexField | bleveindex.StoreField | bleveindex.DocValues // sorted on
	optRelevant = bleveindex.IndexField
	optVersion  = bleveindex.StoreField // read back to refuse stale revisions
)

// newMapping describes the documents newDocument builds. Write hands bleve
// finished documents, so the mapping is not used to build them; it names
// the analyzers and records the fields in the index's metadata.
func newMapping() (mapping.IndexMapping, error) {
	im := bleve.NewIndexMapping()
	if err := im.AddCustomAnalyzer(analyzerStandard, map[string]any{
		"type":          custom.Name,
		"tokenizer":     unicode.Name,
		"token_filters": []any{lowercase.Name},
	}); err != nil {
		return nil, err
	}
	im.DefaultAnalyzer = analyzerStandard
	im.IndexDynamic = false
	im.StoreDynamic = false
	im.DocValuesDynamic = false

	dm := bleve.NewDocumentStaticMapping()
	dm.AddSubDocumentMapping("_all", bleve.NewDocumentDisabledMapping())
	field := func(name string, fm *mapping.FieldMapping, opt bleveindex.FieldIndexingOptions) {
		fm.Index = opt.IsIndexed()
		fm.Store = opt.IsStored()
		fm.IncludeTermVectors = opt.IncludeTermVectors()
		fm.DocValues = opt.IncludeDocValues()
		fm.IncludeInAll = false
		dm.AddFieldMappingsAt(name, fm)
	}
	text := func(analyzer string) *mapping.FieldMapping {
		fm := bleve.NewTextFieldMapping()
		fm.Analyzer = analyzer
		return fm
	}
	for _, f := range textFields {
		field(f, text(analyzerStandard), optText)
		for _, l := range langs {
			field(f+l.suffix, text(l.analyzer), optLang)
		}
	}
	field("aliases", text(analyzerStandard), optAliases)
	for _, f := range filterFields {
		fm := bleve.NewKeywordFieldMapping()
		fm.Analyzer = keyword.Name
		opt := optFilter
		if storedField(f) {
			opt = optFiltered
		}
		field(f, fm, opt)
	}
	for _, f := range []string{"url", "entity_names"} {
		field(f, text(keyword.Name), optStored)
	}
	field("published", bleve.NewDateTimeFieldMapping(), optDate)
	field("relevant", bleve.NewBooleanFieldMapping(), optRelevant)
	field("version", bleve.NewNumericFieldMapping(), optVersion)

	im.DefaultMapping = dm
	return im, im.Validate()
}

func storedField(f string) bool {
	for _, s := range storedFields {
		if s == f {
			return true
		}
	}
	return false
}

// analyzers are the analyzers newDocument uses, from the index's mapping.
type analyzers struct {
	standard, keyword analysis.Analyzer
	lang              map[string]analysis.Analyzer // by language code
	shared            map[string]sharedAnalysis    // by language code
}

func newAnalyzers(im mapping.IndexMapping) (analyzers, error) {
	a := analyzers{
		standard: im.AnalyzerNamed(analyzerStandard),
		keyword:  im.AnalyzerNamed(keyword.Name),
		lang:     map[string]analysis.Analyzer{},
		shared:   map[string]sharedAnalysis{},
	}
	if a.standard == nil || a.keyword == nil {
		return a, fmt.Errorf("blevestore: the index mapping lacks analyzer %q or %q", analyzerStandard, keyword.Name)
	}
	for _, l := range langs {
		an := im.AnalyzerNamed(l.analyzer)
		if an == nil {
			return a, fmt.Errorf("blevestore: the index mapping lacks analyzer %q", l.analyzer)
		}
		a.lang[l.lang] = an
		a.shared[l.lang] = planShared(a.standard, an)
	}
	return a, nil
}

// language returns the language code of d's language fields: "en", "ru"
// or "" for none.
func language(tag string) string {
	tag, _, _ = strings.Cut(strings.ToLower(tag), "-")
	for _, l := range langs {
		if tag == l.lang {
			return l.lang
		}
	}
	return ""
}

// newDocument builds the bleve document of d; see newMapping.
func (a analyzers) newDocument(d index.Doc) *document.Document {
	doc := document.NewDocument(d.ID)
	lang := language(d.Language)
	suffix := ""
	if lang != "" {
		suffix = "_" + lang
	}
	// The language fields follow all standard ones: bleve analyses
	// fields in order, and a language field reuses the tokens of its
	// standard field.
	var langFields []*document.TextField
	for _, f := range []struct{ name, value string }{{"title", d.Title}, {"summary", d.Summary}, {"text", d.Text}} {
		if f.value == "" {
			continue
		}
		std := a.standard
		value := []byte(f.value)
		if lang != "" {
			// The language field shares the standard field's bytes only
			// when it shares its tokens: an analyzer lower-cases its
			// input in place, and the standard field stores it.
			la, langValue := a.lang[lang], []byte(f.value)
			if sh := a.shared[lang]; sh.ok {
				p := &tokenPair{}
				std, la = stdAnalyzer{an: std, p: p}, langAnalyzer{full: la, rest: sh.rest, p: p}
				langValue = value
			}
			langFields = append(langFields, document.NewTextFieldCustom(f.name+suffix, nil, langValue, optLang, la))
		}
		doc.AddField(document.NewTextFieldCustom(f.name, nil, value, optText, std))
	}
	for _, f := range langFields {
		doc.AddField(f)
	}
	strs := func(name string, values []string, opt bleveindex.FieldIndexingOptions) {
		for i, v := range values {
			var pos []uint64
			if len(values) > 1 {
				pos = []uint64{uint64(i)}
			}
			an := a.keyword
			if name == "aliases" {
				an = a.standard
			}
			doc.AddField(document.NewTextFieldCustom(name, pos, []byte(v), opt, an))
		}
	}
	one := func(v string) []string {
		if v == "" {
			return nil
		}
		return []string{v}
	}
	strs("aliases", d.Aliases, optAliases)
	strs("source", one(d.Source), optFiltered)
	strs("language", one(d.Language), optFiltered)
	strs("conflicts", d.Conflicts, optFiltered)
	strs("topics", d.Topics, optFiltered)
	strs("entity_keys", d.EntityKeys, optFilter)
	strs("url", one(d.URL), optStored)
	strs("entity_names", d.EntityNames, optStored)

	// A date bleve cannot represent (before 1677) is left out, as bleve's
	// mapping does; the article then sorts last by date.
	if pub, err := document.NewDateTimeFieldWithIndexingOptions("published", nil, d.Published, time.RFC3339, optDate); err == nil {
		doc.AddField(pub)
	}
	doc.AddField(document.NewBooleanFieldWithIndexingOptions("relevant", nil, d.Relevant, optRelevant))
	doc.AddField(document.NewNumericFieldWithIndexingOptions("version", nil, float64(d.Version), optVersion))
	return doc
}
