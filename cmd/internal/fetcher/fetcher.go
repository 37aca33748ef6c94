// Package fetcher wires the ingest stage to NATS: it schedules polls of
// the registered feeds, publishes new articles and new revisions to
// NEWS_RAW, and keeps every bit of state in NATS KV so that replicas share
// it and a restart loses nothing and republishes nothing.
package fetcher

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wiredesk/wiredesk/cmd/internal/bus"
	"github.com/wiredesk/wiredesk/cmd/internal/config"
	"github.com/wiredesk/wiredesk/ingest"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// KV buckets the fetcher owns.
const (
	BucketState  = "wiredesk_feed_state"
	BucketSeen   = "wiredesk_seen"
	BucketLeases = "wiredesk_feed_leases"
)

// DefaultLeaseTTL is the default of Service.LeaseTTL.
const DefaultLeaseTTL = 30 * time.Second

// stallWait bounds how long a publish waits for room among the
// asynchronous publishes in flight.
const stallWait = 30 * time.Second

// DefaultFullTextWorkers is the default of Service.FullTextWorkers.
const DefaultFullTextWorkers = 4

// State is what the fetcher remembers about one feed, stored as JSON in
// BucketState under the feed id.
type State struct {
	Validators  ingest.Validators `json:"validators"`
	LastAttempt time.Time         `json:"last_attempt"`
	LastSuccess time.Time         `json:"last_success,omitzero"`
	Errors      int               `json:"consecutive_errors"`
	LastError   string            `json:"last_error,omitempty"`
	ErrorClass  string            `json:"error_class,omitempty"`
	NextPoll    time.Time         `json:"next_poll"`
	// ItemsPerHour is a moving estimate of how often the feed publishes;
	// negative until known.
	ItemsPerHour float64 `json:"items_per_hour"`
}

// Health is published on news.feeds.health.<feed> whenever a feed's health
// changes (ok ↔ failing, or the error class changes).
type Health struct {
	Feed       string    `json:"feed"`
	Status     string    `json:"status"` // "ok" or "failing"
	ErrorClass string    `json:"error_class,omitempty"`
	Error      string    `json:"error,omitempty"`
	Errors     int       `json:"consecutive_errors"`
	Time       time.Time `json:"time"`
}

// Service polls feeds and publishes raw articles.
type Service struct {
	NC     *nats.Conn
	JS     jetstream.JetStream
	Client *ingest.Client
	Feeds  []ingest.Feed
	Config config.Fetcher
	Logger *slog.Logger
	// Instance names this replica in leases. Default: the NATS client id.
	Instance string
	// OnPoll, if set, is called after each poll (the demo shows progress).
	OnPoll func(PollResult)
	// Replicas is the replication factor of the fetcher's KV buckets: 3 on
	// a three-node NATS cluster, like the streams. Default 1.
	Replicas int
	// LeaseTTL bounds how long a crashed replica's lease blocks a feed; a
	// live poller renews its lease every third of it. All replicas must
	// use the same value. Default DefaultLeaseTTL.
	LeaseTTL time.Duration
	// PollOnStart polls every feed once at start even when its stored
	// state says it is not due yet (the demo, which runs once and stops).
	PollOnStart bool
	// FullTextWorkers bounds the article pages one poll fetches at once
	// for feeds with full_text. Default DefaultFullTextWorkers.
	FullTextWorkers int

	state, seen, leases jetstream.KeyValue
	metrics             *metrics
	Ready               atomic.Bool
}

// PollResult summarises one poll of one feed.
type PollResult struct {
	Feed        string
	NotModified bool
	Found       int // items in the feed
	Published   int // new articles and new revisions
	Err         error
	// NextPoll is when the feed is due again, as stored in its state.
	NextPoll time.Time
}

type metrics struct {
	polls     *prometheus.CounterVec
	published *prometheus.CounterVec
	fullText  *prometheus.CounterVec
	seconds   prometheus.Histogram
	failing   *prometheus.GaugeVec
}

// Run polls feeds until ctx is done. In-flight polls finish first; their
// publishes are acknowledged before Run returns.
func (s *Service) Run(ctx context.Context, reg prometheus.Registerer) error {
	if s.state == nil {
		if err := s.Open(ctx, reg); err != nil {
			return err
		}
	}
	s.Ready.Store(true)

	workers := make(chan struct{}, max(1, s.Config.Workers))
	hosts := newHostLimiter(max(1, s.Config.PerHost))
	var wg sync.WaitGroup
	defer wg.Wait()
	inFlight := map[string]bool{}
	// next caches each feed's NextPoll so that an idle tick reads no KV;
	// Poll re-reads the stored state, which other replicas may have moved.
	next := map[string]time.Time{}
	var mu sync.Mutex
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		now := time.Now()
		for _, f := range s.Feeds {
			mu.Lock()
			busy := inFlight[f.ID]
			due, known := next[f.ID]
			mu.Unlock()
			if !known && !s.PollOnStart {
				st, err := s.loadState(ctx, f.ID)
				if err != nil {
					continue
				}
				due = st.NextPoll
			}
			if busy || now.Before(due) {
				continue
			}
			select {
			case workers <- struct{}{}:
			case <-ctx.Done():
				return nil
			}
			mu.Lock()
			inFlight[f.ID] = true
			mu.Unlock()
			wg.Go(func() {
				defer func() { <-workers }()
				host := hostOf(f.URL)
				hosts.acquire(host)
				defer hosts.release(host)
				// A poll that started finishes even during shutdown, bounded
				// by the client's timeout, so its publishes are acked.
				r := s.poll(context.WithoutCancel(ctx), f, !known && s.PollOnStart)
				if s.OnPoll != nil {
					s.OnPoll(r)
				}
				mu.Lock()
				delete(inFlight, f.ID)
				if !r.NextPoll.IsZero() {
					next[f.ID] = r.NextPoll
				}
				mu.Unlock()
			})
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// Open creates the KV buckets and registers the metrics on reg. Run calls
// it when the caller has not; Poll needs it.
func (s *Service) Open(ctx context.Context, reg prometheus.Registerer) error {
	if s.Instance == "" {
		id, _ := s.NC.GetClientID()
		s.Instance = fmt.Sprintf("%s-%d", s.NC.Opts.Name, id)
	}
	var err error
	if s.state, err = s.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: BucketState, Replicas: max(1, s.Replicas), Description: "wiredesk: per-feed fetch state", History: 1, Storage: jetstream.FileStorage,
	}); err != nil {
		return fmt.Errorf("creating KV bucket %s: %w", BucketState, err)
	}
	if s.seen, err = s.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: BucketSeen, Replicas: max(1, s.Replicas), Description: "wiredesk: article id → last published revision", History: 1,
		TTL: s.Config.SeenTTL, Storage: jetstream.FileStorage,
	}); err != nil {
		return fmt.Errorf("creating KV bucket %s: %w", BucketSeen, err)
	}
	if s.leases, err = s.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: BucketLeases, Replicas: max(1, s.Replicas), Description: "wiredesk: which fetcher replica is polling a feed", History: 1,
		TTL: s.leaseTTL(), Storage: jetstream.FileStorage,
	}); err != nil {
		return fmt.Errorf("creating KV bucket %s: %w", BucketLeases, err)
	}
	s.registerMetrics(reg)
	return nil
}

func (s *Service) registerMetrics(reg prometheus.Registerer) {
	s.metrics = &metrics{
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wiredesk_fetcher_polls_total", Help: "Feed polls by outcome: ok, not_modified, or the error class.",
		}, []string{"feed", "outcome"}),
		published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wiredesk_fetcher_articles_published_total", Help: "Articles published to NEWS_RAW (new articles and new revisions).",
		}, []string{"feed"}),
		fullText: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wiredesk_fetcher_full_text_total", Help: "Article pages fetched for full text, by outcome: page (text extracted), or the error class (the feed's text was kept).",
		}, []string{"feed", "outcome"}),
		seconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "wiredesk_fetcher_poll_seconds", Help: "Time to fetch, parse and publish one feed.",
			Buckets: prometheus.ExponentialBuckets(0.005, 4, 8),
		}),
		failing: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "wiredesk_fetcher_feed_failing", Help: "1 while a feed's last poll failed.",
		}, []string{"feed"}),
	}
	reg.MustRegister(s.metrics.polls, s.metrics.published, s.metrics.fullText, s.metrics.seconds, s.metrics.failing)
}

// loadState reads a feed's stored state; a feed never polled, or whose
// state cannot be read, starts from the zero state.
func (s *Service) loadState(ctx context.Context, id string) (State, error) {
	st := State{ItemsPerHour: -1}
	e, err := s.state.Get(ctx, id)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return st, nil
	}
	if err != nil {
		return st, fmt.Errorf("reading state of feed %s: %w", id, err)
	}
	if err := json.Unmarshal(e.Value(), &st); err != nil {
		return State{ItemsPerHour: -1}, nil
	}
	return st, nil
}

// Poll fetches one feed if it is due and no other replica holds its
// lease, and publishes what is new. It records the outcome in the feed's
// state.
func (s *Service) Poll(ctx context.Context, f ingest.Feed) PollResult { return s.poll(ctx, f, false) }

// poll is Poll; force skips the due check.
func (s *Service) poll(ctx context.Context, f ingest.Feed, force bool) PollResult {
	res := PollResult{Feed: f.ID}
	rev, err := s.leases.Create(ctx, f.ID, []byte(s.Instance))
	if err != nil {
		if !errors.Is(err, jetstream.ErrKeyExists) {
			res.Err = fmt.Errorf("taking lease on feed %s: %w", f.ID, err)
		}
		return res // another replica is polling it
	}
	stopRenewing := s.renewLease(ctx, f.ID, rev)
	defer func() {
		stopRenewing()
		_ = s.leases.Delete(context.WithoutCancel(ctx), f.ID)
	}()

	st, err := s.loadState(ctx, f.ID)
	if err != nil {
		res.Err = err
		return res
	}
	if !force && time.Now().Before(st.NextPoll) {
		res.NextPoll = st.NextPoll
		return res // polled by another replica since we looked
	}
	start := time.Now()
	st.LastAttempt = start
	fetched, err := s.Client.Fetch(ctx, f, st.Validators)
	if err == nil && !fetched.NotModified {
		res.Found = len(fetched.Articles)
		res.Published, err = s.publish(ctx, f, fetched.Articles)
	}
	res.NotModified = fetched.NotModified
	res.Err = err
	s.metrics.seconds.Observe(time.Since(start).Seconds())
	s.record(ctx, f, &st, fetched, res)
	res.NextPoll = st.NextPoll
	return res
}

func (s *Service) leaseTTL() time.Duration {
	if s.LeaseTTL > 0 {
		return s.LeaseTTL
	}
	return DefaultLeaseTTL
}

// renewLease keeps the lease on feed id alive while a poll runs, with
// compare-and-set on its revision so that a lease that expired and was
// taken by another replica is never overwritten. The returned function
// stops the renewal and waits for it.
func (s *Service) renewLease(ctx context.Context, id string, rev uint64) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(s.leaseTTL() / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
			}
			next, err := s.leases.Update(ctx, id, []byte(s.Instance), rev)
			if err != nil {
				s.Logger.Warn("Renewing a feed lease failed; another replica may poll the feed too.",
					slog.String("feed", id), slog.String("error", err.Error()))
				return
			}
			rev = next
		}
	})
	return func() { close(done); wg.Wait() }
}

// publish sends the articles whose revision is new, waits until JetStream
// stores each, and only then marks it seen. A crash between the two
// republishes at most the articles in flight, and JetStream's duplicate
// window drops those.
//
// The seen-set is checked first, with the revision the feed's content
// gives; only the articles that pass have their pages fetched for full
// text, which leaves the revision as it was. An unchanged article
// therefore costs no page fetch.
func (s *Service) publish(ctx context.Context, f ingest.Feed, arts []article.Raw) (int, error) {
	type pending struct {
		a   *article.Raw
		fut jetstream.PubAckFuture
	}
	fresh := make([]*article.Raw, 0, len(arts))
	for i := range arts {
		a := &arts[i]
		if e, err := s.seen.Get(ctx, a.ID); err == nil && string(e.Value()) == a.Revision {
			continue
		}
		fresh = append(fresh, a)
	}
	s.fullText(ctx, f, fresh)
	var out []pending
	var errs []error
	for _, a := range fresh {
		a.SchemaVersion = article.RawSchemaVersion
		data, err := json.Marshal(a)
		if err != nil {
			errs = append(errs, fmt.Errorf("encoding article %s: %w", a.ID, err))
			continue
		}
		msg := bus.NewMsg(bus.Event{
			Subject: bus.RawSubject(f.ID), Type: bus.TypeRaw, Source: "/wiredesk/fetcher/" + f.ID,
			ID: a.MsgID(), Time: a.FetchedAt,
		}, data)
		// With max_in_flight publishes outstanding, wait for room instead
		// of failing the poll (the client's default wait is 200 ms).
		fut, err := s.JS.PublishMsgAsync(msg, jetstream.WithStallWait(stallWait))
		if err != nil {
			errs = append(errs, fmt.Errorf("publishing article %s: %w", a.ID, err))
			break
		}
		out = append(out, pending{a, fut})
	}
	published := 0
	for _, p := range out {
		select {
		case <-p.fut.Ok():
		case err := <-p.fut.Err():
			errs = append(errs, fmt.Errorf("publishing article %s: %w", p.a.ID, err))
			continue
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("waiting for publish ack of article %s: %w", p.a.ID, context.Cause(ctx)))
			continue
		}
		published++
		if _, err := s.seen.Put(ctx, p.a.ID, []byte(p.a.Revision)); err != nil {
			errs = append(errs, fmt.Errorf("marking article %s seen: %w", p.a.ID, err))
		}
	}
	s.metrics.published.WithLabelValues(f.ID).Add(float64(published))
	return published, errors.Join(errs...)
}

// fullText replaces the summaries of arts by their pages' main text when
// the feed asks for it, fetching at most FullTextWorkers pages at once. It
// returns when every fetch has ended. A failed extraction keeps the
// feed's text; it is counted and logged, never fatal to the poll.
func (s *Service) fullText(ctx context.Context, f ingest.Feed, arts []*article.Raw) {
	if !f.FullText {
		return
	}
	workers := s.FullTextWorkers
	if workers <= 0 {
		workers = DefaultFullTextWorkers
	}
	sem := make(chan struct{}, workers)
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, a := range arts {
		if !ingest.NeedsFullText(f, *a) {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		wg.Go(func() {
			defer func() { <-sem }()
			out, err := s.Client.FullText(ctx, f, *a)
			*a = out
			outcome := ingest.BodyFromPage
			if err != nil {
				outcome = ingest.ErrorClass(err)
				s.Logger.Info("Full text extraction failed; keeping the feed text.", slog.String("feed", f.ID),
					slog.String("url", a.URL), slog.String("error", err.Error()), slog.String("error_class", outcome))
			}
			s.metrics.fullText.WithLabelValues(f.ID, outcome).Inc()
		})
	}
}

// record stores the poll's outcome, schedules the next poll and publishes
// a health event when the feed's health changed.
func (s *Service) record(ctx context.Context, f ingest.Feed, st *State, r ingest.Result, res PollResult) {
	log := s.Logger.With(slog.String("feed", f.ID))
	prevClass := st.ErrorClass
	if res.Err != nil {
		st.Errors++
		st.ErrorClass = ingest.ErrorClass(res.Err)
		st.LastError = res.Err.Error()
		s.metrics.polls.WithLabelValues(f.ID, st.ErrorClass).Inc()
		s.metrics.failing.WithLabelValues(f.ID).Set(1)
		log.Warn("Polling a feed failed.", slog.String("error", st.LastError), slog.String("error_class", st.ErrorClass), slog.Int("consecutive_errors", st.Errors))
	} else {
		outcome := "ok"
		if res.NotModified {
			outcome = "not_modified"
		}
		st.Errors, st.ErrorClass, st.LastError = 0, "", ""
		st.LastSuccess = st.LastAttempt
		st.Validators = r.Validators
		st.ItemsPerHour = estimateRate(st.ItemsPerHour, r.Articles, st.LastAttempt)
		s.metrics.polls.WithLabelValues(f.ID, outcome).Inc()
		s.metrics.failing.WithLabelValues(f.ID).Set(0)
		log.Info("Polled a feed.", slog.Bool("not_modified", res.NotModified), slog.Int("items", res.Found), slog.Int("published", res.Published))
	}
	st.NextPoll = time.Now().Add(ingest.NextPoll(f, r.Hints, st.Errors, st.ItemsPerHour, rand.Float64))
	data, _ := json.Marshal(st)
	if _, err := s.state.Put(ctx, f.ID, data); err != nil {
		log.Warn("Saving feed state failed.", slog.String("error", err.Error()))
	}
	if prevClass != st.ErrorClass {
		s.publishHealth(f.ID, st)
	}
}

func (s *Service) publishHealth(feed string, st *State) {
	h := Health{Feed: feed, Status: "ok", ErrorClass: st.ErrorClass, Error: st.LastError, Errors: st.Errors, Time: time.Now().UTC()}
	if st.ErrorClass != "" {
		h.Status = "failing"
	}
	data, _ := json.Marshal(h)
	if err := s.NC.Publish(bus.FeedHealthSubject(feed), data); err != nil {
		s.Logger.Warn("Publishing feed health failed.", slog.String("feed", feed), slog.String("error", err.Error()))
	}
}

// estimateRate updates the publishing-rate estimate from the items' dates
// in the last week: items per hour, smoothed with the previous estimate.
func estimateRate(prev float64, arts []article.Raw, now time.Time) float64 {
	const window = 7 * 24 * time.Hour
	n := 0
	for _, a := range arts {
		if a.PublishedFrom == "feed" && now.Sub(a.PublishedAt) < window {
			n++
		}
	}
	rate := float64(n) / window.Hours()
	if prev < 0 {
		return rate
	}
	return 0.5*prev + 0.5*rate
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return raw
	}
	return u.Hostname()
}

// hostLimiter bounds concurrent polls per host.
type hostLimiter struct {
	mu    sync.Mutex
	limit int
	sems  map[string]chan struct{}
}

func newHostLimiter(n int) *hostLimiter {
	return &hostLimiter{limit: n, sems: map[string]chan struct{}{}}
}

func (h *hostLimiter) acquire(host string) {
	h.mu.Lock()
	sem, ok := h.sems[host]
	if !ok {
		sem = make(chan struct{}, h.limit)
		h.sems[host] = sem
	}
	h.mu.Unlock()
	sem <- struct{}{}
}

func (h *hostLimiter) release(host string) {
	h.mu.Lock()
	sem := h.sems[host]
	h.mu.Unlock()
	<-sem
}
