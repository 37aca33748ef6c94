package enrich

import (
	"unicode"
	"unicode/utf8"
)

// Language detection for the languages the newsroom reads: English,
// Russian, Armenian, Azerbaijani, Georgian, Turkish and French. The script
// decides Armenian, Georgian and Russian outright; among Latin-script
// languages, letters that only one of them uses and short function words
// decide. That is far smaller than a general detector and, for these seven
// languages, more reliable on short news copy.

// langSample bounds the text examined.
const langSample = 4096

// stopwords are frequent function words per Latin-script language, folded
// like the text (no case, no diacritics). Words shared by several of the
// languages are left out or given to the one that uses them most.
var stopwords = map[string]string{
	// English
	"the": "en", "and": "en", "of": "en", "to": "en", "in": "en", "is": "en", "was": "en",
	"that": "en", "for": "en", "with": "en", "on": "en", "said": "en", "by": "en", "from": "en",
	"has": "en", "have": "en", "are": "en", "were": "en", "its": "en", "an": "en", "at": "en",
	// French
	"le": "fr", "la": "fr", "les": "fr", "des": "fr", "du": "fr", "est": "fr", "une": "fr",
	"dans": "fr", "pour": "fr", "et": "fr", "sur": "fr", "au": "fr", "aux": "fr", "qui": "fr",
	"que": "fr", "avec": "fr", "par": "fr", "selon": "fr", "ont": "fr", "ete": "fr", "il": "fr", "de": "fr",
	// Turkish
	"ve": "tr", "bir": "tr", "bu": "tr", "icin": "tr", "ile": "tr", "olarak": "tr", "olan": "tr",
	"da": "tr", "daha": "tr", "gibi": "tr", "cok": "tr", "sonra": "tr", "ise": "tr",
	"dedi": "tr", "ancak": "tr", "kadar": "tr", "arasinda": "tr",
	// Azerbaijani
	"ucun": "az", "olub": "az", "edib": "az", "bildirib": "az", "deyib": "az", "olunub": "az",
	"artiq": "az", "edibler": "az", "qeyd": "az",
}

// langCounter accumulates evidence for detectLanguage from the folded words
// and the runes of the fields, so that the text is not scanned twice.
type langCounter struct {
	latin, cyr, arm, geo, letters int
	score                         [4]float64 // en, fr, tr, az
	words                         int
}

var latinLangs = [4]string{"en", "fr", "tr", "az"}

func langIndex(l string) int {
	for i, x := range latinLangs {
		if x == l {
			return i
		}
	}
	return 0
}

// addRunes counts the scripts of up to langSample bytes of s, and letters
// that only some Latin-script languages use.
func (c *langCounter) addRunes(s string) {
	if c.letters > langSample {
		return
	}
	for _, r := range cutUTF8(s, langSample) {
		switch {
		case r < utf8.RuneSelf:
			if 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' {
				c.latin++
				c.letters++
			}
		case unicode.Is(unicode.Cyrillic, r):
			c.cyr++
			c.letters++
		case unicode.Is(unicode.Armenian, r):
			c.arm++
			c.letters++
		case unicode.Is(unicode.Georgian, r):
			c.geo++
			c.letters++
		case unicode.IsLetter(r):
			c.letters++
			if unicode.Is(unicode.Latin, r) {
				c.latin++
			}
			switch r {
			case 'ə', 'Ə':
				c.score[3] += 3 // only Azerbaijani writes schwa
			case 'ğ', 'ş', 'ı', 'İ', 'Ş', 'Ğ':
				c.score[2] += 0.5
				c.score[3] += 0.5
			case 'é', 'è', 'ê', 'à', 'â', 'ç', 'ô', 'î', 'û', 'ù', 'ë', 'ï', 'œ':
				c.score[1] += 0.5
			}
		}
	}
}

// addWords counts stop words among the first folded words of f.
func (c *langCounter) addWords(f *folded) {
	for k := range f.toks {
		if c.words >= 400 {
			return
		}
		c.words++
		if l, ok := stopwords[f.key(k, k)]; ok {
			c.score[langIndex(l)]++
		}
	}
}

// language returns the ISO 639-1 code of the language counted, or "" when
// there were too few letters to tell.
func (c *langCounter) language() string {
	if c.letters < 3 {
		return ""
	}
	switch max(c.latin, c.cyr, c.arm, c.geo) {
	case c.arm:
		return "hy"
	case c.geo:
		return "ka"
	case c.cyr:
		return "ru"
	}
	best := 0
	for i := range c.score {
		if c.score[i] > c.score[best] {
			best = i
		}
	}
	return latinLangs[best]
}

// detectLanguage returns the language of s (see langCounter.language).
func detectLanguage(s string) string {
	var c langCounter
	var f folded
	s = cutUTF8(s, langSample)
	c.addRunes(s)
	foldText(s, &f)
	c.addWords(&f)
	return c.language()
}
