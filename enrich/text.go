package enrich

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Limits on what one article may cost. Longer input is cut, not rejected:
// the first megabyte of a story says what it is about.
const (
	maxBodyBytes = 2 << 20   // HTML or plain text read from Raw.Body
	maxTextBytes = 512 << 10 // clean text kept in Enriched.Text
	maxTagDepth  = 512       // deeper nesting is flattened, not followed
)

// skipped elements hold no article text.
var skipped = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Nav: true, atom.Aside: true,
	atom.Footer: true, atom.Head: true, atom.Noscript: true, atom.Template: true,
	atom.Svg: true, atom.Iframe: true, atom.Form: true, atom.Button: true,
	atom.Select: true, atom.Object: true, atom.Math: true,
}

// blocks end a paragraph.
var blocks = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Br: true, atom.H1: true, atom.H2: true,
	atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true, atom.Li: true,
	atom.Ul: true, atom.Ol: true, atom.Blockquote: true, atom.Pre: true,
	atom.Tr: true, atom.Table: true, atom.Section: true, atom.Article: true,
	atom.Figcaption: true, atom.Figure: true, atom.Header: true, atom.Main: true,
	atom.Hr: true, atom.Dd: true, atom.Dt: true, atom.Dl: true, atom.Caption: true,
	atom.Td: true, atom.Th: true,
}

// paragraphs collects text into paragraphs with collapsed white space.
type paragraphs struct {
	b       strings.Builder
	pending bool // a space is owed before the next word
	atStart bool // at the start of a paragraph
	full    bool
}

// text appends the words of s, collapsing white space. Words split by
// markup alone ("Ste<i>pan</i>akert") stay joined.
func (p *paragraphs) text(s []byte) {
	for i := 0; i < len(s) && !p.full; {
		r, n := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, n = utf8.DecodeRune(s[i:])
		}
		if unicode.IsSpace(r) {
			p.pending = true
			i += n
			continue
		}
		j := i + n
		for j < len(s) {
			r, n := rune(s[j]), 1
			if r >= utf8.RuneSelf {
				r, n = utf8.DecodeRune(s[j:])
			}
			if unicode.IsSpace(r) {
				break
			}
			j += n
		}
		if p.b.Len()+j-i+1 > maxTextBytes {
			p.full = true
			return
		}
		if p.pending && p.b.Len() > 0 && !p.atStart {
			p.b.WriteByte(' ')
		}
		p.pending, p.atStart = false, false
		p.b.Write(s[i:j])
		i = j
	}
}

func (p *paragraphs) paragraph() {
	p.pending = false
	if p.b.Len() > 0 && !p.atStart {
		p.b.WriteString("\n\n")
		p.atStart = true
	}
}

func (p *paragraphs) String() string { return strings.TrimRight(p.b.String(), "\n") }

// looksLikeHTML reports whether body contains something that looks like a
// tag or an entity reference.
func looksLikeHTML(body string) bool {
	for i := 0; i < len(body)-1; i++ {
		switch body[i] {
		case '<':
			c := body[i+1]
			if c == '/' || c == '!' || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') {
				return true
			}
		case '&':
			if j := strings.IndexByte(body[i:min(len(body), i+10)], ';'); j > 1 {
				return true
			}
		}
	}
	return false
}

// cleanText turns an article body, HTML or plain text, into clean text:
// script, style and boilerplate elements dropped, white space collapsed,
// paragraphs separated by one blank line. The result is valid UTF-8 and at
// most maxTextBytes long; truncated reports whether anything was cut.
func cleanText(body string) (text string, truncated bool) {
	if len(body) > maxBodyBytes {
		body, truncated = cutUTF8(body, maxBodyBytes), true
	}
	if !utf8.ValidString(body) {
		body = strings.ToValidUTF8(body, "\uFFFD")
	}
	var p paragraphs
	p.b.Grow(min(len(body), maxTextBytes))
	if !looksLikeHTML(body) {
		for _, para := range splitParagraphs(body) {
			p.text([]byte(para))
			p.paragraph()
		}
		return p.String(), truncated || p.full
	}
	z := html.NewTokenizer(strings.NewReader(body))
	z.SetMaxBuf(maxBodyBytes + 1024)
	skip := 0  // depth inside skipped elements
	depth := 0 // open non-void elements, to bound bookkeeping on deep nesting
	for !p.full {
		switch z.Next() {
		case html.ErrorToken:
			return p.String(), truncated || p.full
		case html.TextToken:
			if skip == 0 {
				p.text(z.Text())
			}
		case html.StartTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			if skipped[a] {
				skip++
			} else if depth < maxTagDepth {
				depth++
			}
			if blocks[a] {
				p.paragraph()
			}
		case html.EndTagToken:
			name, _ := z.TagName()
			a := atom.Lookup(name)
			if skipped[a] && skip > 0 {
				skip--
			} else if depth > 0 {
				depth--
			}
			if blocks[a] {
				p.paragraph()
			}
		case html.SelfClosingTagToken:
			name, _ := z.TagName()
			if blocks[atom.Lookup(name)] {
				p.paragraph()
			}
		}
	}
	return p.String(), true
}

// splitParagraphs splits plain text at blank lines.
func splitParagraphs(s string) []string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var out []string
	for _, para := range strings.Split(s, "\n\n") {
		if strings.TrimSpace(para) != "" {
			out = append(out, para)
		}
	}
	return out
}

// cutUTF8 cuts s to at most n bytes without splitting a rune.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
