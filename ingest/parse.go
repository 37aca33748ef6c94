package ingest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/mmcdole/gofeed"
	"github.com/mmcdole/gofeed/rss"
	"golang.org/x/net/html"

	"github.com/wiredesk/wiredesk/ingest/article"
)

// Where PublishedAt came from (article.Raw.PublishedFrom).
const (
	PublishedFromFeed      = "feed"
	PublishedFromPage      = "page"
	PublishedFromFirstSeen = "first_seen"
)

// Where Body came from (article.Raw.BodyFrom).
const (
	BodyFromFeed = "feed"
	BodyFromPage = "page"
)

// FutureTolerance is how far in the future (relative to the fetch time) a
// feed's date may lie before Parse distrusts it. Beyond it the date is
// replaced by the fetch time, PublishedFrom says "first_seen" and
// FutureDate is set: a story dated next week would otherwise sit at the top
// of every listing until then. A few minutes absorb clock skew between the
// publisher and us.
const FutureTolerance = 10 * time.Minute

// minPlausibleDate: earlier dates are parse accidents (year 0001, the Unix
// epoch) and are treated as missing.
var minPlausibleDate = time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)

const maxTitleFallbackRunes = 140

// Parse turns a feed document (RSS 0.9x/1.0/2.0, Atom 0.3/1.0 or JSON Feed
// 1.x, in any common charset) into normalised articles for feed f.
// contentType is the HTTP Content-Type, used as charset evidence; it may be
// empty. fetchedAt is the fetch time, used for articles without a date.
//
// Each article has ID, Revision, canonical URL (links resolved against
// xml:base, the feed's site link or f.URL), Source = f.ID, FeedURL = f.URL,
// UTC times and PublishedFrom filled. Items with neither link, GUID, title
// nor text are dropped; items that repeat an earlier item's ID are dropped.
// A valid feed without items yields no articles and no error.
//
// Errors wrap ErrNotFeed (HTML, empty or unknown documents) or ErrParse,
// and are one line. Parse never panics on any input.
func Parse(f Feed, body []byte, contentType string, fetchedAt time.Time) ([]article.Raw, error) {
	p, err := parseFeed(f, f.URL, body, contentType, fetchedAt)
	return p.articles, err
}

// parsed is a parse result with the feed-level facts Fetch needs.
type parsed struct {
	articles []article.Raw
	ttl      time.Duration
}

func parseFeed(f Feed, baseURL string, body []byte, contentType string, fetchedAt time.Time) (res parsed, err error) {
	defer func() {
		if r := recover(); r != nil {
			res, err = parsed{}, fmt.Errorf("%w: parser panic: %s", ErrParse, oneLine(fmt.Sprint(r)))
		}
	}()
	if len(bytes.TrimSpace(body)) == 0 {
		return parsed{}, fmt.Errorf("%w: empty document", ErrNotFeed)
	}
	doc := stripIllegalXML(toUTF8(body, contentType))
	fp := gofeed.NewParser()
	fp.KeepOriginalFeed = true
	feed, err := fp.Parse(bytes.NewReader(doc))
	if err != nil {
		if errors.Is(err, gofeed.ErrFeedTypeNotDetected) {
			return parsed{}, fmt.Errorf("%w: %s", ErrNotFeed, sniffKind(doc))
		}
		return parsed{}, fmt.Errorf("%w: %s", ErrParse, oneLine(err.Error()))
	}
	if feed.FeedType == "json" && feed.FeedVersion == "" && len(feed.Items) == 0 {
		// gofeed takes any JSON object for a JSON Feed.
		return parsed{}, fmt.Errorf("%w: JSON that is not a JSON Feed", ErrNotFeed)
	}
	res.articles = normalise(f, baseURL, feed, fetchedAt.UTC())
	if orig, ok := feed.OriginalFeed().(*rss.Feed); ok {
		if m, err := strconv.Atoi(strings.TrimSpace(orig.TTL)); err == nil && m > 0 {
			res.ttl = time.Duration(min(m, 60*24*7)) * time.Minute
		}
	}
	return res, nil
}

func normalise(f Feed, baseURL string, feed *gofeed.Feed, fetchedAt time.Time) []article.Raw {
	base := linkBase(baseURL, feed.Link)
	lang := f.Lang
	if lang == "" {
		lang = normaliseLang(feed.Language)
	}
	out := make([]article.Raw, 0, len(feed.Items))
	seen := make(map[string]bool, len(feed.Items))
	for _, it := range feed.Items {
		if it == nil {
			continue
		}
		a := article.Raw{
			SchemaVersion: article.RawSchemaVersion,
			Source:        f.ID,
			FeedURL:       f.URL,
			GUID:          strings.TrimSpace(it.GUID),
			Title:         cleanTitle(it.Title),
			Summary:       strings.TrimSpace(it.Description),
			Body:          strings.TrimSpace(it.Content),
			Lang:          lang,
			Authors:       authors(it),
			Categories:    uniqueTrimmed(it.Categories),
			FetchedAt:     fetchedAt,
		}
		link, fromGUID := itemLink(it, base)
		if c, err := article.CanonicalURL(link); err == nil {
			a.URL = c
		}
		if a.Title == "" {
			a.Title = truncateRunes(htmlText(firstNonEmpty(a.Summary, a.Body)), maxTitleFallbackRunes)
		}
		if fromGUID {
			// The GUID is the identity; its canonical form would drop the
			// fragment that often tells items apart (#When:12:59:01PM).
			a.ID = article.ID("", f.URL, a.GUID)
		} else {
			a.ID = article.ID(link, f.URL, a.GUID)
		}
		if a.ID == "" {
			if a.Title == "" && a.Summary == "" && a.Body == "" {
				continue // nothing to identify or show
			}
			// No link and no GUID: identify the item by its content. An edit
			// then looks like a new article, which is the best we can do.
			a.ID = article.ID("", f.URL, "wiredesk-content:"+contentKey(a.Title, a.Summary, a.Body, it.Published))
		}
		if seen[a.ID] {
			continue
		}
		seen[a.ID] = true
		if a.Body != "" {
			a.BodyFrom = BodyFromFeed
		}
		a.Revision = article.ContentRevision(a.Title, a.Summary, a.Body)
		a.PublishedAt, a.PublishedFrom, a.FutureDate = publishedAt(it, fetchedAt)
		out = append(out, a)
	}
	return out
}

// publishedAt picks the item's date and says where it came from; future
// reports a date distrusted for lying beyond FutureTolerance.
func publishedAt(it *gofeed.Item, fetchedAt time.Time) (t time.Time, from string, future bool) {
	p := it.PublishedParsed
	if p == nil || p.Before(minPlausibleDate) {
		p = it.UpdatedParsed
	}
	switch {
	case p == nil || p.Before(minPlausibleDate):
		return fetchedAt, PublishedFromFirstSeen, false
	case p.After(fetchedAt.Add(FutureTolerance)):
		return fetchedAt, PublishedFromFirstSeen, true
	}
	return p.UTC(), PublishedFromFeed, false
}

// linkBase picks the base for relative item links: the feed's site link
// when it is absolute (after resolving it against the feed URL), else the
// feed URL.
func linkBase(feedURL, siteLink string) *url.URL {
	fu, err := url.Parse(feedURL)
	if err != nil || !fu.IsAbs() {
		fu = nil
	}
	if siteLink = strings.TrimSpace(siteLink); siteLink != "" {
		if su, err := url.Parse(siteLink); err == nil {
			if fu != nil {
				su = fu.ResolveReference(su)
			}
			if su.IsAbs() && (su.Scheme == "http" || su.Scheme == "https") && su.Host != "" {
				return su
			}
		}
	}
	return fu
}

// itemLink returns the item's link resolved against base, and whether it
// was taken from the GUID for want of a link.
func itemLink(it *gofeed.Item, base *url.URL) (link string, fromGUID bool) {
	link = strings.TrimSpace(it.Link)
	if link == "" {
		for _, l := range it.Links {
			if l = strings.TrimSpace(l); l != "" {
				link = l
				break
			}
		}
	}
	if link == "" {
		// An RSS guid is a permalink unless isPermaLink="false"; gofeed drops
		// that attribute, so accept a GUID that is an absolute web URL.
		if g := strings.TrimSpace(it.GUID); strings.HasPrefix(g, "http://") || strings.HasPrefix(g, "https://") {
			return g, true
		}
		return "", false
	}
	u, err := url.Parse(link)
	if err != nil {
		return link, false
	}
	if !u.IsAbs() && base != nil {
		u = base.ResolveReference(u)
	}
	return u.String(), false
}

func authors(it *gofeed.Item) []string {
	var out []string
	seen := map[string]bool{}
	add := func(p *gofeed.Person) {
		if p == nil {
			return
		}
		n := strings.TrimSpace(p.Name)
		if n == "" {
			n = strings.TrimSpace(p.Email)
		}
		if n != "" && !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	for _, p := range it.Authors {
		add(p)
	}
	if len(out) == 0 {
		add(it.Author) //nolint:staticcheck // older parsers fill only Author
	}
	return out
}

func uniqueTrimmed(in []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, s := range in {
		s = collapseSpace(s)
		if s != "" && !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// cleanTitle removes markup from a title and collapses whitespace.
func cleanTitle(s string) string {
	if strings.ContainsRune(s, '<') {
		s = htmlText(s)
	}
	return collapseSpace(s)
}

// htmlText returns the text of an HTML fragment with whitespace collapsed.
func htmlText(s string) string {
	if !strings.ContainsAny(s, "<&") {
		return collapseSpace(s)
	}
	var b strings.Builder
	z := html.NewTokenizer(strings.NewReader(s))
	skip := 0
	for {
		switch z.Next() {
		case html.ErrorToken:
			return collapseSpace(b.String())
		case html.StartTagToken:
			if n, _ := z.TagName(); string(n) == "script" || string(n) == "style" {
				skip++
			}
			b.WriteByte(' ')
		case html.EndTagToken:
			if n, _ := z.TagName(); (string(n) == "script" || string(n) == "style") && skip > 0 {
				skip--
			}
			b.WriteByte(' ')
		case html.TextToken:
			if skip == 0 {
				b.Write(z.Text())
			}
		}
	}
}

func collapseSpace(s string) string {
	s = strings.TrimSpace(s)
	if !strings.ContainsFunc(s, func(r rune) bool { return unicode.IsSpace(r) && r != ' ' }) && !strings.Contains(s, "  ") {
		return s
	}
	return strings.Join(strings.Fields(s), " ")
}

func truncateRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n]
	return strings.TrimSpace(string(r)) + "…"
}

func firstNonEmpty(ss ...string) string {
	for _, s := range ss {
		if s != "" {
			return s
		}
	}
	return ""
}

func normaliseLang(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	s, _, _ = strings.Cut(strings.ReplaceAll(s, "_", "-"), "-")
	if len(s) < 2 || len(s) > 3 {
		return ""
	}
	for _, c := range s {
		if c < 'a' || c > 'z' {
			return ""
		}
	}
	return s
}

func contentKey(parts ...string) string {
	h := sha256.New()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// sniffKind describes a document that is not a feed, for the error message.
func sniffKind(doc []byte) string {
	head := bytes.ToLower(bytes.TrimSpace(doc[:min(len(doc), 2048)]))
	switch {
	case bytes.HasPrefix(head, []byte("<!doctype html")) || bytes.Contains(head, []byte("<html")):
		return "an HTML page"
	case bytes.HasPrefix(head, []byte("{")) || bytes.HasPrefix(head, []byte("[")):
		return "JSON that is not a JSON Feed"
	case bytes.HasPrefix(head, []byte("<")):
		return "XML without an rss, rdf or feed root element"
	}
	return "not XML or JSON"
}

// oneLine keeps an error message on one line and bounded in length.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return truncateRunes(s, 300)
}
