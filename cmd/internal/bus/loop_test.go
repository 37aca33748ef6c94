package bus_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/wiredesk/wiredesk/cmd/internal/bus"
	"github.com/wiredesk/wiredesk/cmd/internal/stagetest"
)

// TestLoopAckRules drives the consume loop against a real JetStream server
// and checks each ack rule: success acks, a permanent error dead-letters at
// once, a failing message is redelivered and dead-lettered after MaxDeliver,
// and an unavailable dependency is retried without spending deliveries.
func TestLoopAckRules(t *testing.T) {
	ctx := context.Background()
	_, js := stagetest.JetStream(t)
	for i := range 10 {
		if _, err := js.Publish(ctx, bus.RawSubject("feed"), []byte(fmt.Sprint(i))); err != nil {
			t.Fatal(err)
		}
	}
	settings := bus.ConsumerSettings{AckWait: 2 * time.Second, MaxDeliver: 3, Batch: 4, BatchWait: 100 * time.Millisecond}
	cons, err := bus.EnsureConsumer(ctx, js, bus.StreamRaw, "test", "news.raw.>", settings)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	attempts := map[string]int{}
	deliveries := map[string]uint64{}
	handled := map[string]bool{}
	handle := func(_ context.Context, msgs []jetstream.Msg) []error {
		mu.Lock()
		defer mu.Unlock()
		errs := make([]error, len(msgs))
		for i, m := range msgs {
			body := string(m.Data())
			attempts[body]++
			meta, _ := m.Metadata()
			deliveries[body] = meta.NumDelivered
			switch body {
			case "3":
				errs[i] = bus.Permanent(errors.New("not json"))
			case "5":
				errs[i] = errors.New("enricher crashed on this one")
			case "7":
				if attempts[body] <= 2 {
					errs[i] = bus.Unavailable(errors.New("search engine down"))
				} else {
					handled[body] = true
				}
			default:
				handled[body] = true
			}
		}
		return errs
	}
	var ready atomic.Bool
	loop := &bus.Loop{
		Stage: "test", Consumer: cons, JS: js, Settings: settings, Handle: handle,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Ready: &ready,
		Metrics: bus.NewLoopMetrics(prometheus.NewRegistry(), "test"), MaxBackoff: 200 * time.Millisecond,
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- loop.Run(runCtx) }()

	dlq, err := js.Stream(ctx, bus.StreamDLQ)
	if err != nil {
		t.Fatal(err)
	}
	stagetest.Eventually(t, "two dead letters", func() bool {
		info, err := dlq.Info(ctx)
		return err == nil && info.State.Msgs == 2
	})
	stagetest.Eventually(t, "consumer drained", func() bool {
		info, err := cons.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	})
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	for _, b := range []string{"0", "1", "2", "4", "6", "7", "8", "9"} {
		if !handled[b] {
			t.Errorf("message %s was not handled", b)
		}
	}
	if attempts["3"] != 1 {
		t.Errorf("permanent failure attempted %d times, want 1", attempts["3"])
	}
	if attempts["5"] != 3 {
		t.Errorf("failing message attempted %d times, want MaxDeliver=3", attempts["5"])
	}
	if deliveries["7"] != 1 {
		t.Errorf("message held through an outage was delivered %d times, want 1", deliveries["7"])
	}
	reasons := map[string]string{}
	for seq := uint64(1); seq <= 2; seq++ {
		m, err := dlq.GetMsg(ctx, seq)
		if err != nil {
			t.Fatal(err)
		}
		reasons[string(m.Data)] = m.Header.Get(bus.HeaderDLQReason)
		if m.Subject != "news.dlq.test" || m.Header.Get(bus.HeaderDLQStream) != bus.StreamRaw {
			t.Errorf("dead letter %d: subject %q, stream header %q", seq, m.Subject, m.Header.Get(bus.HeaderDLQStream))
		}
	}
	if reasons["3"] != "not json" {
		t.Errorf("reason for permanent failure = %q", reasons["3"])
	}
	if want := "failed 3 deliveries, last: enricher crashed on this one"; reasons["5"] != want {
		t.Errorf("reason for repeated failure = %q, want %q", reasons["5"], want)
	}
}

// TestSlowHandlerIsNotRedelivered: a batch that takes longer than AckWait
// is kept in progress, so JetStream delivers it once.
func TestSlowHandlerIsNotRedelivered(t *testing.T) {
	ctx := context.Background()
	_, js := stagetest.JetStream(t)
	if _, err := js.Publish(ctx, bus.RawSubject("feed"), []byte("slow")); err != nil {
		t.Fatal(err)
	}
	settings := bus.ConsumerSettings{AckWait: 2 * time.Second, MaxDeliver: 3, Batch: 1, BatchWait: 100 * time.Millisecond}
	cons, err := bus.EnsureConsumer(ctx, js, bus.StreamRaw, "slow", "news.raw.>", settings)
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	loop := &bus.Loop{
		Stage: "test", Consumer: cons, JS: js, Settings: settings, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Handle: func(ctx context.Context, msgs []jetstream.Msg) []error {
			calls.Add(1)
			// Slow work: 2.5 AckWaits, as a stalled bulk request would be.
			select {
			case <-time.After(5 * time.Second):
			case <-ctx.Done():
			}
			return make([]error, len(msgs))
		},
	}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- loop.Run(runCtx) }()
	stagetest.Eventually(t, "the message acked", func() bool { return stagetest.Drained(js, bus.StreamRaw, "slow") && calls.Load() > 0 })
	stop()
	<-done
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumRedelivered != 0 || calls.Load() != 1 {
		t.Errorf("slow message handled %d times, %d redelivered; want once", calls.Load(), info.NumRedelivered)
	}
}
