package enrich

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxVariants bounds the inflected variants generated for one phrase.
const maxVariants = 256

// inflections returns the folded key and, for phrases with Russian words,
// the keys of their likely case forms (Степанакерт → Степанакерта,
// Степанакерте…; мина → мины, мин…; Южная Осетия → Южной Осетии…). The
// rules over-generate on purpose: a form that no text contains costs one
// map entry, a missing form costs a missed tag.
func inflections(key string) []string {
	ws := words(key)
	forms := make([][]string, len(ws))
	total := 1
	for i, w := range ws {
		forms[i] = russianForms(w)
		total *= len(forms[i])
	}
	if total == 1 {
		return []string{key}
	}
	out := []string{""}
	for i, fs := range forms {
		next := make([]string, 0, len(out)*len(fs))
		for _, prefix := range out {
			for _, f := range fs {
				if i > 0 {
					next = append(next, prefix+" "+f)
				} else {
					next = append(next, f)
				}
				if len(next) >= maxVariants {
					break
				}
			}
		}
		out = next
	}
	return out
}

func isCyrillicWord(w string) bool {
	if utf8.RuneCountInString(w) < 3 {
		return false
	}
	for _, r := range w {
		if !unicode.Is(unicode.Cyrillic, r) {
			return false
		}
	}
	return true
}

// russianForms returns w followed by its generated case forms when w is a
// Russian word of at least three letters; otherwise just w.
func russianForms(w string) []string {
	if !isCyrillicWord(w) {
		return []string{w}
	}
	has := func(suf string) bool { return strings.HasSuffix(w, suf) }
	stem := func(suf string) string { return strings.TrimSuffix(w, suf) }
	add := func(s string, sufs ...string) []string {
		out := []string{w}
		for _, x := range sufs {
			out = append(out, s+x)
		}
		return out
	}
	switch {
	// Adjectives (Нагорный, Южная, Армянское…).
	case has("ый"), has("ой") && utf8.RuneCountInString(w) > 4:
		s := w[:len(w)-len("ый")]
		return add(s, "ого", "ому", "ым", "ом", "ая", "ой", "ую", "ое", "ые", "ых", "ыми")
	case has("ий"):
		s := stem("ий")
		return add(s, "ого", "его", "ому", "ему", "им", "ом", "ем", "ая", "яя", "ой", "ей", "ую", "юю", "ое", "ее", "ие", "их", "ими")
	case has("ая"):
		s := stem("ая")
		return add(s, "ой", "ую", "ый", "ий", "ого", "ые", "ых", "ым", "ыми", "ие", "их")
	case has("яя"):
		s := stem("яя")
		return add(s, "ей", "юю", "ий", "его", "ие", "их")
	case has("ое"), has("ее"):
		s := w[:len(w)-len("ое")]
		return add(s, "ого", "ому", "ым", "ом", "ый", "ые", "ых", "его", "ему", "им", "ем")
	case has("ые"), has("ие"):
		s := w[:len(w)-len("ые")]
		return add(s, "ых", "ым", "ыми", "их", "им", "ими")
	// Nouns.
	case has("ия"):
		s := stem("ия")
		return add(s, "ии", "ию", "ией", "ий", "иям", "иями", "иях")
	case has("а"):
		s := stem("а")
		return add(s, "", "ы", "и", "е", "у", "ой", "ою", "ам", "ами", "ах")
	case has("я"):
		s := stem("я")
		return add(s, "и", "е", "ю", "ей", "ям", "ями", "ях", "ь")
	case has("ь"):
		s := stem("ь")
		return add(s, "и", "ью", "ем", "я", "ю", "е", "ей", "ям", "ях")
	case has("й"):
		s := stem("й")
		return add(s, "я", "ю", "ем", "е", "и", "ев", "ям", "ях")
	case has("ы"):
		s := stem("ы")
		return add(s, "", "ов", "ам", "ами", "ах", "ов")
	case has("цы"), has("и"):
		s := w[:len(w)-len("и")]
		return add(s, "ей", "ам", "ями", "ами", "ах", "ях", "ов", "ев")
	case has("о"), has("е"), has("у"), has("ю"):
		return []string{w} // indeclinable (Баку, Гали, Ханкенди…)
	default: // a consonant: Степанакерт, Пашинян, Алиев
		return add(w, "а", "у", "ом", "ым", "е", "ы", "и", "ов", "ам", "ами", "ах", "ой", "ой")
	}
}
