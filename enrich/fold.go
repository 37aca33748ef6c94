package enrich

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// token is one word of a field after folding. Key is the folded form;
// Start and End are byte offsets of the word in the original string.
type token struct {
	fs, fe     int32 // the folded word is buf[fs:fe]
	start, end int32 // the original word is field[start:end]
	// hard reports that a sentence or paragraph boundary (not just spaces,
	// hyphens or apostrophes) separates this token from the previous one,
	// so no multi-word name may span it.
	hard bool
}

// folded is a field split into folded words. buf holds the folded words
// joined by single spaces, so that any run of consecutive tokens i..j is
// the substring buf[tok[i].fs:tok[j].fe] and can be looked up without
// allocating.
type folded struct {
	buf  []byte
	toks []token
}

// asciiFold maps an ASCII byte to its folded form, or 0 for a separator.
var asciiFold [128]byte

// runeFold maps runes below foldTableSize to their folded form: a rune,
// foldDrop for a combining mark that is dropped inside a word, or 0 for a
// separator. Runes that fold to more than one rune are in multiFold.
const (
	foldTableSize = 0x2000
	foldDrop      = -1
)

var (
	runeFold  [foldTableSize]rune
	multiFold = map[rune]string{
		'ß': "ss", 'ẞ': "ss", 'æ': "ae", 'Æ': "ae", 'œ': "oe", 'Œ': "oe",
		'ﬁ': "fi", 'ﬂ': "fl", 'և': "եւ",
	}
)

func init() {
	for b := 0; b < 128; b++ {
		switch {
		case 'a' <= b && b <= 'z', '0' <= b && b <= '9':
			asciiFold[b] = byte(b)
		case 'A' <= b && b <= 'Z':
			asciiFold[b] = byte(b) + 'a' - 'A'
		}
	}
	for r := rune(0); r < foldTableSize; r++ {
		runeFold[r] = foldSlow(r)
	}
}

// foldSlow computes the folded form of one rune: NFKC, lower case, Latin
// diacritics removed, a few letters that readers interchange unified
// (Azerbaijani ə with e, dotless ı with i, Russian ё with е).
func foldSlow(r rune) rune {
	if _, ok := multiFold[r]; ok {
		return 0 // handled by multiFold; never reached through the table
	}
	switch r {
	case 'ı', 'İ':
		return 'i'
	case 'ə', 'Ə':
		return 'e'
	case 'ё', 'Ё':
		return 'е'
	case 'ø', 'Ø':
		return 'o'
	case 'đ', 'Đ':
		return 'd'
	case 'ł', 'Ł':
		return 'l'
	case 'ħ':
		return 'h'
	}
	if unicode.Is(unicode.Mn, r) {
		return foldDrop
	}
	if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
		return 0
	}
	s := norm.NFKC.String(string(r))
	first, n := utf8.DecodeRuneInString(s)
	if n != len(s) {
		// Compatibility decompositions into several runes (rare letters
		// such as ligatures not in multiFold) fold to their first letter.
		s = s[:n]
	}
	first = unicode.ToLower(first)
	if first < unicode.MaxLatin1+0x180 && unicode.Is(unicode.Latin, first) {
		d := norm.NFD.String(string(first))
		first, _ = utf8.DecodeRuneInString(d)
	}
	if !unicode.IsLetter(first) && !unicode.IsDigit(first) {
		return 0
	}
	return first
}

// foldRune returns the folded form of r as in runeFold, and a non-empty
// string when r folds to several runes.
func foldRune(r rune) (rune, string) {
	if s, ok := multiFold[r]; ok {
		return 0, s
	}
	if r < foldTableSize {
		return runeFold[r], ""
	}
	switch {
	case r == utf8.RuneError:
		return 0, ""
	case 0xFE00 <= r && r <= 0xFE0F, r == 0x200D:
		return foldDrop, "" // variation selectors, zero-width joiner
	}
	return foldSlow(r), ""
}

// isSoftSeparator reports whether a separator byte may sit inside a
// multi-word name: spaces, hyphens, apostrophes and similar.
func isSoftSeparator(r rune) bool {
	switch r {
	case ' ', '\t', '-', '\'', '\u00a0', '’', '‘', 'ʼ', 'ʻ', '‐', '‑', '–', '/', '`', '"', '“', '”', '«', '»', ',':
		return true
	}
	return false
}

// foldText splits s into folded words. It accepts any byte string: invalid
// UTF-8 bytes are separators.
func foldText(s string, f *folded) {
	f.buf = f.buf[:0]
	f.toks = f.toks[:0]
	in := false   // inside a word
	hard := false // a hard separator since the last word
	var cur token
	end := func(at int) {
		cur.fe = int32(len(f.buf))
		cur.end = int32(at)
		f.toks = append(f.toks, cur)
		in = false
	}
	begin := func(at int) {
		if len(f.toks) > 0 {
			f.buf = append(f.buf, ' ')
		}
		cur = token{fs: int32(len(f.buf)), start: int32(at), hard: hard}
		hard = false
		in = true
	}
	for i := 0; i < len(s); {
		b := s[i]
		if b < utf8.RuneSelf {
			if c := asciiFold[b]; c != 0 {
				if !in {
					begin(i)
				}
				f.buf = append(f.buf, c)
			} else {
				if in {
					end(i)
				}
				// A full stop inside an abbreviation ("U.S.") is soft.
				abbrev := b == '.' && i+1 < len(s) && asciiFold[s[i+1]&0x7f] != 0 && s[i+1] < utf8.RuneSelf
				if !isSoftSeparator(rune(b)) && !abbrev {
					hard = true
				}
			}
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		c, multi := foldRune(r)
		switch {
		case multi != "":
			if !in {
				begin(i)
			}
			f.buf = append(f.buf, multi...)
		case c == foldDrop:
			// A combining mark belongs to the word before it.
		case c == 0:
			if in {
				end(i)
			}
			if !isSoftSeparator(r) {
				hard = true
			}
		default:
			if !in {
				begin(i)
			}
			f.buf = utf8.AppendRune(f.buf, c)
		}
		i += n
	}
	if in {
		end(len(s))
	}
}

// foldKey folds a name or phrase the way foldText folds text and returns
// its words joined by single spaces.
func foldKey(s string) string {
	var f folded
	foldText(s, &f)
	return string(f.buf)
}

// key returns the folded words i..j (inclusive) joined by spaces.
func (f *folded) key(i, j int) string {
	return unsafeString(f.buf[f.toks[i].fs:f.toks[j].fe])
}

// words returns the folded words of a key.
func words(key string) []string { return strings.Split(key, " ") }
