package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"go.uber.org/goleak"

	"github.com/wiredesk/wiredesk/cmd/internal/bus"
	"github.com/wiredesk/wiredesk/cmd/internal/stagetest"
	"github.com/wiredesk/wiredesk/ingest/article"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// syncBuffer is a bytes.Buffer that run writes while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Split(strings.TrimSpace(s.b.String()), "\n")
}

func (s *syncBuffer) titles() []string {
	var out []string
	for _, l := range s.lines() {
		if f := strings.Split(l, "\t"); len(f) == 5 {
			out = append(out, f[3])
		}
	}
	return out
}

// publish stores an enriched article on subject as the enricher does and
// returns its stream sequence.
func publish(t *testing.T, js jetstream.JetStream, subject, title string) uint64 {
	t.Helper()
	a := article.Enriched{
		Raw: article.Raw{
			ID: fmt.Sprintf("%032x", len(title)*7919+int(title[0])), Revision: "0123456789abcdef", Source: "caucasus-wire",
			URL: "https://news.example/" + strings.ReplaceAll(title, " ", "-"), Title: title,
			PublishedAt: time.Date(2026, 11, 20, 9, 30, 0, 0, time.UTC),
		},
		SchemaVersion: article.EnrichedSchemaVersion, Relevant: true,
		Conflicts: []string{"armenia-azerbaijan"}, Topics: []article.Topic{{ID: "landmines", Score: 3}},
	}
	data, err := json.Marshal(a)
	if err != nil {
		t.Fatal(err)
	}
	msg := bus.NewMsg(bus.Event{Subject: subject, Type: bus.TypeEnriched, Source: "/wiredesk/enricher",
		ID: a.MsgID(), MsgID: a.MsgID() + ":" + subject, Time: time.Now()}, data)
	ack, err := js.PublishMsg(context.Background(), msg)
	if err != nil {
		t.Fatal(err)
	}
	return ack.Sequence
}

// start runs the example with args until the test stops it.
func start(t *testing.T, args ...string) (out *syncBuffer, stop func()) {
	t.Helper()
	out = &syncBuffer{}
	errOut := &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, out, errOut) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("run(%q) = %v; stderr: %s", args, err, errOut.lines())
				}
			case <-time.After(10 * time.Second):
				t.Errorf("run(%q) did not return within 10s of cancellation", args)
			}
		})
	}
	t.Cleanup(stop)
	return out, stop
}

func waitTitles(t *testing.T, out *syncBuffer, want ...string) {
	t.Helper()
	stagetest.Eventually(t, fmt.Sprintf("stories %q", want), func() bool {
		return strings.Join(out.titles(), "|") == strings.Join(want, "|")
	})
}

// TestSubjectsMatchTopology keeps the example's copy of the subject tree
// in step with the enricher's.
func TestSubjectsMatchTopology(t *testing.T) {
	if stream != bus.StreamFanout || topicSubject+"landmines" != bus.TopicSubject("landmines") {
		t.Errorf("example consumes %s on %s…, the enricher publishes to %s on %s", stream, topicSubject, bus.StreamFanout, bus.TopicSubject("landmines"))
	}
}

// TestReplayFromTimeThenLive: with -since the example prints the landmine
// stories stored from that time on, none from before and none of other
// topics, then each new one as it arrives.
func TestReplayFromTimeThenLive(t *testing.T) {
	nc, js := stagetest.JetStream(t)
	publish(t, js, "news.topic.landmines", "Old mine story")
	publish(t, js, "news.topic.armed-clashes", "Clash story")
	seq := publish(t, js, "news.topic.landmines", "Deminers clear Aghdam road")
	publish(t, js, "news.topic.armed-clashes", "Another clash story")
	publish(t, js, "news.topic.landmines", "Mine victim in Tartar")
	s, err := js.Stream(context.Background(), bus.StreamFanout)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.GetMsg(context.Background(), seq)
	if err != nil {
		t.Fatal(err)
	}

	out, stop := start(t, "-nats", nc.ConnectedUrl(), "-since", raw.Time.Format(time.RFC3339Nano))
	waitTitles(t, out, "Deminers clear Aghdam road", "Mine victim in Tartar")
	publish(t, js, "news.topic.armed-clashes", "Live clash story")
	publish(t, js, "news.topic.landmines", "Live mine story")
	waitTitles(t, out, "Deminers clear Aghdam road", "Mine victim in Tartar", "Live mine story")
	stop()

	line := out.lines()[0]
	if want := "2026-11-20T09:30:00Z\tcaucasus-wire\tarmenia-azerbaijan\tDeminers clear Aghdam road\thttps://news.example/Deminers-clear-Aghdam-road"; line != want {
		t.Errorf("printed %q, want %q", line, want)
	}
}

// TestDurableResumes: a durable consumer started at a sequence prints from
// there; run again after more stories arrived, it prints only those.
func TestDurableResumes(t *testing.T) {
	nc, js := stagetest.JetStream(t)
	publish(t, js, "news.topic.landmines", "First")
	seq := publish(t, js, "news.topic.landmines", "Second")
	out, stop := start(t, "-nats", nc.ConnectedUrl(), "-durable", "desk-bot", "-seq", fmt.Sprint(seq))
	waitTitles(t, out, "Second")
	stop()
	stagetest.Eventually(t, "the printed story to be acked", func() bool { return stagetest.Drained(js, bus.StreamFanout, "desk-bot") })

	publish(t, js, "news.topic.landmines", "Third")
	out, _ = start(t, "-nats", nc.ConnectedUrl(), "-durable", "desk-bot")
	waitTitles(t, out, "Third")
}

// TestNewOnly: without a start the example prints only stories that
// arrive after it started.
func TestNewOnly(t *testing.T) {
	nc, js := stagetest.JetStream(t)
	publish(t, js, "news.topic.landmines", "Before")
	out, _ := start(t, "-nats", nc.ConnectedUrl())
	// The ordered consumer exists once the server lists it; only then is
	// "new" defined.
	stagetest.Eventually(t, "the consumer to start", func() bool {
		s, err := js.Stream(context.Background(), bus.StreamFanout)
		if err != nil {
			return false
		}
		info, err := s.Info(context.Background())
		return err == nil && info.State.Consumers == 1
	})
	publish(t, js, "news.topic.landmines", "After")
	waitTitles(t, out, "After")
}

func TestFlags(t *testing.T) {
	now := time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		args  []string
		since time.Time
		bad   bool
	}{
		{args: []string{"-since", "2026-11-19T08:00:00Z"}, since: time.Date(2026, 11, 19, 8, 0, 0, 0, time.UTC)},
		{args: []string{"-since", "24h"}, since: now.Add(-24 * time.Hour)},
		{args: []string{}},
		{args: []string{"-since", "yesterday"}, bad: true},
		{args: []string{"-since", "-1h"}, bad: true},
		{args: []string{"-since", "1h", "-seq", "5"}, bad: true},
		{args: []string{"-bogus"}, bad: true},
		{args: []string{"extra"}, bad: true},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			o, err := parseFlags(tc.args, &bytes.Buffer{}, now)
			if tc.bad {
				if err == nil {
					t.Fatal("accepted")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !o.since.Equal(tc.since) {
				t.Errorf("since = %v, want %v", o.since, tc.since)
			}
		})
	}
}
