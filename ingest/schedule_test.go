package ingest

import (
	"math"
	"net/http"
	"testing"
	"time"

	"github.com/wiredesk/wiredesk/ingest/article"
)

func TestNextPoll(t *testing.T) {
	f := Feed{MinInterval: 10 * time.Minute, MaxInterval: 2 * time.Hour}
	half := func() float64 { return 0.5 }
	cases := []struct {
		name string
		f    Feed
		h    Hints
		errs int
		rate float64
		rnd  func() float64
		want time.Duration
	}{
		{"unknown rate polls at min", f, Hints{}, 0, -1, nil, 10 * time.Minute},
		{"NaN rate polls at min", f, Hints{}, 0, math.NaN(), nil, 10 * time.Minute},
		{"silent feed polls at max", f, Hints{}, 0, 0, nil, 2 * time.Hour},
		{"busy feed clamps to min", f, Hints{}, 0, 60, nil, 10 * time.Minute},
		{"two an hour: every 30m", f, Hints{}, 0, 2, nil, 30 * time.Minute},
		{"one a day clamps to max", f, Hints{}, 0, 1.0 / 24, nil, 2 * time.Hour},
		{"max-age above interval wins", f, Hints{MaxAge: 45 * time.Minute}, 0, -1, nil, 45 * time.Minute},
		{"max-age below interval ignored", f, Hints{MaxAge: time.Minute}, 0, 2, nil, 30 * time.Minute},
		{"expires wins", f, Hints{Expires: time.Hour}, 0, -1, nil, time.Hour},
		{"rss ttl wins", f, Hints{TTL: 90 * time.Minute}, 0, -1, nil, 90 * time.Minute},
		{"retry-after wins", f, Hints{RetryAfter: 3 * time.Hour}, 1, -1, nil, 3 * time.Hour},
		{"absurd hint capped", f, Hints{MaxAge: 365 * 24 * time.Hour}, 0, -1, nil, MaxHint},
		{"one error doubles min", f, Hints{}, 1, -1, nil, 20 * time.Minute},
		{"three errors", f, Hints{}, 3, -1, nil, 80 * time.Minute},
		{"backoff below base interval", f, Hints{}, 1, 0, nil, 2 * time.Hour},
		{"backoff capped", f, Hints{}, 10, -1, nil, MaxBackoff},
		{"backoff never overflows", f, Hints{}, 1000, -1, nil, MaxBackoff},
		{"jitter only adds", f, Hints{}, 0, -1, half, 10*time.Minute + 30*time.Second},
		{"jitter on a hint", f, Hints{RetryAfter: time.Hour}, 0, -1, half, time.Hour + 3*time.Minute},
		{"zero feed gets defaults", Feed{}, Hints{}, 0, -1, nil, DefaultMinInterval},
		{"zero feed silent", Feed{}, Hints{}, 0, 0, nil, DefaultMaxInterval},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := NextPoll(tc.f, tc.h, tc.errs, tc.rate, tc.rnd); got != tc.want {
				t.Errorf("NextPoll = %s, want %s", got, tc.want)
			}
		})
	}
}

// TestNextPollBounds: whatever the inputs, the wait is positive and never
// longer than the largest cap plus jitter, so no feed is ever disabled.
func TestNextPollBounds(t *testing.T) {
	upper := time.Duration(float64(max(MaxHint, MaxBackoff, MaxPollInterval)) * (1 + Jitter))
	for _, errs := range []int{0, 1, 5, 63, 64, 1 << 30} {
		for _, rate := range []float64{-1, 0, 1e-9, 1, 1e9, math.Inf(1)} {
			for _, h := range []Hints{{}, {MaxAge: math.MaxInt64}, {RetryAfter: -time.Hour}} {
				d := NextPoll(Feed{MinInterval: time.Minute, MaxInterval: MaxPollInterval}, h, errs, rate, func() float64 { return 0.999 })
				if d <= 0 || d > upper {
					t.Errorf("errs=%d rate=%g hints=%+v: %s", errs, rate, h, d)
				}
			}
		}
	}
}

func TestHintsFromHeader(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name   string
		h      http.Header
		status int
		want   Hints
	}{
		{"max-age", http.Header{"Cache-Control": {"public, max-age=600"}}, 200, Hints{MaxAge: 10 * time.Minute}},
		{"quoted max-age", http.Header{"Cache-Control": {`max-age="60"`}}, 200, Hints{MaxAge: time.Minute}},
		{"no-cache wins", http.Header{"Cache-Control": {"max-age=600, no-cache"}, "Expires": {"Sun, 01 Mar 2026 13:00:00 GMT"}}, 200, Hints{}},
		{"expires against Date", http.Header{"Date": {"Sun, 01 Mar 2026 08:00:00 GMT"}, "Expires": {"Sun, 01 Mar 2026 08:20:00 GMT"}}, 200, Hints{Expires: 20 * time.Minute}},
		{"expires against now", http.Header{"Expires": {"Sun, 01 Mar 2026 12:30:00 GMT"}}, 200, Hints{Expires: 30 * time.Minute}},
		{"expires in the past", http.Header{"Expires": {"0"}}, 200, Hints{}},
		{"retry-after ignored on 200", http.Header{"Retry-After": {"60"}}, 200, Hints{}},
		{"retry-after seconds", http.Header{"Retry-After": {"60"}}, 429, Hints{RetryAfter: time.Minute}},
		{"retry-after date", http.Header{"Retry-After": {"Sun, 01 Mar 2026 14:00:00 GMT"}}, 503, Hints{RetryAfter: 2 * time.Hour}},
		{"retry-after garbage", http.Header{"Retry-After": {"soon"}}, 503, Hints{}},
		{"huge max-age does not overflow", http.Header{"Cache-Control": {"max-age=99999999999999999"}}, 200, Hints{MaxAge: secs(99999999999999999)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := hintsFromHeader(tc.h, tc.status, now); got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestPublishRate(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	at := func(from string, ago ...time.Duration) []article.Raw {
		var out []article.Raw
		for _, d := range ago {
			out = append(out, article.Raw{PublishedAt: now.Add(-d), PublishedFrom: from})
		}
		return out
	}
	cases := []struct {
		name string
		arts []article.Raw
		want float64
	}{
		{"empty", nil, -1},
		{"one dated", at(PublishedFromFeed, time.Hour), -1},
		{"undated only", at(PublishedFromFirstSeen, 0, 0, 0), -1},
		{"all old", at(PublishedFromFeed, 30*24*time.Hour, 40*24*time.Hour), 0},
		{"20 over 4 hours", at(PublishedFromFeed, 0, 4*time.Hour, time.Hour, 2*time.Hour, 3*time.Hour), 5.0 / 4},
		{"burst counts at least an hour", at(PublishedFromFeed, time.Minute, 2*time.Minute), 2},
		{"two a week", at(PublishedFromFeed, 24*time.Hour, 7*24*time.Hour-time.Hour, 9*24*time.Hour), 2 / (7*24.0 - 1)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := PublishRate(tc.arts, now); math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("PublishRate = %g, want %g", got, tc.want)
			}
		})
	}
}
