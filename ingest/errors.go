package ingest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"
	"time"
)

// Sentinel errors. Fetch and Parse wrap them with the feed URL; test them
// with errors.Is, or name their class with ErrorClass.
var (
	// ErrTooLarge: the body, after decompression, exceeds Options.MaxBodyBytes.
	ErrTooLarge = errors.New("ingest: response body too large")
	// ErrBlockedAddress: the SSRF guard refused to connect to an address.
	ErrBlockedAddress = errors.New("ingest: address blocked")
	// ErrScheme: the URL, or a redirect target, is not http or https.
	ErrScheme = errors.New("ingest: URL scheme not allowed")
	// ErrTooManyRedirects: more than Options.MaxRedirects redirects, or a loop.
	ErrTooManyRedirects = errors.New("ingest: too many redirects")
	// ErrNotFeed: the document is not RSS, Atom or JSON Feed (an HTML page,
	// an empty body, plain text).
	ErrNotFeed = errors.New("ingest: document is not a feed")
	// ErrParse: the document looks like a feed but could not be parsed.
	ErrParse = errors.New("ingest: malformed feed")
	// ErrBotChallenge: the server answered with an anti-bot challenge page
	// (Cloudflare, DDoS-Guard, ...) instead of the feed.
	ErrBotChallenge = errors.New("ingest: bot challenge")
)

// HTTPError is a response with a status other than 2xx or 304.
type HTTPError struct {
	StatusCode int
	Status     string
	// RetryAfter is the parsed Retry-After header, zero when absent.
	RetryAfter time.Duration
}

func (e *HTTPError) Error() string {
	return "ingest: http status " + e.Status
}

// Error classes returned by ErrorClass. They are bounded, so they are safe
// as metric label values.
const (
	ClassDNS            = "dns"
	ClassTLS            = "tls"
	ClassTimeout        = "timeout"
	ClassConnection     = "connection"
	ClassHTTP4xx        = "http_4xx"
	ClassHTTP5xx        = "http_5xx"
	ClassHTTP429        = "http_429"
	ClassBotChallenge   = "bot_challenge"
	ClassParse          = "parse"
	ClassTooLarge       = "too_large"
	ClassBlockedAddress = "blocked_address"
	ClassOther          = "other"
)

// ErrorClass names the class of an error returned by Fetch or Parse: one of
// the Class* constants. It returns "" for a nil error.
func ErrorClass(err error) string {
	if err == nil {
		return ""
	}
	var (
		httpErr *HTTPError
		dnsErr  *net.DNSError
		netErr  net.Error
	)
	switch {
	case errors.Is(err, ErrBlockedAddress), errors.Is(err, ErrScheme):
		return ClassBlockedAddress
	case errors.Is(err, ErrTooLarge):
		return ClassTooLarge
	case errors.Is(err, ErrBotChallenge):
		return ClassBotChallenge
	case errors.Is(err, ErrNotFeed), errors.Is(err, ErrParse), errors.Is(err, ErrNoArticle):
		return ClassParse
	case errors.As(err, &httpErr):
		switch {
		case httpErr.StatusCode == 429:
			return ClassHTTP429
		case httpErr.StatusCode >= 500:
			return ClassHTTP5xx
		case httpErr.StatusCode >= 400:
			return ClassHTTP4xx
		}
		return ClassOther
	case errors.As(err, &dnsErr):
		return ClassDNS
	case isTLSError(err):
		return ClassTLS
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, syscall.ETIMEDOUT),
		errors.As(err, &netErr) && netErr.Timeout():
		return ClassTimeout
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.ECONNABORTED), errors.Is(err, syscall.EHOSTUNREACH),
		errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.EPIPE),
		errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return ClassConnection
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return ClassConnection
	}
	return ClassOther
}

func isTLSError(err error) bool {
	var (
		certErr     *tls.CertificateVerificationError
		recordErr   tls.RecordHeaderError
		alertErr    tls.AlertError
		unknownAuth x509.UnknownAuthorityError
		hostErr     x509.HostnameError
		invalidErr  x509.CertificateInvalidError
		echErr      *tls.ECHRejectionError
	)
	return errors.As(err, &certErr) || errors.As(err, &recordErr) || errors.As(err, &alertErr) ||
		errors.As(err, &unknownAuth) || errors.As(err, &hostErr) || errors.As(err, &invalidErr) ||
		errors.As(err, &echErr)
}

// wrapf wraps err with a gerund phrase naming the input.
func wrapf(err error, format string, args ...any) error {
	return fmt.Errorf(format+": %w", append(args, err)...)
}
