package bus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
)

// Handler processes a batch of messages and returns one error per message,
// in order: nil when the message's effect is durable (it is then acked), an
// error marked Permanent or Unavailable, or any other error, which is
// retried by redelivery until MaxDeliver and then dead-lettered.
//
// The context is cancelled only when the shutdown grace period has run
// out, not when shutdown starts: in-flight work is allowed to finish.
type Handler func(ctx context.Context, msgs []jetstream.Msg) []error

// Dead-letter headers. The message body is the original body; the original
// headers are kept too.
const (
	HeaderDLQReason     = "Wiredesk-Dlq-Reason"
	HeaderDLQStage      = "Wiredesk-Dlq-Stage"
	HeaderDLQStream     = "Wiredesk-Dlq-Stream"
	HeaderDLQSequence   = "Wiredesk-Dlq-Sequence"
	HeaderDLQSubject    = "Wiredesk-Dlq-Subject"
	HeaderDLQDeliveries = "Wiredesk-Dlq-Deliveries"
	HeaderDLQTime       = "Wiredesk-Dlq-Time"
)

// Loop pulls batches from one durable consumer and applies the ack rules.
// It is the only place in wiredesk that acks, naks or terminates.
type Loop struct {
	Stage    string // "enricher", "indexer": names the DLQ subject and metrics
	Consumer jetstream.Consumer
	JS       jetstream.JetStream // publishes dead letters
	Settings ConsumerSettings
	Handle   Handler
	Logger   *slog.Logger
	// Grace bounds how long in-flight work may run after shutdown starts.
	Grace time.Duration
	// Ready is set false while a dependency is unavailable, true when work
	// flows. May be nil.
	Ready   *atomic.Bool
	Metrics *LoopMetrics

	// MaxBackoff caps the wait between retries of an unavailable
	// dependency and the NAK delay of a failed message.
	MaxBackoff time.Duration
}

// LoopMetrics are the consume loop's Prometheus metrics.
type LoopMetrics struct {
	outcomes *prometheus.CounterVec
	batch    prometheus.Histogram
	outage   prometheus.Gauge
}

// NewLoopMetrics registers the loop metrics of stage on reg.
func NewLoopMetrics(reg prometheus.Registerer, stage string) *LoopMetrics {
	m := &LoopMetrics{
		outcomes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "wiredesk_" + stage + "_messages_total",
			Help: "Messages handled, by outcome: acked, nacked (redelivery), dead_lettered, retried_unavailable.",
		}, []string{"outcome"}),
		batch: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "wiredesk_" + stage + "_batch_seconds",
			Help:    "Time to handle one batch.",
			Buckets: prometheus.ExponentialBuckets(0.001, 4, 8),
		}),
		outage: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "wiredesk_" + stage + "_dependency_unavailable",
			Help: "1 while the stage waits for an unavailable dependency and pulls nothing.",
		}),
	}
	reg.MustRegister(m.outcomes, m.batch, m.outage)
	return m
}

// Run pulls and handles batches until ctx is cancelled, then finishes the
// batch in flight (bounded by Grace) and returns nil. It returns an error
// only when pulling fails in a way that retrying cannot fix.
func (l *Loop) Run(ctx context.Context) error {
	s := l.Settings.WithDefaults()
	if l.MaxBackoff == 0 {
		l.MaxBackoff = 30 * time.Second
	}
	fetchFailures := 0
	for ctx.Err() == nil {
		batch, err := l.Consumer.Fetch(s.Batch, jetstream.FetchMaxWait(s.BatchWait))
		if err != nil {
			// NATS down or the consumer gone: the connection reconnects on
			// its own; the service stays up and reports not ready.
			fetchFailures++
			l.setReady(false)
			l.Logger.Warn("Pulling messages failed; retrying.", slog.String("error", err.Error()), slog.Int("attempt", fetchFailures))
			if !sleep(ctx, backoff(fetchFailures, l.MaxBackoff)) {
				break
			}
			continue
		}
		var msgs []jetstream.Msg
		for m := range batch.Messages() {
			msgs = append(msgs, m)
		}
		if err := batch.Error(); err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, jetstream.ErrNoMessages) {
			fetchFailures++
			l.setReady(false)
			l.Logger.Warn("Pull request ended with an error.", slog.String("error", err.Error()), slog.Int("received", len(msgs)))
		} else {
			fetchFailures = 0
		}
		if len(msgs) == 0 {
			if fetchFailures == 0 {
				l.setReady(true)
			} else if !sleep(ctx, backoff(fetchFailures, l.MaxBackoff)) {
				break
			}
			continue
		}
		l.process(ctx, msgs, s)
	}
	return nil
}

// process handles one batch to the end: every message is acked, nacked,
// dead-lettered, or (on shutdown timeout) left for redelivery.
func (l *Loop) process(ctx context.Context, msgs []jetstream.Msg, s ConsumerSettings) {
	// Work gets its own context: shutdown stops pulling at once, but the
	// batch in flight may finish within the grace period.
	work, cancel := l.workContext(ctx)
	defer cancel()
	attempt := 0
	for len(msgs) > 0 {
		start := time.Now()
		errs := l.handleInProgress(work, msgs, s.AckWait)
		if l.Metrics != nil {
			l.Metrics.batch.Observe(time.Since(start).Seconds())
		}
		var retry []jetstream.Msg
		var lastErr error
		for i, m := range msgs {
			var err error
			if i < len(errs) {
				err = errs[i]
			} else {
				err = errors.New("bus: handler returned no outcome for message")
			}
			if IsUnavailable(err) && work.Err() == nil {
				retry = append(retry, m)
				lastErr = err
				continue
			}
			l.settle(work, m, err, s)
		}
		if len(retry) == 0 {
			l.setReady(true)
			return
		}
		// A dependency is down or throttling. Pull nothing more, keep these
		// messages in progress so JetStream does not redeliver them, and
		// retry them. The backoff grows only while nothing gets through:
		// when part of the batch succeeded, the dependency is up but
		// throttling, and the rest is retried at the base delay.
		if len(retry) < len(msgs) {
			attempt = 1
		} else {
			attempt++
		}
		l.setReady(false)
		l.count("retried_unavailable", len(retry))
		if l.Metrics != nil {
			l.Metrics.outage.Set(1)
		}
		wait := backoff(attempt, l.MaxBackoff)
		l.Logger.Warn("A dependency is unavailable; holding messages and retrying.",
			slog.Int("messages", len(retry)), slog.Duration("retry_in", wait), slog.String("error", lastErr.Error()))
		if !l.hold(ctx, retry, wait, s.AckWait) {
			// Shutting down: leave them to JetStream, which redelivers them
			// after AckWait to this or another replica.
			for _, m := range retry {
				_ = m.Nak()
			}
			return
		}
		msgs = retry
	}
	if l.Metrics != nil {
		l.Metrics.outage.Set(0)
	}
}

// handleInProgress runs the handler and, while it runs, tells JetStream
// every third of AckWait that the messages are still being worked on, so
// that a slow dependency does not make them redeliver to another replica.
func (l *Loop) handleInProgress(ctx context.Context, msgs []jetstream.Msg, ackWait time.Duration) []error {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(ackWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				for _, m := range msgs {
					_ = m.InProgress()
				}
			}
		}
	})
	defer wg.Wait()
	defer close(done)
	return l.Handle(ctx, msgs)
}

// hold waits for d while keeping msgs in progress. It returns false when
// ctx is cancelled first.
func (l *Loop) hold(ctx context.Context, msgs []jetstream.Msg, d, ackWait time.Duration) bool {
	deadline := time.Now().Add(d)
	tick := ackWait / 3
	for {
		for _, m := range msgs {
			_ = m.InProgress()
		}
		left := time.Until(deadline)
		if left <= 0 {
			return true
		}
		if !sleep(ctx, min(left, tick)) {
			return false
		}
	}
}

// settle applies the ack rules to one message and its outcome.
func (l *Loop) settle(ctx context.Context, m jetstream.Msg, err error, s ConsumerSettings) {
	log := l.Logger
	meta, _ := m.Metadata()
	delivered := uint64(1)
	if meta != nil {
		delivered = meta.NumDelivered
		log = log.With(slog.Uint64("stream_seq", meta.Sequence.Stream), slog.Uint64("delivered", delivered))
	}
	switch {
	case err == nil:
		if aerr := m.Ack(); aerr != nil {
			log.Warn("Acking a message failed; it will be redelivered.", slog.String("error", aerr.Error()))
			return
		}
		l.count("acked", 1)
	case IsUnavailable(err):
		// Only reached when shutdown cut a retry short: the message is
		// fine, so it goes back for redelivery and never to the DLQ.
		_ = m.Nak()
		l.count("nacked", 1)
	case IsPermanent(err) || delivered >= uint64(s.MaxDeliver):
		reason := err.Error()
		if !IsPermanent(err) {
			reason = fmt.Sprintf("failed %d deliveries, last: %s", delivered, reason)
		}
		if derr := l.deadLetter(ctx, m, meta, reason); derr != nil {
			log.Error("Dead-lettering a message failed; it will be redelivered.", slog.String("error", derr.Error()), slog.String("reason", reason))
			_ = m.NakWithDelay(backoff(int(delivered), l.MaxBackoff))
			return
		}
		if terr := m.TermWithReason(truncate(reason, 200)); terr != nil {
			log.Warn("Terminating a dead-lettered message failed.", slog.String("error", terr.Error()))
		}
		log.Warn("Message dead-lettered.", slog.String("reason", reason), slog.String("subject", m.Subject()))
		l.count("dead_lettered", 1)
	default:
		delay := backoff(int(delivered), l.MaxBackoff)
		log.Warn("Handling a message failed; it will be redelivered.", slog.String("error", err.Error()), slog.Duration("delay", delay))
		_ = m.NakWithDelay(delay)
		l.count("nacked", 1)
	}
}

func (l *Loop) deadLetter(ctx context.Context, m jetstream.Msg, meta *jetstream.MsgMetadata, reason string) error {
	out := nats.NewMsg(DLQSubject(l.Stage))
	out.Data = m.Data()
	for k, vs := range m.Headers() {
		if k == jetstream.MsgIDHeader {
			continue
		}
		out.Header[k] = vs
	}
	out.Header.Set(HeaderDLQReason, truncate(reason, 2000))
	out.Header.Set(HeaderDLQStage, l.Stage)
	out.Header.Set(HeaderDLQSubject, m.Subject())
	out.Header.Set(HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
	msgID := l.Stage + ":" + m.Subject()
	if meta != nil {
		out.Header.Set(HeaderDLQStream, meta.Stream)
		out.Header.Set(HeaderDLQSequence, strconv.FormatUint(meta.Sequence.Stream, 10))
		out.Header.Set(HeaderDLQDeliveries, strconv.FormatUint(meta.NumDelivered, 10))
		msgID = l.Stage + ":" + meta.Stream + ":" + strconv.FormatUint(meta.Sequence.Stream, 10)
	}
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	_, err := l.JS.PublishMsg(pctx, out, jetstream.WithMsgID(msgID))
	if err != nil {
		return fmt.Errorf("publishing dead letter to %s: %w", out.Subject, err)
	}
	return nil
}

func (l *Loop) workContext(ctx context.Context) (context.Context, context.CancelFunc) {
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(l.grace(), cancel)
		context.AfterFunc(work, func() { t.Stop() })
	})
	return work, func() { stop(); cancel() }
}

func (l *Loop) grace() time.Duration {
	if l.Grace > 0 {
		return l.Grace
	}
	return 20 * time.Second
}

func (l *Loop) setReady(v bool) {
	if l.Ready != nil {
		l.Ready.Store(v)
	}
	if v && l.Metrics != nil {
		l.Metrics.outage.Set(0)
	}
}

func (l *Loop) count(outcome string, n int) {
	if l.Metrics != nil {
		l.Metrics.outcomes.WithLabelValues(outcome).Add(float64(n))
	}
}

// backoff is capped exponential backoff with full jitter over
// [base/2, base], base = 500ms·2^(attempt-1).
func backoff(attempt int, maxWait time.Duration) time.Duration {
	if attempt < 1 {
		attempt = 1
	}
	d := 500 * time.Millisecond
	for i := 1; i < attempt && d < maxWait; i++ {
		d *= 2
	}
	d = min(d, maxWait)
	return d/2 + rand.N(d/2+1)
}

// sleep waits for d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
