package enricher

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wiredesk/wiredesk/cmd/internal/bus"
)

// Reprocess runs the raw articles stored in NEWS_RAW from from (zero: the
// beginning) until to (zero: now) through the current rules and publishes
// the results like Run does, so that a taxonomy or gazetteer change
// reaches history. It uses its own temporary consumer, so the live
// enricher goes on beside it, and returns when every article in the range
// is handled, with the number handled. Results under unchanged rule
// versions are dropped by JetStream as duplicates within its window: bump
// the rules' version when you change them.
func (s *Service) Reprocess(ctx context.Context, reg prometheus.Registerer, from, to time.Time) (int, error) {
	s.registerMetrics(reg)
	if to.IsZero() {
		to = time.Now()
	}
	cfg := jetstream.ConsumerConfig{
		Durable:       fmt.Sprintf("%s-reprocess-%d", Stage, time.Now().UnixNano()),
		Description:   "wiredesk reprocess: raw articles through the current rules",
		FilterSubject: "news.raw.>",
		AckPolicy:     jetstream.AckExplicitPolicy,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		// Removed by the server if this process dies before removing it.
		InactiveThreshold: time.Hour,
	}
	settings := s.Config.Consumer.WithDefaults()
	cfg.AckWait, cfg.MaxDeliver, cfg.MaxAckPending = settings.AckWait, settings.MaxDeliver, settings.MaxAckPending
	if !from.IsZero() {
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &from
	}
	cons, err := s.JS.CreateConsumer(ctx, bus.StreamRaw, cfg)
	if err != nil {
		return 0, fmt.Errorf("creating reprocess consumer: %w", err)
	}
	defer func() { _ = s.JS.DeleteConsumer(context.WithoutCancel(ctx), bus.StreamRaw, cfg.Durable) }()

	handled := 0
	handle := func(ctx context.Context, msgs []jetstream.Msg) []error {
		// Articles stored after to are acknowledged unprocessed.
		in := make([]jetstream.Msg, 0, len(msgs))
		pos := make([]int, 0, len(msgs))
		for i, m := range msgs {
			if meta, err := m.Metadata(); err == nil && !meta.Timestamp.Before(to) {
				continue
			}
			in, pos = append(in, m), append(pos, i)
		}
		errs := make([]error, len(msgs))
		for j, err := range s.Handle(ctx, in) {
			errs[pos[j]] = err
			if err == nil {
				handled++
			}
		}
		return errs
	}
	loopCtx, stop := context.WithCancel(ctx)
	defer stop()
	loop := &bus.Loop{Stage: Stage, Consumer: cons, JS: s.JS, Settings: settings, Handle: handle, Logger: s.Logger, Grace: s.Grace}
	done := make(chan error, 1)
	go func() { done <- loop.Run(loopCtx) }()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err == nil {
				err = context.Cause(ctx)
			}
			return handled, err
		case <-tick.C:
		}
		info, err := cons.Info(ctx)
		if err == nil && info.NumPending == 0 && info.NumAckPending == 0 {
			stop()
			return handled, <-done
		}
	}
}
