package enrich

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Near-miss spellings. Reporters and feeds misspell surnames ("Mirzoya",
// "Pashinyna"); a name one edit away from a known surname is linked when
// that is safe:
//
//   - the word is capitalised in the text, is at least nearMinRunes long
//     and matched no alias and no taxonomy phrase as written;
//   - it is one edit (insertion, deletion, substitution or transposition
//     of two neighbouring letters) away from a single-word alias of
//     nearMinRunes or more letters of exactly one entity, counting every
//     entity's single-word aliases of nearBlockRunes or more, so a word
//     close to two names (or to a place and a person) links neither;
//   - that alias is an unambiguous, case-insensitive alias of a person;
//   - the story confirms the person as it confirms an ambiguous alias
//     (resolve.go): another mention of the person, of an entity in its
//     context list, or of a place in its country. A capitalised common
//     word that happens to be one edit from a surname ("Dallas", "Kallas")
//     therefore needs a story about the right country before it links;
//   - the word does not end in an English inflection ("-ed", "-ing",
//     "-ly", "-er") that the alias lacks, so "Blinked" at the start of a
//     sentence in a story datelined Washington is not Blinken.
//
// The evidence rule is "near-miss:<alias>".
const (
	nearMinRunes   = 6
	nearBlockRunes = 5
)

// nearMiss indexes the folded single-word aliases and every variant with
// one rune deleted (symmetric-delete lookup): two words are at most one
// edit apart only if one equals the other or a deletion of it, or both
// share a deletion. Keys are polynomial hashes of rune sequences, so the
// hashes of all deletions of a word cost O(length) and each look-up is a
// fast integer map access; withinOneEdit confirms every candidate.
type nearMiss struct {
	m map[uint64][]nearRef
}

type nearRef struct {
	alias  string // the folded alias
	entity int32
	ids    []int32 // the alias pattern id to report; nil when the alias only blocks
}

const nearPrime = 0x100000001b3

// nearScratch is per-call working memory for nearMiss.lookup.
type nearScratch struct {
	runes    []rune
	pre, suf []uint64
	pow      []uint64
}

// deletionHashes calls f with the hash of runes and then with the hash of
// each sequence made by deleting one rune.
func (ns *nearScratch) deletionHashes(runes []rune, f func(h uint64)) {
	n := len(runes)
	ns.pre = append(ns.pre[:0], 0)
	for _, r := range runes {
		ns.pre = append(ns.pre, ns.pre[len(ns.pre)-1]*nearPrime+uint64(r))
	}
	for len(ns.pow) <= n {
		if len(ns.pow) == 0 {
			ns.pow = append(ns.pow, 1)
			continue
		}
		ns.pow = append(ns.pow, ns.pow[len(ns.pow)-1]*nearPrime)
	}
	ns.suf = append(ns.suf[:0], make([]uint64, n+1)...)
	for j := n - 1; j >= 0; j-- {
		ns.suf[j] = uint64(runes[j])*ns.pow[n-1-j] + ns.suf[j+1]
	}
	f(ns.pre[n])
	for i := range n {
		f(ns.pre[i]*ns.pow[n-1-i] + ns.suf[i+1])
	}
}

func (e *Enricher) buildNearMiss(gaz Gazetteer) nearMiss {
	n := nearMiss{m: map[uint64][]nearRef{}}
	var ns nearScratch
	add := func(key uint64, ref nearRef) {
		refs := n.m[key]
		for _, r := range refs {
			if r.alias == ref.alias && r.entity == ref.entity {
				return
			}
		}
		n.m[key] = append(refs, ref)
	}
	for i, g := range gaz.Entities {
		if g.Type == typeNone {
			continue
		}
		list := func(aliases []Alias, ambiguous bool) {
			for _, a := range aliases {
				key := foldKey(a.Text)
				runes := []rune(key)
				if len(runes) < nearBlockRunes || len(words(key)) != 1 {
					continue
				}
				ref := nearRef{alias: key, entity: int32(i)}
				if g.Type == "person" && !ambiguous && !a.CaseSensitive && len(runes) >= nearMinRunes {
					ref.ids = []int32{int32(len(e.aliases))}
					e.aliases = append(e.aliases, aliasRef{entity: int32(i), ambiguous: true, rule: "near-miss:" + a.Text})
				}
				ns.deletionHashes(runes, func(h uint64) { add(h, ref) })
			}
		}
		list(g.Aliases, false)
		list(g.Ambiguous, true)
	}
	return n
}

// lookup returns the alias pattern ids (one id, a slice shared with the
// index and never modified) of the one person surname within one edit of
// the folded word w, or nil.
func (n *nearMiss) lookup(w []byte, ns *nearScratch) []int32 {
	if len(n.m) == 0 {
		return nil
	}
	ns.runes = ns.runes[:0]
	for len(w) > 0 {
		r, size := utf8.DecodeRune(w)
		ns.runes = append(ns.runes, r)
		w = w[size:]
	}
	if len(ns.runes) < nearMinRunes {
		return nil
	}
	var found []int32
	entity := int32(-1)
	ok := true
	ns.deletionHashes(ns.runes, func(h uint64) {
		if !ok {
			return
		}
		for _, r := range n.m[h] {
			if !withinOneEdit(ns.runes, r.alias) || englishInflection(ns.runes, r.alias) {
				continue
			}
			if entity >= 0 && r.entity != entity {
				ok = false // close to two entities: ambiguous
				return
			}
			entity = r.entity
			if r.ids != nil && found == nil {
				found = r.ids
			}
		}
	})
	if !ok {
		return nil
	}
	return found
}

// englishInflection reports whether w ends in an English inflection that
// alias does not end in.
func englishInflection(w []rune, alias string) bool {
	for _, suf := range [...]string{"ed", "ing", "ly", "er"} {
		if hasRuneSuffix(w, suf) && !strings.HasSuffix(alias, suf) {
			return true
		}
	}
	return false
}

func hasRuneSuffix(w []rune, suf string) bool {
	if len(w) < len(suf) {
		return false
	}
	return string(w[len(w)-len(suf):]) == suf
}

// withinOneEdit reports whether a and b differ by at most one insertion,
// deletion, substitution or transposition of neighbouring runes.
func withinOneEdit(ra []rune, b string) bool {
	rb := []rune(b)
	if string(ra) == b {
		return false // the same word: not a near miss (an exact alias that was filtered out)
	}
	if len(ra) < len(rb) {
		ra, rb = rb, ra
	}
	i := 0
	for i < len(rb) && ra[i] == rb[i] {
		i++
	}
	switch len(ra) - len(rb) {
	case 0:
		if string(ra[i+1:]) == string(rb[i+1:]) {
			return true // substitution
		}
		return i+1 < len(ra) && ra[i] == rb[i+1] && ra[i+1] == rb[i] && string(ra[i+2:]) == string(rb[i+2:])
	case 1:
		return string(ra[i+1:]) == string(rb[i:])
	}
	return false
}

// startsUpper reports whether s begins with an upper-case letter.
func startsUpper(s string) bool {
	if s == "" {
		return false
	}
	if b := s[0]; b < utf8.RuneSelf {
		return 'A' <= b && b <= 'Z'
	}
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsUpper(r) || unicode.IsTitle(r)
}

// caseLetters returns the letters and digits of s as written.
func caseLetters(s string) string {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			out = append(out, r)
		}
	}
	return string(out)
}

// sameLetters reports whether the letters and digits of s, as written, are
// exactly want.
func sameLetters(s, want string) bool {
	j := 0
	for _, r := range s {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			continue
		}
		w, n := utf8.DecodeRuneInString(want[j:])
		if n == 0 || w != r {
			return false
		}
		j += n
	}
	return j == len(want)
}

// exactFilter drops from ids the case-sensitive aliases whose letters the
// matched text does not spell with the same case. It returns ids itself
// when nothing is dropped, so the common case does not allocate.
func (e *Enricher) exactFilter(ids []int32, text string) []int32 {
	drop := 0
	for _, id := range ids {
		if x := e.aliases[id].exact; x != "" && !sameLetters(text, x) {
			drop++
		}
	}
	if drop == 0 {
		return ids
	}
	if drop == len(ids) {
		return nil
	}
	out := make([]int32, 0, len(ids)-drop)
	for _, id := range ids {
		if x := e.aliases[id].exact; x == "" || sameLetters(text, x) {
			out = append(out, id)
		}
	}
	return out
}
