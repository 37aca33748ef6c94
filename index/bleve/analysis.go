package blevestore

import (
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/analysis/lang/en"
	"github.com/blevesearch/bleve/v2/analysis/token/lowercase"
	"github.com/blevesearch/bleve/v2/analysis/tokenizer/unicode"
)

// Tokenising is a third of the analysis. The standard analyzer and the
// language analyzers share their tokenizer (unicode) and lower-casing, so
// an article's text field and its language field are tokenised once: the
// standard field's analysis keeps its tokens, and the language field runs
// only its remaining filters (stop words, stemming) over a copy of them.
//
// The English analyzer runs its possessive filter ("'s") before
// lower-casing; after it gives the same terms, since the filter strips an
// apostrophe and an 's' or 'S'. TestSharedAnalysisMatches holds the
// shortcut to the analyzers it replaces, which queries still use.

// sharedAnalysis holds one analyzer's plan for reusing the standard
// tokens: the filters it runs after lower-casing. ok is false when the
// analyzers are not of the expected shape, and each field is then
// analysed on its own.
type sharedAnalysis struct {
	ok   bool
	rest []analysis.TokenFilter
}

// planShared reports how lang can reuse the tokens of std.
func planShared(std, lang analysis.Analyzer) sharedAnalysis {
	s, ok1 := std.(*analysis.DefaultAnalyzer)
	l, ok2 := lang.(*analysis.DefaultAnalyzer)
	if !ok1 || !ok2 || s.CharFilters != nil || l.CharFilters != nil ||
		len(s.TokenFilters) != 1 || !isLowercase(s.TokenFilters[0]) ||
		!isUnicode(s.Tokenizer) || !isUnicode(l.Tokenizer) {
		return sharedAnalysis{}
	}
	var rest []analysis.TokenFilter
	lowered := false
	for _, f := range l.TokenFilters {
		switch {
		case isLowercase(f):
			lowered = true
		case lowered || isPossessive(f):
			rest = append(rest, f)
		default:
			// A filter other than the possessive one before lower-casing
			// might see case: do not reorder it.
			return sharedAnalysis{}
		}
	}
	if !lowered {
		return sharedAnalysis{}
	}
	return sharedAnalysis{ok: true, rest: rest}
}

func isLowercase(f analysis.TokenFilter) bool  { _, ok := f.(*lowercase.LowerCaseFilter); return ok }
func isUnicode(t analysis.Tokenizer) bool      { _, ok := t.(*unicode.UnicodeTokenizer); return ok }
func isPossessive(f analysis.TokenFilter) bool { _, ok := f.(*en.PossessiveFilter); return ok }

// tokenPair passes the standard tokens of one text to its language
// field. One is made per text field of a document; bleve analyses a
// document's fields in order on one goroutine.
type tokenPair struct {
	tokens analysis.TokenStream
	done   bool
}

// stdAnalyzer is the standard analyzer, keeping its tokens in p.
type stdAnalyzer struct {
	an analysis.Analyzer
	p  *tokenPair
}

func (a stdAnalyzer) Analyze(in []byte) analysis.TokenStream {
	ts := a.an.Analyze(in)
	a.p.tokens, a.p.done = ts, true
	return ts
}

// langAnalyzer finishes the language analysis on the tokens of p, or
// analyses the text afresh when the standard field was not analysed
// first.
type langAnalyzer struct {
	full analysis.Analyzer
	rest []analysis.TokenFilter
	p    *tokenPair
}

func (a langAnalyzer) Analyze(in []byte) analysis.TokenStream {
	if !a.p.done {
		// in is the standard field's stored text: analyse a copy.
		return a.full.Analyze(append([]byte(nil), in...))
	}
	// The standard field has already counted its terms. The filters
	// below replace a token's Term (stemmers build new slices, the
	// possessive filter shortens it) or drop tokens from the copied
	// stream; none writes into the bytes the standard terms share.
	ts := make(analysis.TokenStream, len(a.p.tokens))
	copy(ts, a.p.tokens)
	a.p.tokens, a.p.done = nil, false
	for _, f := range a.rest {
		ts = f.Filter(ts)
	}
	return ts
}
