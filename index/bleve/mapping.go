package blevestore

import (
	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/custom"
	"github.com/blevesearch/bleve/v2/analysis/analyzer/keyword"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/analysis/lang/ru"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
	"github.com/blevesearch/bleve/v2/mapping"
)

// mappingVersion is stored in the index; an index built with another
// mapping is refused at Open rather than searched wrongly.
const mappingVersion = "wiredesk-articles/1"

const (
	// analyzerStandard mirrors Elasticsearch's standard analyzer: Unicode
	// word segmentation and lower-casing, no stop words (bleve's own
	// "standard" analyzer drops English stop words, which Elasticsearch's
	// does not; the two engines must agree on what a word matches).
	analyzerStandard = "wd_standard"
)

// Field names beyond those of index.Doc: the language sub-fields of the
// text fields. Bleve ships English and Russian analyzers; its Armenian
// support is a stop list without a stemmer, which adds nothing over the
// standard field, so there is no Armenian sub-field here (Elasticsearch
// has one).
var (
	textFields = []string{"title", "summary", "text"}
	langs      = []struct{ suffix, analyzer string }{{"_en", en.AnalyzerName}, {"_ru", ru.AnalyzerName}}
	// searchFields are the fields free text is matched against, with
	// their analyzers. Queries must name the analyzer: bleve finds a
	// field's analyzer by document path, and a sub-field like "title_en"
	// has no path of its own.
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
	// storedFields are returned with each hit.
	storedFields  = []string{"title", "url", "source", "language", "published", "topics", "conflicts", "entity_names", "summary", "text"}
	keywordFields = []string{
		"id", "revision", "source", "language", "published_from",
		"conflicts", "topics", "entity_ids", "entity_qids", "entity_names",
		"people", "places", "orgs", "entity_keys", "authors", "categories",
		"taxonomy_version", "gazetteer_version",
	}
)

type fieldAnalyzer struct{ field, analyzer string }

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

	for _, f := range textFields {
		std := bleve.NewTextFieldMapping()
		std.Analyzer = analyzerStandard
		std.Store = true
		std.IncludeTermVectors = true // the highlighter needs the positions
		std.IncludeInAll = false
		fms := []*mapping.FieldMapping{std}
		for _, l := range langs {
			fm := bleve.NewTextFieldMapping()
			fm.Name = f + l.suffix
			fm.Analyzer = l.analyzer
			fm.Store = false
			fm.IncludeTermVectors = false
			fm.IncludeInAll = false
			fms = append(fms, fm)
		}
		dm.AddFieldMappingsAt(f, fms...)
	}

	aliases := bleve.NewTextFieldMapping()
	aliases.Analyzer = analyzerStandard
	aliases.Store = false
	aliases.IncludeTermVectors = false
	aliases.IncludeInAll = false
	dm.AddFieldMappingsAt("aliases", aliases)

	for _, f := range keywordFields {
		fm := bleve.NewKeywordFieldMapping()
		fm.Analyzer = keyword.Name
		fm.Store = storedField(f)
		fm.IncludeTermVectors = false
		fm.IncludeInAll = false
		fm.DocValues = f == "id" || f == "source"
		dm.AddFieldMappingsAt(f, fm)
	}

	for _, f := range []string{"published", "fetched", "enriched"} {
		fm := bleve.NewDateTimeFieldMapping()
		fm.Store = storedField(f)
		fm.IncludeInAll = false
		fm.DocValues = f == "published"
		dm.AddFieldMappingsAt(f, fm)
	}

	relevant := bleve.NewBooleanFieldMapping()
	relevant.Store = false
	relevant.IncludeInAll = false
	dm.AddFieldMappingsAt("relevant", relevant)

	relevance := bleve.NewNumericFieldMapping()
	relevance.Store = false
	relevance.IncludeInAll = false
	dm.AddFieldMappingsAt("relevance", relevance)

	version := bleve.NewNumericFieldMapping()
	version.Store = true // read back to refuse stale revisions
	version.Index = false
	version.IncludeInAll = false
	version.DocValues = false
	dm.AddFieldMappingsAt("version", version)

	geo := bleve.NewGeoPointFieldMapping()
	geo.Store = false
	geo.IncludeInAll = false
	dm.AddFieldMappingsAt("locations", geo)

	for _, f := range []string{"url", "evidence"} {
		fm := bleve.NewTextFieldMapping()
		fm.Index = false
		fm.Store = true
		fm.IncludeTermVectors = false
		fm.IncludeInAll = false
		fm.DocValues = false
		dm.AddFieldMappingsAt(f, fm)
	}

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
