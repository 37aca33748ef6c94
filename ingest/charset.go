package ingest

import (
	"bytes"
	"mime"
	"regexp"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/charmap"
	"golang.org/x/text/encoding/unicode"
	"golang.org/x/text/encoding/unicode/utf32"
)

// xmlDeclRe finds the XML declaration (after optional whitespace) and its
// encoding pseudo-attribute.
var (
	xmlDeclRe     = regexp.MustCompile(`^\s*<\?xml\s[^>]*?\?>`)
	xmlEncodingRe = regexp.MustCompile(`encoding\s*=\s*["']([A-Za-z0-9._:\-]+)["']`)
)

// toUTF8 returns the document as UTF-8 with any encoding declaration
// removed, so that the XML decoder reads it as UTF-8 and does not convert a
// second time. The order of evidence:
//
//  1. A byte order mark, or the UTF-16/32 byte pattern of "<?" without one.
//  2. If the bytes are valid UTF-8, they are UTF-8, whatever the headers
//     and the declaration say. Text in a legacy single-byte charset with
//     any non-ASCII letter is almost never valid UTF-8, while a UTF-8 feed
//     that declares a legacy charset (a CMS template left unchanged) is
//     common.
//  3. Otherwise the charset parameter of Content-Type, then the XML
//     declaration, then an HTML <meta charset>, each if it names a known
//     ASCII-compatible charset.
//  4. Otherwise a guess between windows-1251, KOI8-R (the legacy Cyrillic
//     charsets of this project's region) and windows-1252 (the web's
//     default for undeclared text); see guessSingleByte. CJK and other
//     legacy charsets are decoded correctly only when declared.
//
// The result is valid UTF-8 in every case: bytes the chosen charset cannot
// decode become U+FFFD.
func toUTF8(body []byte, contentType string) []byte {
	if enc, n := detectUnicode(body); enc != nil {
		out, err := enc.NewDecoder().Bytes(body[n:])
		if err != nil {
			out = bytes.ToValidUTF8(out, []byte("\uFFFD"))
		}
		return dropDeclEncoding(bytes.ToValidUTF8(out, []byte("\uFFFD")))
	}
	if utf8.Valid(body) {
		return dropDeclEncoding(body)
	}
	enc := encodingFor(contentTypeCharset(contentType))
	if enc == nil {
		enc = encodingFor(declaredEncoding(body))
	}
	if enc == nil {
		if e, name, certain := charset.DetermineEncoding(body, "text/html"); certain && name != "utf-8" {
			enc = e
		}
	}
	if enc == nil {
		enc = guessSingleByte(body)
	}
	out, err := enc.NewDecoder().Bytes(body)
	if err != nil {
		out = bytes.ToValidUTF8(body, []byte("\uFFFD"))
	}
	return dropDeclEncoding(bytes.ToValidUTF8(out, []byte("\uFFFD")))
}

// detectUnicode recognises UTF-8/16/32 byte order marks and the byte
// pattern of a leading '<' in UTF-16/32 without one. It returns the
// encoding and how many leading bytes to skip (the UTF-8 BOM).
func detectUnicode(b []byte) (encoding.Encoding, int) {
	switch {
	case bytes.HasPrefix(b, []byte{0x00, 0x00, 0xFE, 0xFF}):
		return utf32.UTF32(utf32.BigEndian, utf32.ExpectBOM), 0
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE, 0x00, 0x00}):
		return utf32.UTF32(utf32.LittleEndian, utf32.ExpectBOM), 0
	case bytes.HasPrefix(b, []byte{0xEF, 0xBB, 0xBF}):
		return unicode.UTF8, 3
	case bytes.HasPrefix(b, []byte{0xFE, 0xFF}):
		return unicode.UTF16(unicode.BigEndian, unicode.ExpectBOM), 0
	case bytes.HasPrefix(b, []byte{0xFF, 0xFE}):
		return unicode.UTF16(unicode.LittleEndian, unicode.ExpectBOM), 0
	case bytes.HasPrefix(b, []byte{0x00, 0x00, 0x00, '<'}):
		return utf32.UTF32(utf32.BigEndian, utf32.IgnoreBOM), 0
	case bytes.HasPrefix(b, []byte{'<', 0x00, 0x00, 0x00}):
		return utf32.UTF32(utf32.LittleEndian, utf32.IgnoreBOM), 0
	case bytes.HasPrefix(b, []byte{0x00, '<', 0x00}):
		return unicode.UTF16(unicode.BigEndian, unicode.IgnoreBOM), 0
	case bytes.HasPrefix(b, []byte{'<', 0x00, '?', 0x00}), bytes.HasPrefix(b, []byte{'<', 0x00, 'r', 0x00}),
		bytes.HasPrefix(b, []byte{'<', 0x00, 'f', 0x00}):
		return unicode.UTF16(unicode.LittleEndian, unicode.IgnoreBOM), 0
	}
	return nil, 0
}

func contentTypeCharset(ct string) string {
	if ct == "" {
		return ""
	}
	_, params, err := mime.ParseMediaType(ct)
	if err != nil {
		// Be lenient with malformed headers such as "text/xml;charset=koi8-r;".
		// ASCII-only lower-casing keeps byte offsets valid on invalid UTF-8.
		if i := strings.Index(asciiLower(ct), "charset="); i >= 0 {
			v := ct[i+len("charset="):]
			v, _, _ = strings.Cut(v, ";")
			return strings.Trim(strings.TrimSpace(v), `"'`)
		}
		return ""
	}
	return params["charset"]
}

func declaredEncoding(b []byte) string {
	decl := xmlDeclRe.Find(b[:min(len(b), 1024)])
	if decl == nil {
		return ""
	}
	if m := xmlEncodingRe.FindSubmatch(decl); m != nil {
		return string(m[1])
	}
	return ""
}

// encodingFor maps a charset label to an ASCII-compatible encoding. It
// returns nil for unknown labels, UTF-8 (the input was not valid UTF-8, so
// the label is wrong) and UTF-16/32 (no pattern of those was seen, so the
// label is wrong).
func encodingFor(label string) encoding.Encoding {
	label = strings.ToLower(strings.TrimSpace(label))
	if label == "" {
		return nil
	}
	enc, name := charset.Lookup(label)
	if enc == nil {
		return nil
	}
	switch name {
	case "utf-8", "utf-16be", "utf-16le", "replacement":
		return nil
	}
	return enc
}

// dropDeclEncoding rewrites the XML declaration without its encoding.
func dropDeclEncoding(b []byte) []byte {
	loc := xmlDeclRe.FindIndex(b[:min(len(b), 1024)])
	if loc == nil {
		return b
	}
	decl := b[loc[0]:loc[1]]
	m := xmlEncodingRe.FindSubmatch(decl)
	if m == nil || strings.EqualFold(string(m[1]), "utf-8") || strings.EqualFold(string(m[1]), "utf8") {
		return b // encoding/xml reads UTF-8 natively
	}
	out := make([]byte, 0, len(b))
	out = append(out, b[:loc[0]]...)
	out = append(out, xmlEncodingRe.ReplaceAll(decl, nil)...)
	return append(out, b[loc[1]:]...)
}

// stripIllegalXML removes characters XML 1.0 forbids (C0 controls other
// than tab, LF and CR; U+FFFE and U+FFFF) from valid UTF-8 input. It
// returns b itself when there is nothing to remove.
func stripIllegalXML(b []byte) []byte {
	clean := true
	for i := 0; i < len(b); i++ {
		c := b[i]
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') || (c == 0xEF && i+2 < len(b) && b[i+1] == 0xBF && (b[i+2] == 0xBE || b[i+2] == 0xBF)) {
			clean = false
			break
		}
	}
	if clean {
		return b
	}
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		r, n := utf8.DecodeRune(b)
		if (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || r == 0xFFFE || r == 0xFFFF {
			b = b[n:]
			continue
		}
		out = append(out, b[:n]...)
		b = b[n:]
	}
	return out
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// guessSingleByte picks a charset for undeclared, non-UTF-8 text. Cyrillic
// text in a single-byte charset is mostly letters in 0xC0-0xFF in runs
// (whole words), while Latin-1 text has isolated accented letters among
// ASCII. For Cyrillic, lower case dominates running text: windows-1251
// puts it at 0xE0-0xFF and KOI8-R at 0xC0-0xDF.
func guessSingleByte(b []byte) encoding.Encoding {
	var high, letters, adjacent, c0df, e0ff int
	for i, c := range b {
		if c < 0x80 {
			continue
		}
		high++
		if c >= 0xC0 {
			letters++
			if c < 0xE0 {
				c0df++
			} else {
				e0ff++
			}
		}
		if i > 0 && b[i-1] >= 0x80 {
			adjacent++
		}
	}
	if high >= 8 && letters*10 >= high*7 && adjacent*2 >= high {
		if c0df > e0ff {
			return charmap.KOI8R
		}
		return charmap.Windows1251
	}
	return charmap.Windows1252
}
