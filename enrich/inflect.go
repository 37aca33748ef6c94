package enrich

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxVariants bounds the inflected variants generated for one phrase.
const maxVariants = 256

// inflections returns the folded key and, for phrases with Russian,
// Armenian or Georgian words, the keys of their likely case forms
// (Степанакерт → Степанакерта, Степанакерте…; мина → мины, мин…; Южная
// Осетия → Южной Осетии…; Ստեփանակերտ → Ստեփանակերտում…; თბილისი →
// თბილისში…). The
// rules over-generate on purpose: a form that no text contains costs one
// map entry, a missing form costs a missed tag.
func inflections(key string) []string {
	ws := words(key)
	forms := make([][]string, len(ws))
	total := 1
	for i, w := range ws {
		forms[i] = wordForms(w)
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

// wordForms returns w followed by its generated case forms, by script.
func wordForms(w string) []string {
	r, _ := utf8.DecodeRuneInString(w)
	switch {
	case unicode.Is(unicode.Armenian, r):
		return armenianForms(w)
	case unicode.Is(unicode.Georgian, r):
		return georgianForms(w)
	}
	return russianForms(w)
}

// armenianForms adds the common noun endings of Eastern Armenian to a word
// of at least three letters: genitive-dative -ի, ablative -ից,
// instrumental -ով, locative -ում and the article -ը/-ն; after a vowel
// the endings take a glide (Մոսկվա → Մոսկվայի, Մոսկվայում). Lower case,
// as the text is folded.
func armenianForms(w string) []string {
	if utf8.RuneCountInString(w) < 3 {
		return []string{w}
	}
	last, _ := utf8.DecodeLastRuneInString(w)
	out := []string{w}
	switch last {
	case 'ա', 'ո', 'ե', 'է', 'ի', 'ւ':
		for _, x := range []string{"յի", "յից", "յով", "յում", "ն", "ին"} {
			out = append(out, w+x)
		}
		if last == 'ա' || last == 'ի' {
			out = append(out, w+"ի", w+"ից", w+"ում")
		}
	default:
		for _, x := range []string{"ի", "ից", "ով", "ում", "ը", "ն", "ին", "երի"} {
			out = append(out, w+x)
		}
	}
	return out
}

// georgianForms adds the common case endings and fused postpositions of
// Georgian to a word of at least three letters: a final -ი is dropped
// before genitive -ის, dative -ს, instrumental -ით, adverbial -ად and
// -ში (in), -ზე (on), -თან (at), -იდან (from), -ისთვის (for); a final
// vowel other than -ი is kept (ბაქო → ბაქოში, ბაქოს, ბაქოდან).
func georgianForms(w string) []string {
	if utf8.RuneCountInString(w) < 3 {
		return []string{w}
	}
	last, size := utf8.DecodeLastRuneInString(w)
	out := []string{w}
	switch last {
	case 'ი':
		s := w[:len(w)-size]
		for _, x := range []string{"ის", "ს", "ით", "ად", "ში", "ზე", "თან", "იდან", "ისთვის", "ისკენ"} {
			out = append(out, s+x)
		}
	case 'ა':
		s := w[:len(w)-size]
		for _, x := range []string{"ის", "ით", "იდან", "ისთვის"} {
			out = append(out, s+x)
		}
		for _, x := range []string{"ს", "ში", "ზე", "თან", "ად"} {
			out = append(out, w+x)
		}
	case 'ო', 'ე', 'უ':
		for _, x := range []string{"ს", "ში", "ზე", "თან", "დან", "თი", "სთვის"} {
			out = append(out, w+x)
		}
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
