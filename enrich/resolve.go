package enrich

import "github.com/wiredesk/wiredesk/ingest/article"

// mention is an entity hit before ambiguity is resolved.
type mention struct {
	field      uint8 // index into the fields of tag
	start, end int32 // byte offsets in the field
	pos        float64
	ids        []int32 // alias pattern ids; shared with the dictionary, never modified
}

// resolved collects the linked mentions of one entity.
type resolved struct {
	entity   int
	pos      []float64
	evidence []article.Evidence
}

// resolver holds per-call state of resolve, pooled in scratch. Its tables
// are indexed by entity and reset through the touched list.
type resolver struct {
	slot      []int32 // entity → 1 + index into linked; 0 when not linked
	confirmed []bool
	touched   []int32
	countries []string
	linked    []resolved
}

func (r *resolver) reset() {
	for _, ei := range r.touched {
		r.slot[ei] = 0
		r.confirmed[ei] = false
	}
	r.touched = r.touched[:0]
	r.countries = r.countries[:0]
	r.linked = r.linked[:0]
}

func (r *resolver) touch(ei int32) {
	if r.slot[ei] == 0 && !r.confirmed[ei] {
		r.touched = append(r.touched, ei)
	}
}

// resolve links mentions to entities. A mention whose name belongs to one
// entity, and is not marked ambiguous, links directly. An ambiguous mention
// links to the single candidate that the story confirms best: first by an
// unambiguous mention of the same entity, then by one of an entity in its
// context list, then by a place in the same country. When no candidate, or
// several at the same level, are confirmed, the mention stays unlinked:
// a shared surname is never guessed. Linked entities are returned in order
// of first appearance; fieldText maps a mention to its evidence.
func (e *Enricher) resolve(r *resolver, mentions []mention, fields []fieldText) []resolved {
	r.reset()
	for _, m := range mentions {
		if ei, ok := e.direct(m.ids); ok {
			r.touch(ei)
			r.confirmed[ei] = true
			if en := &e.entities[ei]; en.place && en.country != "" {
				r.countries = append(r.countries, en.country)
			}
		}
	}
	for _, m := range mentions {
		ei, ok := e.direct(m.ids)
		if !ok {
			ei, ok = e.pick(r, m.ids)
		}
		if !ok || e.entities[ei].out.Type == typeNone {
			continue
		}
		rule := ""
		for _, id := range m.ids {
			if a := e.aliases[id]; a.entity == ei {
				rule = a.rule
				break
			}
		}
		r.touch(ei)
		if r.slot[ei] == 0 {
			r.linked = append(r.linked, resolved{entity: int(ei), evidence: []article.Evidence{}})
			r.slot[ei] = int32(len(r.linked))
		}
		res := &r.linked[r.slot[ei]-1]
		res.pos = append(res.pos, m.pos)
		if len(res.evidence) < maxEvidence {
			f := fields[m.field]
			res.evidence = append(res.evidence, article.Evidence{
				Field: f.name, Start: int(m.start), End: int(m.end), Text: f.text[m.start:m.end], Rule: rule,
			})
		}
	}
	return r.linked
}

// direct returns the entity of a mention whose aliases all name one entity
// and none is ambiguous.
func (e *Enricher) direct(ids []int32) (int32, bool) {
	if len(ids) == 0 {
		return 0, false
	}
	first := e.aliases[ids[0]]
	for _, id := range ids {
		if a := e.aliases[id]; a.ambiguous || a.entity != first.entity {
			return 0, false
		}
	}
	return first.entity, true
}

// pick chooses among the candidates of an ambiguous mention; see resolve.
func (e *Enricher) pick(r *resolver, ids []int32) (int32, bool) {
	best, bestLevel, n := int32(-1), 0, 0
	for k, id := range ids {
		ei := e.aliases[id].entity
		dup := false
		for _, prev := range ids[:k] {
			dup = dup || e.aliases[prev].entity == ei
		}
		if dup {
			continue
		}
		level := e.support(r, ei)
		switch {
		case level == 0:
		case level > bestLevel:
			best, bestLevel, n = ei, level, 1
		case level == bestLevel:
			n++
		}
	}
	return best, n == 1
}

// support rates how strongly the story confirms entity ei: 3 for its own
// unambiguous mention, 2 for a context entity, 1 for a place in its country.
func (e *Enricher) support(r *resolver, ei int32) int {
	if r.confirmed[ei] {
		return 3
	}
	en := &e.entities[ei]
	for _, c := range en.context {
		if r.confirmed[c] {
			return 2
		}
	}
	for _, c := range r.countries {
		if c == en.country {
			return 1
		}
	}
	return 0
}
