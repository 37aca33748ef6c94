package ingest

import (
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/wiredesk/wiredesk/ingest/article"
)

// Hints are the server's scheduling hints from one response. Each is zero
// when the server gave none. All are durations measured from the response,
// so the caller needs no clock to use them.
type Hints struct {
	// MaxAge is Cache-Control max-age (zero for no-cache/no-store).
	MaxAge time.Duration `json:"max_age,omitempty"`
	// Expires is the Expires header minus the response's Date header (or
	// the fetch time when Date is absent), so clock skew cancels out.
	Expires time.Duration `json:"expires,omitempty"`
	// TTL is the RSS <ttl> element (minutes in the feed).
	TTL time.Duration `json:"ttl,omitempty"`
	// RetryAfter is the Retry-After header, honoured on 429 and 503.
	RetryAfter time.Duration `json:"retry_after,omitempty"`
}

// Scheduling bounds.
const (
	// MaxHint caps what a server hint can impose: a feed that says
	// max-age=31536000 is still polled daily.
	MaxHint = 24 * time.Hour
	// MaxBackoff caps the backoff after consecutive errors. A failing feed
	// is retried at least this often, forever: it is never disabled.
	MaxBackoff = 12 * time.Hour
	// Jitter is the largest fraction NextPoll adds to spread polls out.
	Jitter = 0.1
)

// NextPoll returns how long to wait before polling f again.
//
// The base interval adapts to how often the feed publishes: the mean gap
// between new articles (1/itemsPerHour), clamped to [f.MinInterval,
// f.MaxInterval]. Pass a negative itemsPerHour when the rate is not known
// yet (the feed is then polled at MinInterval); zero means the feed
// published nothing in the caller's window (MaxInterval).
//
// The result is the largest of the base interval, the server's hints (each
// capped at MaxHint) and, after consecutiveErrors > 0 failed polls in a
// row, an exponential backoff MinInterval·2^errors capped at MaxBackoff.
// Jitter is only ever added, never subtracted, so a server's hint is never
// undercut: rnd returns a value in [0, 1) (math/rand/v2's Float64) and
// adds up to Jitter of the wait; a nil rnd adds none. The result is always
// positive.
func NextPoll(f Feed, h Hints, consecutiveErrors int, itemsPerHour float64, rnd func() float64) time.Duration {
	minI, maxI := f.MinInterval, f.MaxInterval
	if minI <= 0 {
		minI = DefaultMinInterval
	}
	if maxI < minI {
		maxI = max(minI, DefaultMaxInterval)
	}
	var d time.Duration
	switch {
	case itemsPerHour < 0 || math.IsNaN(itemsPerHour):
		d = minI
	case itemsPerHour == 0:
		d = maxI
	default:
		gap := float64(time.Hour) / itemsPerHour
		d = time.Duration(min(gap, float64(maxI)))
	}
	d = min(max(d, minI), maxI)
	for _, hint := range []time.Duration{h.MaxAge, h.Expires, h.TTL, h.RetryAfter} {
		d = max(d, min(hint, MaxHint))
	}
	if consecutiveErrors > 0 {
		backoff := MaxBackoff
		if consecutiveErrors < 30 { // beyond that 2^n overflows and is capped anyway
			backoff = min(minI<<consecutiveErrors, MaxBackoff)
		}
		d = max(d, backoff)
	}
	if rnd != nil {
		r := rnd()
		if r > 0 && r < 1 {
			d += time.Duration(float64(d) * Jitter * r)
		}
	}
	return d
}

// hintsFromHeader reads Cache-Control, Expires and Retry-After. now is the
// time the response arrived, used when the server sent no Date.
func hintsFromHeader(h http.Header, status int, now time.Time) Hints {
	var out Hints
	for _, dir := range strings.Split(h.Get("Cache-Control"), ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(dir), "=")
		switch strings.ToLower(name) {
		case "max-age":
			if s, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64); err == nil && s > 0 {
				out.MaxAge = secs(s)
			}
		case "no-cache", "no-store":
			out.MaxAge, out.Expires = 0, 0
			return withRetryAfter(out, h, status, now)
		}
	}
	if exp := h.Get("Expires"); exp != "" {
		if t, err := http.ParseTime(exp); err == nil {
			base := now
			if d, err := http.ParseTime(h.Get("Date")); err == nil {
				base = d
			}
			if t.After(base) {
				out.Expires = t.Sub(base)
			}
		}
	}
	return withRetryAfter(out, h, status, now)
}

func withRetryAfter(out Hints, h http.Header, status int, now time.Time) Hints {
	if status == http.StatusTooManyRequests || status == http.StatusServiceUnavailable {
		out.RetryAfter = parseRetryAfter(h, now)
	}
	return out
}

// parseRetryAfter reads Retry-After as delay-seconds or an HTTP date.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return secs(s)
	}
	if t, err := http.ParseTime(v); err == nil {
		base := now
		if d, err := http.ParseTime(h.Get("Date")); err == nil {
			base = d
		}
		if t.After(base) {
			return t.Sub(base)
		}
	}
	return 0
}

// secs converts seconds to a Duration without overflowing.
func secs(s int64) time.Duration {
	const maxSecs = int64(math.MaxInt64 / int64(time.Second))
	return time.Duration(min(s, maxSecs)) * time.Second
}

// RateWindow is how far back PublishRate looks.
const RateWindow = 7 * 24 * time.Hour

// PublishRate estimates how many articles per hour a feed publishes from
// the dates in one fetch, so NextPoll can adapt without stored history:
// the number of feed-dated articles within RateWindow divided by the time
// since the oldest of them (a busy feed that lists only its last 20
// stories over 3 hours gets ~6.7/h). It returns -1 (unknown) when fewer
// than two articles carry a feed date, and 0 when none is recent.
func PublishRate(arts []article.Raw, now time.Time) float64 {
	var dated, recent int
	oldest := now
	for _, a := range arts {
		if a.PublishedFrom != PublishedFromFeed {
			continue
		}
		dated++
		if a.PublishedAt.Before(now.Add(-RateWindow)) || a.PublishedAt.After(now) {
			continue
		}
		recent++
		if a.PublishedAt.Before(oldest) {
			oldest = a.PublishedAt
		}
	}
	switch {
	case dated < 2:
		return -1
	case recent == 0:
		return 0
	}
	span := max(now.Sub(oldest), time.Hour) // one story a minute ago is not 60/h
	return float64(recent) / span.Hours()
}
