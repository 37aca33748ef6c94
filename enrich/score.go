package enrich

import (
	"math"
	"strings"

	"github.com/wiredesk/wiredesk/ingest/article"
)

// Scoring, as documented for newsroom staff:
//
//   - Every match is weighted by where it occurs (taxonomy positions: the
//     title counts most, then the summary and the first two paragraphs,
//     then the rest). One entity or phrase counts at most maxRepeats times.
//   - Conflict evidence C(k) sums the weights of the entities tagged with
//     conflict k and of k's own phrases. C is the largest C(k).
//   - Framing evidence F sums topic scores (after negative phrases, times
//     each topic's framing factor), framing phrases and half the conflict
//     phrases, minus off-topic phrases.
//   - relevance = sqrt((1-exp(-C/conflict_scale)) * (1-exp(-F/framing_scale))),
//     a number in [0,1] that needs both a Caucasus anchor and conflict
//     framing; a story is relevant when relevance >= threshold.
//   - A relevant story lists every conflict with C(k) >= conflict_share*C,
//     and every topic whose score reaches its min_score and whose context
//     (if any) is present. Stories that are not relevant get no conflicts
//     and no topics; their entities are still linked, for search.
const (
	maxRepeats  = 3
	maxEvidence = 8
	leadParas   = 2
)

type fieldText struct {
	name string
	text string
	// leadEnd: matches starting before it get the lead weight.
	leadEnd int
	weight  float64 // weight of the whole field (title, summary) or of the tail
}

func (e *Enricher) tag(out *article.Enriched) {
	s := e.pool.Get().(*scratch)
	defer e.pool.Put(s)

	pw := e.tax.Positions
	fields := []fieldText{
		{name: "title", text: out.Title, weight: pw.Title},
		{name: "summary", text: out.Summary, weight: pw.Summary},
		{name: "text", text: out.Text, weight: pw.Body, leadEnd: leadEnd(out.Text)},
	}
	mentions := s.mentions[:0]
	defer func() { s.mentions = mentions[:0] }()
	topicRaw := make([]float64, len(e.tax.Topics))
	topicEv := make([][]article.Evidence, len(e.tax.Topics))
	topicCtx := make([]bool, len(e.tax.Topics))
	conflictEv := make([]float64, len(e.tax.Conflicts))
	var framing float64
	var lang langCounter
	defer func() {
		for _, id := range s.touched {
			s.repeats[id] = 0
		}
		s.touched = s.touched[:0]
	}()

	for fi, fld := range fields {
		if fld.text == "" {
			continue
		}
		foldText(fld.text, &s.f)
		lang.addRunes(fld.text)
		lang.addWords(&s.f)
		posOf := func(h hit) float64 {
			if int(s.f.toks[h.i].start) < fld.leadEnd {
				return pw.Lead
			}
			return fld.weight
		}
		evOf := func(h hit, rule string) article.Evidence {
			a, b := s.f.toks[h.i].start, s.f.toks[h.j].end
			return article.Evidence{Field: fld.name, Start: int(a), End: int(b), Text: fld.text[a:b], Rule: rule}
		}
		s.hits = e.entDict.scan(&s.f, s.hits[:0])
		next := 0 // first token not yet examined for near misses
		for _, h := range s.hits {
			mentions = e.nearMisses(s, uint8(fi), fld.text, next, h.i, mentions, posOf)
			next = h.j + 1
			a, b := s.f.toks[h.i].start, s.f.toks[h.j].end
			ids := h.ids
			if e.hasExact {
				if ids = e.exactFilter(ids, fld.text[a:b]); ids == nil {
					continue
				}
			}
			mentions = append(mentions, mention{field: uint8(fi), start: a, end: b, pos: posOf(h), ids: ids})
		}
		mentions = e.nearMisses(s, uint8(fi), fld.text, next, len(s.f.toks), mentions, posOf)
		s.hits = e.phrDict.scan(&s.f, s.hits[:0])
		for _, h := range s.hits {
			pos := posOf(h)
			for k, id := range h.ids {
				p := e.phrases[id]
				if sameRuleBefore(e.phrases, h.ids[:k], p) {
					continue // two spellings of one phrase ("mine action", "mine-action")
				}
				if p.kind == kindContext {
					topicCtx[p.target] = true
					continue
				}
				if s.repeats[p.ruleID] == 0 {
					s.touched = append(s.touched, p.ruleID)
				}
				if s.repeats[p.ruleID] >= maxRepeats {
					continue
				}
				s.repeats[p.ruleID]++
				w := p.weight * pos
				switch p.kind {
				case kindTopic:
					topicRaw[p.target] += w
					if len(topicEv[p.target]) < maxEvidence {
						topicEv[p.target] = append(topicEv[p.target], evOf(h, p.rule))
					}
				case kindNegative:
					topicRaw[p.target] -= w
				case kindConflict:
					conflictEv[p.target] += w
					framing += w / 2 // naming the conflict frames the story, too
				case kindFraming:
					framing += w
				case kindOffTopic:
					framing -= w
				}
			}
		}
	}

	out.Language = lang.language()
	linked := e.resolve(&s.res, mentions, fields)
	for _, ent := range linked {
		en := e.entities[ent.entity]
		contribution := 0.0
		for k, pos := range ent.pos {
			if k >= maxRepeats {
				break
			}
			contribution += en.weight * pos
		}
		for _, c := range en.conflicts {
			conflictEv[c] += contribution
		}
		o := en.out
		o.Aliases = append([]string(nil), en.out.Aliases...)
		o.Evidence = ent.evidence
		out.Entities = append(out.Entities, o)
		if o.Location != nil {
			loc := *o.Location
			o.Location = &loc
			out.Entities[len(out.Entities)-1].Location = &loc
			out.Locations = append(out.Locations, loc)
		}
	}
	for ti, t := range e.tax.Topics {
		if topicRaw[ti] > 0 {
			f := 1.0
			if t.Framing != nil {
				f = *t.Framing
			}
			framing += f * topicRaw[ti]
		}
	}

	c := 0.0
	for _, v := range conflictEv {
		c = math.Max(c, v)
	}
	r := e.tax.Relevance
	sc := 1 - math.Exp(-c/r.ConflictScale)
	sf := 1 - math.Exp(-math.Max(0, framing)/r.FramingScale)
	out.Relevance = round3(math.Sqrt(sc * sf))
	out.Relevant = out.Relevance >= r.Threshold
	if !out.Relevant {
		return
	}
	detected := map[int]bool{}
	for k, v := range conflictEv {
		if v > 0 && v >= r.ConflictShare*c {
			out.Conflicts = append(out.Conflicts, e.tax.Conflicts[k].ID)
			detected[k] = true
		}
	}
	for ti, t := range e.tax.Topics {
		if topicRaw[ti] < t.MinScore {
			continue
		}
		if !e.contextOK(ti, topicCtx[ti], &s.res, detected) {
			continue
		}
		out.Topics = append(out.Topics, article.Topic{
			ID:       t.ID,
			Score:    round3(1 - math.Exp(-topicRaw[ti]/(2*t.MinScore))),
			Evidence: topicEv[ti],
		})
	}
}

// contextOK reports whether topic ti's required context is present: one of
// its context phrases or entities, or one of its conflicts. A topic with no
// context rules needs nothing beyond the story being relevant.
func (e *Enricher) contextOK(ti int, phraseSeen bool, r *resolver, detected map[int]bool) bool {
	t := e.tax.Topics[ti]
	if len(t.Context) == 0 && len(t.Conflicts) == 0 {
		return true
	}
	if phraseSeen {
		return true
	}
	for _, ei := range e.topicCtx[ti] {
		if r.slot[ei] != 0 {
			return true
		}
	}
	for _, c := range t.Conflicts {
		if detected[e.conflicts[c]] {
			return true
		}
	}
	return false
}

// sameRuleBefore reports whether one of ids counts for the same kind and
// target as p, so that a span counts once per topic or conflict.
func sameRuleBefore(phrases []phraseRef, ids []int32, p phraseRef) bool {
	for _, id := range ids {
		if q := phrases[id]; q.kind == p.kind && q.target == p.target {
			return true
		}
	}
	return false
}

// leadEnd returns the byte offset where the third paragraph of text starts.
func leadEnd(text string) int {
	at := 0
	for range leadParas {
		i := strings.Index(text[at:], "\n\n")
		if i < 0 {
			return len(text)
		}
		at += i + 2
	}
	return at
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// nearMisses appends a mention for each of the tokens from..to-1 of s.f
// (none of which matched an alias) that is a near-miss spelling of a
// person's surname; see near.go.
func (e *Enricher) nearMisses(s *scratch, field uint8, text string, from, to int, mentions []mention, posOf func(hit) float64) []mention {
	for k := from; k < to; k++ {
		t := s.f.toks[k]
		w := s.f.buf[t.fs:t.fe]
		if len(w) < nearMinRunes || !startsUpper(text[t.start:]) {
			continue
		}
		if _, known := e.knownWords[unsafeString(w)]; known {
			continue // a word of some alias or phrase, not a misspelt name
		}
		if _, common := stopwords[unsafeString(w)]; common {
			continue
		}
		ids := e.near.lookup(w, &s.near)
		if ids == nil {
			continue
		}
		mentions = append(mentions, mention{field: field, start: t.start, end: t.end, pos: posOf(hit{i: k, j: k}), ids: ids})
	}
	return mentions
}
