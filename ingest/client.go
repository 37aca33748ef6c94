package ingest

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/wiredesk/wiredesk/ingest/article"
)

// Options configure a Client. The zero value is usable: every zero field
// takes the default named in its comment.
type Options struct {
	// UserAgent should name the operator and a contact URL, e.g.
	// "wiredesk/1.0 (+https://example.org/contact)". Default DefaultUserAgent.
	UserAgent string
	// MaxBodyBytes caps the body after decompression. Default 10 MiB.
	MaxBodyBytes int64
	// DialTimeout bounds connecting (DNS included). Default 10 s.
	DialTimeout time.Duration
	// TLSHandshakeTimeout. Default 10 s.
	TLSHandshakeTimeout time.Duration
	// ResponseHeaderTimeout bounds the wait for response headers after the
	// request is written. Default 20 s.
	ResponseHeaderTimeout time.Duration
	// Timeout bounds a whole fetch: connect, redirects and reading the
	// body. Default 60 s. The caller's context can only shorten it.
	Timeout time.Duration
	// MaxRedirects. Default 5; a negative value allows none.
	MaxRedirects int
	// AllowPrivate turns the SSRF guard off entirely. For development only.
	AllowPrivate bool
	// Allow exempts host names, IP addresses or CIDR prefixes from the SSRF
	// guard: "127.0.0.1", "10.0.0.0/8", "feeds.internal". Tests and the demo
	// use it to reach servers on loopback.
	Allow []string
	// MaxConnsPerHost bounds connections to one host. Default 2.
	MaxConnsPerHost int
	// TLSConfig, if set, is used for https (tests use it to trust their CA).
	TLSConfig *tls.Config
	// Now returns the current time. Default time.Now.
	Now func() time.Time
}

// Defaults for Options.
const (
	DefaultUserAgent    = "wiredesk/0.1 (+https://github.com/wiredesk/wiredesk)"
	DefaultMaxBodyBytes = 10 << 20
)

// Client fetches feeds. It is safe for concurrent use; it keeps no
// per-feed state (validators and schedules are the caller's).
type Client struct {
	opts  Options
	guard *guard
	http  *http.Client
	tr    *http.Transport
}

// NewClient returns a Client. It panics only on a malformed Allow entry,
// which is a configuration error the caller should catch with
// ValidateOptions at start-up.
func NewClient(o Options) *Client {
	c, err := newClient(o)
	if err != nil {
		panic(err)
	}
	return c
}

// ValidateOptions reports a malformed Options (an Allow entry that is
// neither a host, an IP address nor a CIDR prefix).
func ValidateOptions(o Options) error {
	_, err := newGuard(o.AllowPrivate, o.Allow)
	return err
}

func newClient(o Options) (*Client, error) {
	if o.UserAgent == "" {
		o.UserAgent = DefaultUserAgent
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = 10 * time.Second
	}
	if o.TLSHandshakeTimeout <= 0 {
		o.TLSHandshakeTimeout = 10 * time.Second
	}
	if o.ResponseHeaderTimeout <= 0 {
		o.ResponseHeaderTimeout = 20 * time.Second
	}
	if o.Timeout <= 0 {
		o.Timeout = 60 * time.Second
	}
	if o.MaxRedirects == 0 {
		o.MaxRedirects = 5
	}
	if o.MaxConnsPerHost <= 0 {
		o.MaxConnsPerHost = 2
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	g, err := newGuard(o.AllowPrivate, o.Allow)
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: o.DialTimeout, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		// No proxy from the environment: the guard must see the real target.
		Proxy:                 nil,
		DialContext:           g.dialContext(dialer),
		TLSClientConfig:       o.TLSConfig,
		TLSHandshakeTimeout:   o.TLSHandshakeTimeout,
		ResponseHeaderTimeout: o.ResponseHeaderTimeout,
		// We ask for gzip and deflate ourselves and decode under the cap.
		DisableCompression:  true,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 2,
		MaxConnsPerHost:     o.MaxConnsPerHost,
		IdleConnTimeout:     90 * time.Second,
		// A single response header block larger than this is hostile.
		MaxResponseHeaderBytes: 256 << 10,
	}
	c := &Client{opts: o, guard: g, tr: tr}
	c.http = &http.Client{
		Transport: tr,
		Timeout:   o.Timeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Scheme != "http" && req.URL.Scheme != "https" {
				return fmt.Errorf("redirect to %q: %w", req.URL.Redacted(), ErrScheme)
			}
			if o.MaxRedirects < 0 || len(via) > o.MaxRedirects {
				return fmt.Errorf("%w (%d)", ErrTooManyRedirects, len(via))
			}
			for _, prev := range via {
				if prev.URL.String() == req.URL.String() {
					return fmt.Errorf("%w: loop at %s", ErrTooManyRedirects, req.URL.Redacted())
				}
			}
			// Carry the feed's own headers across redirects on the same host
			// only; net/http already drops Authorization across hosts.
			return nil
		},
	}
	return c, nil
}

// CloseIdleConnections closes idle keep-alive connections.
func (c *Client) CloseIdleConnections() { c.tr.CloseIdleConnections() }

// Result is the outcome of one Fetch.
type Result struct {
	// NotModified is true on 304: nothing was parsed, Articles is empty and
	// Validators are the ones passed in (updated if the server sent new).
	NotModified bool
	// Articles are the feed's items, normalised; see Parse.
	Articles []article.Raw
	// Validators to send with the next fetch.
	Validators Validators
	// Hints are the server's scheduling hints; on an HTTP error they are
	// still filled (RetryAfter on 429/503).
	Hints Hints
	// Bytes is the body size after decompression.
	Bytes int64
	// StatusCode of the final response (0 when none arrived).
	StatusCode int
	// FinalURL is the URL after redirects.
	FinalURL string
}

// Validators are the HTTP cache validators of the last successful fetch.
type Validators struct {
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
}

// Fetch does one conditional GET of f.URL and parses the body. ctx bounds
// the fetch together with Options.Timeout. On error, Result may still carry
// StatusCode, Hints and Bytes; the error is classified by ErrorClass.
func (c *Client) Fetch(ctx context.Context, f Feed, v Validators) (Result, error) {
	res, body, ct, err := c.get(ctx, f.URL, f.Headers, v, true)
	if err != nil || res.NotModified {
		return res, err
	}
	p, err := parseFeed(f, res.FinalURL, body, ct, c.opts.Now())
	if err != nil {
		return res, fmt.Errorf("parsing feed %q: %w", f.URL, err)
	}
	res.Articles = p.articles
	res.Hints.TTL = p.ttl
	return res, nil
}

// FetchPage GETs an article page under the same guard, limits and
// timeouts as a feed (for full-text extraction). It returns the body, its
// Content-Type and the final URL after redirects.
func (c *Client) FetchPage(ctx context.Context, pageURL string, headers map[string]string) (body []byte, contentType, finalURL string, err error) {
	res, body, ct, err := c.get(ctx, pageURL, headers, Validators{}, false)
	if err != nil {
		return nil, "", "", err
	}
	return body, ct, res.FinalURL, nil
}

func (c *Client) get(ctx context.Context, rawURL string, headers map[string]string, v Validators, feed bool) (Result, []byte, string, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return Result{}, nil, "", fmt.Errorf("fetching %q: %w", rawURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return Result{}, nil, "", fmt.Errorf("fetching %q: %w", u.Redacted(), ErrScheme)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return Result{}, nil, "", fmt.Errorf("fetching %q: %w", u.Redacted(), err)
	}
	// A feed's own headers may override the User-Agent (some publishers
	// block unknown agents) but not what the client must control.
	req.Header.Set("User-Agent", c.opts.UserAgent)
	for k, val := range headers {
		req.Header.Set(k, val)
	}
	req.Header.Set("Accept-Encoding", "gzip, deflate")
	if feed {
		if req.Header.Get("Accept") == "" {
			req.Header.Set("Accept", "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, application/json;q=0.8, */*;q=0.5")
		}
		if v.ETag != "" {
			req.Header.Set("If-None-Match", v.ETag)
		}
		if v.LastModified != "" {
			req.Header.Set("If-Modified-Since", v.LastModified)
		}
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return Result{}, nil, "", fmt.Errorf("fetching %q: %w", u.Redacted(), unwrapURLError(err))
	}
	defer resp.Body.Close()
	now := c.opts.Now()
	res := Result{
		StatusCode: resp.StatusCode,
		FinalURL:   resp.Request.URL.String(),
		Hints:      hintsFromHeader(resp.Header, resp.StatusCode, now),
		Validators: v,
	}
	if resp.StatusCode == http.StatusNotModified {
		if et := resp.Header.Get("ETag"); et != "" {
			res.Validators.ETag = et
		}
		if lm := resp.Header.Get("Last-Modified"); lm != "" {
			res.Validators.LastModified = lm
		}
		res.NotModified = true
		return res, nil, "", nil
	}
	ct := resp.Header.Get("Content-Type")
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		// Read a little of the body to tell a bot challenge from a plain error.
		head, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
		herr := &HTTPError{StatusCode: resp.StatusCode, Status: resp.Status, RetryAfter: res.Hints.RetryAfter}
		if isBotChallenge(resp.StatusCode, resp.Header, decodeHead(resp.Header, head)) {
			return res, nil, ct, fmt.Errorf("fetching %q: %w: %w", u.Redacted(), ErrBotChallenge, herr)
		}
		return res, nil, ct, fmt.Errorf("fetching %q: %w", u.Redacted(), herr)
	}
	body, err := c.readBody(resp)
	res.Bytes = int64(len(body))
	if err != nil {
		return res, nil, ct, fmt.Errorf("reading body of %q: %w", u.Redacted(), err)
	}
	if isBotChallenge(resp.StatusCode, resp.Header, body) {
		return res, nil, ct, fmt.Errorf("fetching %q: %w", u.Redacted(), ErrBotChallenge)
	}
	res.Validators = Validators{ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified")}
	return res, body, ct, nil
}

// readBody decodes the Content-Encoding and reads at most MaxBodyBytes of
// decoded bytes; one more is an ErrTooLarge.
func (c *Client) readBody(resp *http.Response) ([]byte, error) {
	limit := c.opts.MaxBodyBytes
	if resp.ContentLength > limit {
		return nil, fmt.Errorf("%w: Content-Length %d exceeds %d", ErrTooLarge, resp.ContentLength, limit)
	}
	var r io.Reader = resp.Body
	switch enc := strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))); enc {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("decoding gzip body: %w", err)
		}
		defer zr.Close()
		r = zr
	case "deflate":
		// "deflate" is zlib per the RFC, but some servers send raw DEFLATE.
		br := newPeekReader(resp.Body, 2)
		if isZlibHeader(br.peeked) {
			zr, err := zlib.NewReader(br)
			if err != nil {
				return nil, fmt.Errorf("decoding deflate body: %w", err)
			}
			defer zr.Close()
			r = zr
		} else {
			fr := flate.NewReader(br)
			defer fr.Close()
			r = fr
		}
	default:
		return nil, fmt.Errorf("%w: unsupported Content-Encoding %q", ErrParse, enc)
	}
	var buf bytes.Buffer
	if resp.ContentLength > 0 && resp.ContentLength <= limit {
		buf.Grow(int(resp.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(r, limit+1))
	if err != nil {
		return buf.Bytes(), unwrapURLError(err)
	}
	if n > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	return buf.Bytes(), nil
}

func isZlibHeader(b []byte) bool {
	return len(b) == 2 && b[0]&0x0f == 8 && (uint16(b[0])<<8|uint16(b[1]))%31 == 0
}

type peekReader struct {
	peeked []byte
	r      io.Reader
	off    int
}

func newPeekReader(r io.Reader, n int) *peekReader {
	b := make([]byte, n)
	m, _ := io.ReadFull(r, b)
	return &peekReader{peeked: b[:m], r: r}
}

func (p *peekReader) Read(b []byte) (int, error) {
	if p.off < len(p.peeked) {
		n := copy(b, p.peeked[p.off:])
		p.off += n
		return n, nil
	}
	return p.r.Read(b)
}

// decodeHead returns the first bytes of an error body, gunzipped if needed.
func decodeHead(h http.Header, head []byte) []byte {
	if strings.Contains(strings.ToLower(h.Get("Content-Encoding")), "gzip") {
		if zr, err := gzip.NewReader(bytes.NewReader(head)); err == nil {
			out, _ := io.ReadAll(io.LimitReader(zr, 16<<10))
			return out
		}
	}
	return head
}

// Markers of anti-bot interstitials (Cloudflare, DDoS-Guard, Sucuri,
// Imperva, Qrator, Yandex SmartCaptcha ...).
var challengeMarkers = [][]byte{
	[]byte("cf-browser-verification"), []byte("challenge-platform"), []byte("cf_chl_opt"),
	[]byte("<title>just a moment...</title>"), []byte("attention required! | cloudflare"),
	[]byte("ddos-guard"), []byte("sucuri website firewall"), []byte("_incapsula_resource"),
	[]byte("qrator"), []byte("smartcaptcha"), []byte("checking your browser"),
}

// isBotChallenge reports whether a response is an anti-bot challenge.
func isBotChallenge(status int, h http.Header, body []byte) bool {
	if strings.EqualFold(h.Get("Cf-Mitigated"), "challenge") {
		return true
	}
	if status != 200 && status != 403 && status != 429 && status != 503 {
		return false
	}
	head := bytes.ToLower(body[:min(len(body), 16<<10)])
	// A feed that merely mentions a vendor in an article is not a challenge.
	if status == 200 && !bytes.Contains(head, []byte("<html")) {
		return false
	}
	for _, m := range challengeMarkers {
		if bytes.Contains(head, m) {
			return true
		}
	}
	return false
}

// unwrapURLError removes the *url.Error layer (which repeats the URL) but
// keeps what it wraps, so messages name the URL once.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		if ue.Timeout() && !isTimeoutErr(ue.Err) {
			return fmt.Errorf("%w: %w", context.DeadlineExceeded, ue.Err)
		}
		return ue.Err
	}
	return err
}

func isTimeoutErr(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}
