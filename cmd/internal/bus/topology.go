// Package bus holds wiredesk's NATS JetStream topology and the one consume
// loop every stage runs: streams and consumers as code, subjects, dead
// letters, ack and redelivery rules.
package bus

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wiredesk/wiredesk/cmd/internal/schemas"
)

// Stream names and the subjects they capture.
//
// The fan-out subjects live in a stream of their own rather than in
// NEWS_ENRICHED: the enricher writes each article once there and once more
// per conflict and topic it carries, and an extra copy must not reach the
// indexer (its consumer filters news.enriched.>) nor be counted by anyone
// replaying "every enriched article". A separate stream also lets a
// consumer replay one topic with a plain filtered consumer and keeps the
// fan-out's retention independent of the canonical stream's.
const (
	StreamRaw      = "NEWS_RAW"
	StreamEnriched = "NEWS_ENRICHED"
	StreamFanout   = "NEWS_FANOUT"
	StreamFeeds    = "NEWS_FEEDS"
	StreamDLQ      = "NEWS_DLQ"

	rawSubjects      = "news.raw.>"
	enrichedSubjects = "news.enriched.>"
	conflictSubjects = "news.conflict.>"
	topicSubjects    = "news.topic.>"
	feedSubjects     = "news.feeds.>"
	dlqSubjects      = "news.dlq.>"
)

// RawSubject is where the fetcher publishes articles of one feed.
func RawSubject(source string) string { return "news.raw." + token(source) }

// EnrichedSubject is where the enricher publishes an article: relevant
// stories and the rest are split so that a consumer can take only what
// matters with a plain subscription.
func EnrichedSubject(relevant bool, source string) string {
	if relevant {
		return "news.enriched.relevant." + token(source)
	}
	return "news.enriched.other." + token(source)
}

// ConflictSubject carries every enriched article tagged with one conflict
// (a taxonomy conflict id such as "armenia-azerbaijan").
func ConflictSubject(conflict string) string { return "news.conflict." + token(conflict) }

// TopicSubject carries every enriched article tagged with one topic (a
// taxonomy topic id such as "landmines").
func TopicSubject(topic string) string { return "news.topic." + token(topic) }

// FanoutSubjects returns the fan-out subjects of an article with the given
// conflict and topic ids: one per distinct tag, conflicts first, in the
// order given. An article without tags (every article that is not
// relevant) has none.
func FanoutSubjects(conflicts, topics []string) []string {
	out := make([]string, 0, len(conflicts)+len(topics))
	seen := make(map[string]bool, cap(out))
	add := func(s string) {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	for _, c := range conflicts {
		add(ConflictSubject(c))
	}
	for _, t := range topics {
		add(TopicSubject(t))
	}
	return out
}

// FeedHealthSubject is where the fetcher announces a change in a feed's
// health. NEWS_FEEDS captures it, so the last state of every feed can be
// read back after the fact.
func FeedHealthSubject(feed string) string { return "news.feeds.health." + token(feed) }

// DLQSubject is where a stage dead-letters what it cannot process.
func DLQSubject(stage string) string { return "news.dlq." + token(stage) }

// token makes s safe as one subject token: no dots, wildcards or spaces.
func token(s string) string {
	if s == "" {
		return "unknown"
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case '.', '*', '>', ' ', '\t', '\r', '\n':
			return '_'
		}
		return r
	}, s)
}

// StreamLimits bounds one stream. Zero values take the defaults.
type StreamLimits struct {
	MaxAge     time.Duration `yaml:"max_age"`
	MaxBytes   int64         `yaml:"max_bytes"`
	Duplicates time.Duration `yaml:"duplicate_window"`
	Replicas   int           `yaml:"replicas"`
}

// Topology is the set of streams wiredesk uses.
type Topology struct {
	Raw      StreamLimits `yaml:"raw"`
	Enriched StreamLimits `yaml:"enriched"`
	Fanout   StreamLimits `yaml:"fanout"`
	Feeds    StreamLimits `yaml:"feeds"`
	DLQ      StreamLimits `yaml:"dlq"`
}

// DefaultTopology keeps raw articles for 30 days (long enough to re-enrich
// recent history after a rules change), enriched ones and their fan-out
// copies for 7 days (downstream consumers replay from here), feed health
// events for 30 days and dead letters for 90 days.
func DefaultTopology() Topology {
	return Topology{
		Raw:      StreamLimits{MaxAge: 30 * 24 * time.Hour, MaxBytes: 8 << 30, Duplicates: 10 * time.Minute, Replicas: 1},
		Enriched: StreamLimits{MaxAge: 7 * 24 * time.Hour, MaxBytes: 8 << 30, Duplicates: 10 * time.Minute, Replicas: 1},
		Fanout:   StreamLimits{MaxAge: 7 * 24 * time.Hour, MaxBytes: 8 << 30, Duplicates: 10 * time.Minute, Replicas: 1},
		Feeds:    StreamLimits{MaxAge: 30 * 24 * time.Hour, MaxBytes: 64 << 20, Duplicates: 2 * time.Minute, Replicas: 1},
		DLQ:      StreamLimits{MaxAge: 90 * 24 * time.Hour, MaxBytes: 1 << 30, Duplicates: 10 * time.Minute, Replicas: 1},
	}
}

func (l StreamLimits) orDefault(d StreamLimits) StreamLimits {
	if l.MaxAge == 0 {
		l.MaxAge = d.MaxAge
	}
	if l.MaxBytes == 0 {
		l.MaxBytes = d.MaxBytes
	}
	if l.Duplicates == 0 {
		l.Duplicates = d.Duplicates
	}
	if l.Replicas == 0 {
		l.Replicas = d.Replicas
	}
	return l
}

func streamConfig(name string, subjects []string, desc string, l StreamLimits) jetstream.StreamConfig {
	return jetstream.StreamConfig{
		Name:        name,
		Description: desc,
		Subjects:    subjects,
		Storage:     jetstream.FileStorage,
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		MaxAge:      l.MaxAge,
		MaxBytes:    l.MaxBytes,
		Duplicates:  l.Duplicates,
		Replicas:    l.Replicas,
		MaxMsgSize:  4 << 20,
	}
}

// EnsureStreams creates or updates the streams and the schema registry
// (the KV bucket schemas.Bucket, which holds the JSON Schema of every
// ce-type wiredesk publishes). It is idempotent and safe to call from every
// service at start; it returns schemas.ErrIncompatible when the registry
// holds a schema of the same ce-type that this build's does not extend.
func EnsureStreams(ctx context.Context, js jetstream.JetStream, t Topology) error {
	d := DefaultTopology()
	feeds := streamConfig(StreamFeeds, []string{feedSubjects}, "wiredesk: feed health changes, news.feeds.health.<feed>", t.Feeds.orDefault(d.Feeds))
	// Health events are rare (one per change); a bound per feed keeps one
	// broken feed that flaps from pushing the others' history out.
	feeds.MaxMsgsPerSubject = 1000
	for _, c := range []jetstream.StreamConfig{
		streamConfig(StreamRaw, []string{rawSubjects}, "wiredesk: raw articles as fetched, news.raw.<source>", t.Raw.orDefault(d.Raw)),
		streamConfig(StreamEnriched, []string{enrichedSubjects}, "wiredesk: enriched articles, news.enriched.<relevant|other>.<source>", t.Enriched.orDefault(d.Enriched)),
		streamConfig(StreamFanout, []string{conflictSubjects, topicSubjects}, "wiredesk: enriched articles once per tag, news.conflict.<conflict> and news.topic.<topic>", t.Fanout.orDefault(d.Fanout)),
		feeds,
		streamConfig(StreamDLQ, []string{dlqSubjects}, "wiredesk: dead letters, news.dlq.<stage>", t.DLQ.orDefault(d.DLQ)),
	} {
		if _, err := js.CreateOrUpdateStream(ctx, c); err != nil {
			return fmt.Errorf("creating stream %s: %w", c.Name, err)
		}
	}
	docs, err := Schemas()
	if err != nil {
		return err
	}
	return schemas.Ensure(ctx, js, t.Raw.orDefault(d.Raw).Replicas, docs)
}

// ConsumerSettings bound one durable pull consumer. Zero values take the
// defaults of DefaultConsumer.
type ConsumerSettings struct {
	AckWait       time.Duration `yaml:"ack_wait"`
	MaxDeliver    int           `yaml:"max_deliver"`
	MaxAckPending int           `yaml:"max_ack_pending"`
	Batch         int           `yaml:"batch"`
	BatchWait     time.Duration `yaml:"batch_wait"`
}

// DefaultConsumer is the consumer every stage starts from.
func DefaultConsumer() ConsumerSettings {
	return ConsumerSettings{AckWait: 30 * time.Second, MaxDeliver: 5, MaxAckPending: 1000, Batch: 100, BatchWait: 200 * time.Millisecond}
}

// WithDefaults fills zero fields from DefaultConsumer.
func (s ConsumerSettings) WithDefaults() ConsumerSettings {
	d := DefaultConsumer()
	if s.AckWait == 0 {
		s.AckWait = d.AckWait
	}
	if s.MaxDeliver == 0 {
		s.MaxDeliver = d.MaxDeliver
	}
	if s.MaxAckPending == 0 {
		s.MaxAckPending = d.MaxAckPending
	}
	if s.Batch == 0 {
		s.Batch = d.Batch
	}
	if s.BatchWait == 0 {
		s.BatchWait = d.BatchWait
	}
	return s
}

// EnsureConsumer creates or updates a durable pull consumer with explicit
// ack on stream. Replicas of a service share it, so work is split between them.
func EnsureConsumer(ctx context.Context, js jetstream.JetStream, stream, durable, filter string, s ConsumerSettings) (jetstream.Consumer, error) {
	s = s.WithDefaults()
	c, err := js.CreateOrUpdateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable:       durable,
		Description:   "wiredesk " + durable,
		FilterSubject: filter,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       s.AckWait,
		MaxDeliver:    s.MaxDeliver,
		MaxAckPending: s.MaxAckPending,
		DeliverPolicy: jetstream.DeliverAllPolicy,
	})
	if err != nil {
		return nil, fmt.Errorf("creating consumer %s on %s: %w", durable, stream, err)
	}
	return c, nil
}
