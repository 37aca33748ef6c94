package ingest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	readability "codeberg.org/readeck/go-readability/v2"
	"codeberg.org/readeck/go-readability/v2/render"
	"golang.org/x/net/html"
	"golang.org/x/net/html/charset"

	"github.com/wiredesk/wiredesk/ingest/article"
)

// ErrNoArticle: an article page was fetched but holds no main text worth
// more than the feed's (not HTML, a JavaScript shell, a listing, a
// paywall stub).
var ErrNoArticle = errors.New("ingest: no article text on page")

// Full-text limits.
const (
	// SummaryRunes: an article whose feed text (body, else summary) is
	// shorter than this many characters is taken to carry only a summary.
	SummaryRunes = 600
	// minExtractRunes: extracted text shorter than this is not an article.
	minExtractRunes = 300
	// maxExtractBytes caps the extracted HTML put in Body, which travels in
	// one NATS message; past it the plain text is kept, cut to this size.
	maxExtractBytes = 512 << 10
	// maxPageElements bounds the DOM readability scores, so a hostile page
	// costs bounded CPU even under the body cap.
	maxPageElements = 100_000
	// maxSummaryScan: feed text longer than this is not a summary, whatever
	// its markup; it spares htmlText on large bodies.
	maxSummaryScan = 64 << 10
)

// NeedsFullText reports whether FullText would fetch the page of a: the
// feed asks for full text, the article has a link, and the feed's text is
// only a summary (shorter than SummaryRunes characters).
func NeedsFullText(f Feed, a article.Raw) bool {
	if !f.FullText || a.URL == "" || a.BodyFrom == BodyFromPage {
		return false
	}
	text := firstNonEmpty(a.Body, a.Summary)
	if len(text) > maxSummaryScan {
		return false
	}
	return utf8.RuneCountInString(htmlText(text)) < SummaryRunes
}

// FullText fetches the page of an article whose feed carries only a
// summary (see NeedsFullText) and puts its main text, as HTML, in Body
// with BodyFrom "page". The page is fetched under the same SSRF guard,
// size cap and timeouts as feeds; the feed's headers are sent only when
// the page is on the feed's host. When the feed gave no trustworthy date
// (PublishedFrom "first_seen"), the page's article:published_time or
// JSON-LD datePublished is used, with PublishedFrom "page".
//
// Revision is left as the feed content made it, so that the seen-set can
// be checked before any page is fetched. Articles that need no page are
// returned unchanged without a request.
//
// FullText always returns an article fit to publish. On error it keeps
// the feed's text (and the page's date when the page was read); the error
// wraps the fetch error or ErrNoArticle and is classified by ErrorClass.
// ctx bounds the fetch together with Options.Timeout.
func (c *Client) FullText(ctx context.Context, f Feed, a article.Raw) (article.Raw, error) {
	if !NeedsFullText(f, a) {
		return a, nil
	}
	var headers map[string]string
	if sameHost(a.URL, f.URL) {
		headers = f.Headers
	}
	body, ct, finalURL, err := c.FetchPage(ctx, a.URL, headers)
	if err != nil {
		return a, fmt.Errorf("extracting full text: %w", err)
	}
	now := a.FetchedAt
	if now.IsZero() {
		now = c.opts.Now()
	}
	page, err := ExtractPage(body, ct, finalURL)
	if !page.Published.IsZero() && a.PublishedFrom == PublishedFromFirstSeen &&
		!page.Published.Before(minPlausibleDate) && !page.Published.After(now.Add(FutureTolerance)) {
		a.PublishedAt, a.PublishedFrom = page.Published.UTC(), PublishedFromPage
	}
	if err != nil {
		return a, fmt.Errorf("extracting full text of %q: %w", finalURL, err)
	}
	feedRunes := utf8.RuneCountInString(htmlText(firstNonEmpty(a.Body, a.Summary)))
	if page.TextRunes <= feedRunes {
		return a, fmt.Errorf("extracting full text of %q: %w: %d characters, the feed has %d", finalURL, ErrNoArticle, page.TextRunes, feedRunes)
	}
	a.Body, a.BodyFrom = page.HTML, BodyFromPage
	return a, nil
}

// Page is the main content of an article page.
type Page struct {
	// HTML is the main content, cleaned, with links made absolute. When it
	// would exceed 512 KiB it is the plain text instead, cut to that size.
	HTML string
	// TextRunes is the length of the main content's text in characters.
	TextRunes int
	// Published is the page's publication date from its metadata
	// (article:published_time, JSON-LD datePublished ...); zero if none.
	Published time.Time
}

// ExtractPage finds the main text of an HTML article page with
// readability. contentType is the HTTP Content-Type (charset evidence; an
// empty one is sniffed); pageURL resolves relative links. The error wraps
// ErrNoArticle when the document is not HTML or its main text is shorter
// than 300 characters; Published may be set even then.
func ExtractPage(body []byte, contentType, pageURL string) (page Page, err error) {
	// A bug in the extractor must not take the fetcher down with it.
	defer func() {
		if r := recover(); r != nil {
			page, err = Page{}, fmt.Errorf("%w: extractor panic: %s", ErrNoArticle, oneLine(fmt.Sprint(r)))
		}
	}()
	if !isHTML(contentType, body) {
		return Page{}, fmt.Errorf("%w: content type %q", ErrNoArticle, contentType)
	}
	enc, _, _ := charset.DetermineEncoding(body, contentType)
	utf8Body, err := enc.NewDecoder().Bytes(body)
	if err != nil {
		utf8Body = body
	}
	doc, err := html.Parse(bytes.NewReader(utf8Body))
	if err != nil {
		return Page{}, fmt.Errorf("%w: parsing HTML: %w", ErrNoArticle, err)
	}
	pu, err := url.Parse(pageURL)
	if err != nil {
		pu = nil
	}
	p := readability.NewParser()
	p.MaxElemsToParse = maxPageElements
	art, err := p.ParseAndMutate(doc, pu)
	if t, derr := art.PublishedTime(); derr == nil {
		page.Published = t
	}
	if err != nil {
		return page, fmt.Errorf("%w: %w", ErrNoArticle, err)
	}
	if art.Node == nil {
		return page, fmt.Errorf("%w: no main content found", ErrNoArticle)
	}
	text := strings.TrimSpace(render.InnerText(art.Node))
	page.TextRunes = utf8.RuneCountInString(text)
	if page.TextRunes < minExtractRunes {
		return page, fmt.Errorf("%w: main content has %d characters", ErrNoArticle, page.TextRunes)
	}
	var b strings.Builder
	if err := html.Render(&b, art.Node); err != nil {
		return page, fmt.Errorf("%w: rendering main content: %w", ErrNoArticle, err)
	}
	page.HTML = b.String()
	if len(page.HTML) > maxExtractBytes {
		page.HTML = cutUTF8(text, maxExtractBytes)
	}
	return page, nil
}

// isHTML accepts text/html and XHTML, and an absent or generic content
// type whose body starts like HTML.
func isHTML(contentType string, body []byte) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	switch {
	case err == nil && (mt == "text/html" || mt == "application/xhtml+xml"):
		return true
	case contentType == "" || mt == "application/octet-stream" || mt == "text/plain":
		head := bytes.ToLower(bytes.TrimSpace(body[:min(len(body), 1024)]))
		return bytes.HasPrefix(head, []byte("<!doctype html")) || bytes.Contains(head, []byte("<html"))
	}
	return false
}

func sameHost(a, b string) bool {
	ua, err1 := url.Parse(a)
	ub, err2 := url.Parse(b)
	return err1 == nil && err2 == nil && ua.Host != "" && strings.EqualFold(ua.Host, ub.Host)
}

// cutUTF8 cuts s to at most n bytes without splitting a character.
func cutUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
