package bench

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// RawResult is one JetStream hop at full speed: async publish, pull
// consume, explicit ack.
type RawResult struct {
	Messages     int     `json:"messages"`
	Bytes        int     `json:"message_bytes"`
	Seconds      float64 `json:"seconds"`
	PerSecond    float64 `json:"per_second"`
	PublishPerS  float64 `json:"publish_per_second"`
	MaxPending   int     `json:"max_pending"`
	ClientCPU    float64 `json:"client_cpu_seconds"`
	Server       Usage   `json:"server"`
	CPUPerMsgUS  float64 `json:"cpu_per_message_us"` // client + server
	AckedCounted int     `json:"acked"`
}

// measureRaw publishes n messages of size bytes to a file-storage stream
// with at most pending unacknowledged publishes, while a pull consumer on a
// second connection consumes and acks each one. The rate is n over the
// time from the first publish to the last ack the server confirmed (the
// consumer's ack floor reaching n).
func measureRaw(ctx context.Context, url string, n, size, pending int) (RawResult, error) {
	res := RawResult{Messages: n, Bytes: size, MaxPending: pending}
	pubConn, err := nats.Connect(url, nats.Name("wiredesk-bench-raw-pub"))
	if err != nil {
		return res, fmt.Errorf("connecting to NATS: %w", err)
	}
	defer pubConn.Close()
	subConn, err := nats.Connect(url, nats.Name("wiredesk-bench-raw-sub"))
	if err != nil {
		return res, fmt.Errorf("connecting to NATS: %w", err)
	}
	defer subConn.Close()
	pjs, err := jetstream.New(pubConn, jetstream.WithPublishAsyncMaxPending(pending))
	if err != nil {
		return res, err
	}
	sjs, err := jetstream.New(subConn)
	if err != nil {
		return res, err
	}
	const stream = "BENCH_RAW"
	_ = pjs.DeleteStream(ctx, stream)
	if _, err := pjs.CreateStream(ctx, jetstream.StreamConfig{
		Name: stream, Subjects: []string{"bench.raw.>"}, Storage: jetstream.FileStorage,
	}); err != nil {
		return res, fmt.Errorf("creating stream %s: %w", stream, err)
	}
	defer func() { _ = pjs.DeleteStream(context.WithoutCancel(ctx), stream) }()
	cons, err := sjs.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable: "bench", AckPolicy: jetstream.AckExplicitPolicy, MaxAckPending: 5000,
	})
	if err != nil {
		return res, fmt.Errorf("creating consumer: %w", err)
	}
	payload := make([]byte, size)
	_, _ = rand.Read(payload)

	before := selfUsage()
	var acked atomic.Int64
	done := make(chan struct{})
	cc, err := cons.Consume(func(m jetstream.Msg) {
		if m.Ack() == nil && acked.Add(1) == int64(n) {
			close(done)
		}
	}, jetstream.PullMaxMessages(500))
	if err != nil {
		return res, fmt.Errorf("consuming: %w", err)
	}
	defer cc.Stop()

	start := time.Now()
	for i := range n {
		// A loaded machine stalls the window longer than the default 200 ms.
		if _, err := pjs.PublishAsync(fmt.Sprintf("bench.raw.%d", i%16), payload, jetstream.WithStallWait(time.Minute)); err != nil {
			return res, fmt.Errorf("publishing: %w", err)
		}
	}
	select {
	case <-pjs.PublishAsyncComplete():
	case <-ctx.Done():
		return res, context.Cause(ctx)
	}
	pubDone := time.Since(start)
	select {
	case <-done:
	case <-ctx.Done():
		return res, context.Cause(ctx)
	case <-time.After(5 * time.Minute):
		return res, fmt.Errorf("raw limit: only %d of %d messages acked after 5 minutes", acked.Load(), n)
	}
	// The consumer acks without waiting for confirmation: the hop ends
	// when the server has processed every ack.
	for {
		info, err := cons.Info(ctx)
		if err == nil && info.AckFloor.Stream >= uint64(n) {
			break
		}
		if ctx.Err() != nil {
			return res, context.Cause(ctx)
		}
		time.Sleep(time.Millisecond)
	}
	el := time.Since(start)
	after := selfUsage()
	res.Seconds = el.Seconds()
	res.PerSecond = float64(n) / el.Seconds()
	res.PublishPerS = float64(n) / pubDone.Seconds()
	res.ClientCPU = after.CPUSeconds() - before.CPUSeconds()
	res.AckedCounted = int(acked.Load())
	return res, nil
}
