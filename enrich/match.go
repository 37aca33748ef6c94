package enrich

// A dict finds whole-word, leftmost-longest, non-overlapping occurrences of
// many folded phrases in folded text. It works on words rather than bytes:
// every phrase and every proper word-prefix of a phrase is a key of one hash
// map, so a scan does about one map look-up per word of text and never
// reports a match that starts or ends inside a word. That gives the
// guarantees of a leftmost-longest Aho-Corasick automaton restricted to word
// boundaries, with less code to get wrong.
type dict struct {
	m        map[string]*dictEntry
	maxWords int
}

type dictEntry struct {
	ids    []int32 // patterns whose folded key is exactly this; nil for a pure prefix
	prefix bool    // some longer key starts with these words
}

func newDict() *dict { return &dict{m: make(map[string]*dictEntry)} }

// add registers pattern id under a folded key (words joined by single
// spaces). Empty keys are ignored.
func (d *dict) add(key string, id int32) {
	if key == "" {
		return
	}
	ws := words(key)
	if len(ws) > d.maxWords {
		d.maxWords = len(ws)
	}
	n := 0
	for i, w := range ws {
		n += len(w)
		if i > 0 {
			n++ // the space before w
		}
		e := d.m[key[:n]]
		if e == nil {
			e = &dictEntry{}
			d.m[key[:n]] = e
		}
		if i == len(ws)-1 {
			for _, old := range e.ids {
				if old == id {
					return
				}
			}
			e.ids = append(e.ids, id)
		} else {
			e.prefix = true
		}
	}
}

// hit is a match of tokens i..j (inclusive) against the patterns ids.
type hit struct {
	i, j int
	ids  []int32
}

// scan appends to hits the leftmost-longest non-overlapping matches in f.
// A match never spans a hard separator.
func (d *dict) scan(f *folded, hits []hit) []hit {
	n := len(f.toks)
	for i := 0; i < n; {
		best, bestIDs := -1, []int32(nil)
		for j := i; j < n && j < i+d.maxWords; j++ {
			if j > i && f.toks[j].hard {
				break
			}
			e := d.m[f.key(i, j)]
			if e == nil {
				break
			}
			if e.ids != nil {
				best, bestIDs = j, e.ids
			}
			if !e.prefix {
				break
			}
		}
		if best < 0 {
			i++
			continue
		}
		hits = append(hits, hit{i: i, j: best, ids: bestIDs})
		i = best + 1
	}
	return hits
}
