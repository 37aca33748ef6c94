package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wiredesk/wiredesk/ingest/article"
)

// The stream that holds one copy of an enriched article per topic and
// conflict it is tagged with, and the subject of one topic in it.
const (
	stream       = "NEWS_FANOUT"
	topicSubject = "news.topic." // + topic id from configs/taxonomy.yaml
)

var errUsage = errors.New("landmines: usage")

type options struct {
	url     string
	topic   string
	since   time.Time // zero: no start time
	seq     uint64    // 0: no start sequence
	durable string
}

func parseFlags(args []string, stderr io.Writer, now time.Time) (options, error) {
	fl := flag.NewFlagSet("landmines", flag.ContinueOnError)
	fl.SetOutput(stderr)
	o := options{}
	defURL := os.Getenv("NATS_URL")
	if defURL == "" {
		defURL = nats.DefaultURL
	}
	fl.StringVar(&o.url, "nats", defURL, "NATS server URL (default $NATS_URL)")
	fl.StringVar(&o.topic, "topic", "landmines", "topic id to follow")
	since := fl.String("since", "", "replay from this time first: RFC 3339 (2026-11-20T09:00:00Z) or a duration ago (24h); default: only new stories")
	fl.Uint64Var(&o.seq, "seq", 0, "replay from this NEWS_FANOUT stream sequence first")
	fl.StringVar(&o.durable, "durable", "", "durable consumer name: a restart resumes after the last story printed (-since/-seq apply when it is created)")
	if err := fl.Parse(args); err != nil {
		return o, fmt.Errorf("%w: %w", errUsage, err)
	}
	if fl.NArg() > 0 {
		fmt.Fprintf(stderr, "unexpected arguments: %q\n", fl.Args())
		return o, errUsage
	}
	if *since != "" {
		if t, err := time.Parse(time.RFC3339, *since); err == nil {
			o.since = t
		} else if d, err := time.ParseDuration(*since); err == nil && d > 0 {
			o.since = now.Add(-d)
		} else {
			fmt.Fprintf(stderr, "-since %q is neither an RFC 3339 time nor a positive duration\n", *since)
			return o, errUsage
		}
	}
	if !o.since.IsZero() && o.seq != 0 {
		fmt.Fprintln(stderr, "-since and -seq exclude each other")
		return o, errUsage
	}
	return o, nil
}

// run prints stories until ctx is done, then returns nil.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr, time.Now())
	if err != nil {
		return err
	}
	nc, err := nats.Connect(o.url, nats.Name("wiredesk-example-landmines"))
	if err != nil {
		return fmt.Errorf("connecting to %s: %w", o.url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("opening JetStream: %w", err)
	}
	cons, err := consumer(ctx, js, o)
	if err != nil {
		return err
	}
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("consuming %s: %w", stream, err)
	}
	defer context.AfterFunc(ctx, it.Stop)()
	for {
		m, err := it.Next()
		if errors.Is(err, jetstream.ErrMsgIteratorClosed) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("consuming %s: %w", stream, err)
		}
		printStory(stdout, stderr, m)
		if o.durable != "" {
			// Acked once printed: a restart resumes after it.
			if err := m.Ack(); err != nil {
				fmt.Fprintf(stderr, "acking: %v\n", err)
			}
		}
	}
}

// consumer opens an ordered consumer (ephemeral, nothing to clean up) or,
// with -durable, a durable one that remembers what was acked.
func consumer(ctx context.Context, js jetstream.JetStream, o options) (jetstream.Consumer, error) {
	subject := topicSubject + o.topic
	policy, start, seq := jetstream.DeliverNewPolicy, (*time.Time)(nil), uint64(0)
	switch {
	case !o.since.IsZero():
		policy, start = jetstream.DeliverByStartTimePolicy, &o.since
	case o.seq != 0:
		policy, seq = jetstream.DeliverByStartSequencePolicy, o.seq
	}
	if o.durable == "" {
		c, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{
			FilterSubjects: []string{subject}, DeliverPolicy: policy, OptStartTime: start, OptStartSeq: seq,
		})
		if err != nil {
			return nil, fmt.Errorf("creating a consumer on %s: %w", stream, err)
		}
		return c, nil
	}
	if c, err := js.Consumer(ctx, stream, o.durable); err == nil {
		return c, nil
	} else if !errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil, fmt.Errorf("looking up consumer %s: %w", o.durable, err)
	}
	c, err := js.CreateConsumer(ctx, stream, jetstream.ConsumerConfig{
		Durable: o.durable, FilterSubject: subject, AckPolicy: jetstream.AckExplicitPolicy,
		DeliverPolicy: policy, OptStartTime: start, OptStartSeq: seq,
		InactiveThreshold: 7 * 24 * time.Hour, // forgotten a week after the last run
	})
	if err != nil {
		return nil, fmt.Errorf("creating consumer %s on %s: %w", o.durable, stream, err)
	}
	return c, nil
}

// printStory writes one line per story: when it was published, its feed, its
// conflicts, title and link.
func printStory(stdout, stderr io.Writer, m jetstream.Msg) {
	if t := m.Headers().Get("ce-type"); t != "org.wiredesk.article.enriched.v1" {
		fmt.Fprintf(stderr, "skipping a message of type %q on %s\n", t, m.Subject())
		return
	}
	var a article.Enriched
	if err := json.Unmarshal(m.Data(), &a); err != nil {
		fmt.Fprintf(stderr, "skipping a message on %s: %v\n", m.Subject(), err)
		return
	}
	link := a.URL
	if link == "" {
		link = "-"
	}
	fmt.Fprintf(stdout, "%s\t%s\t%s\t%s\t%s\n", a.PublishedAt.UTC().Format(time.RFC3339), a.Source,
		strings.Join(a.Conflicts, ","), a.Title, link)
}
