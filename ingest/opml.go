package ingest

import (
	"encoding/xml"
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode"

	"golang.org/x/net/html/charset"
)

// maxOPMLBytes bounds an OPML import.
const maxOPMLBytes = 10 << 20

type opmlOutline struct {
	Text     string        `xml:"text,attr"`
	Title    string        `xml:"title,attr"`
	Type     string        `xml:"type,attr"`
	XMLURL   string        `xml:"xmlUrl,attr"`
	Language string        `xml:"language,attr"`
	Category string        `xml:"category,attr"`
	Outlines []opmlOutline `xml:"outline"`
}

// ParseOPML reads an OPML subscription list (the import format of every
// feed reader) into registry entries: one Feed per outline with an xmlUrl,
// named by its title, tagged with the names of the outlines it is nested
// in and its category attribute, with the default intervals. IDs are
// slugs of the names made unique with a numeric suffix. Outlines whose
// URL is not http(s) or repeats an earlier one are skipped. The result
// passes Validate; operators should review ids, languages and countries.
func ParseOPML(r io.Reader) ([]Feed, error) {
	d := xml.NewDecoder(io.LimitReader(r, maxOPMLBytes))
	d.Strict = false
	d.CharsetReader = charset.NewReaderLabel
	var doc struct {
		Body struct {
			Outlines []opmlOutline `xml:"outline"`
		} `xml:"body"`
	}
	if err := d.Decode(&doc); err != nil {
		return nil, fmt.Errorf("parsing OPML: %w", err)
	}
	var feeds []Feed
	ids, urls := map[string]int{}, map[string]bool{}
	var walk func([]opmlOutline, []string)
	walk = func(os []opmlOutline, tags []string) {
		for _, o := range os {
			name := strings.TrimSpace(firstNonEmpty(o.Title, o.Text))
			if u := strings.TrimSpace(o.XMLURL); u != "" {
				if validateFeedURL(u) != nil || urls[u] {
					continue
				}
				urls[u] = true
				if name == "" {
					if pu, err := url.Parse(u); err == nil {
						name = pu.Hostname()
					}
				}
				f := Feed{
					ID: uniqueID(slug(name, u), ids), URL: u, Name: name,
					MinInterval: DefaultMinInterval, MaxInterval: DefaultMaxInterval,
				}
				if l := normaliseLang(o.Language); l != "" {
					f.Lang = l
				}
				f.Tags = uniqueTrimmed(append(append([]string(nil), tags...), splitCategories(o.Category)...))
				if f.Validate() == nil {
					feeds = append(feeds, f)
				}
			}
			if len(o.Outlines) > 0 {
				sub := tags
				if name != "" && o.XMLURL == "" {
					sub = append(append([]string(nil), tags...), name)
				}
				walk(o.Outlines, sub)
			}
		}
	}
	walk(doc.Body.Outlines, nil)
	if len(feeds) == 0 {
		return nil, fmt.Errorf("parsing OPML: no outline with an http(s) xmlUrl")
	}
	return feeds, nil
}

func splitCategories(s string) []string {
	var out []string
	for _, c := range strings.Split(s, ",") {
		c = strings.Trim(strings.TrimSpace(c), "/")
		if c != "" {
			out = append(out, c)
		}
	}
	return out
}

// slug makes a feed id from a name, or from the URL's host and path when
// the name has no ASCII letters or digits (e.g. a Cyrillic title).
func slug(name, rawURL string) string {
	s := slugify(name)
	if s == "" {
		if u, err := url.Parse(rawURL); err == nil {
			s = slugify(strings.TrimPrefix(u.Hostname(), "www.") + " " + u.Path)
		}
	}
	if s == "" {
		s = "feed"
	}
	return s
}

func slugify(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)):
			b.WriteRune(r)
			dash = false
		case b.Len() > 0 && !dash:
			b.WriteByte('-')
			dash = true
		}
		if b.Len() >= 48 {
			break
		}
	}
	return strings.Trim(b.String(), "-")
}

func uniqueID(base string, used map[string]int) string {
	used[base]++
	if n := used[base]; n > 1 {
		id := fmt.Sprintf("%s-%d", base, n)
		used[id]++
		return id
	}
	return base
}
