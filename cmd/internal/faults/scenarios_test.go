package faults

import (
	"context"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wiredesk/wiredesk/cmd/internal/bus"
	"github.com/wiredesk/wiredesk/cmd/internal/fetcher"
)

// Sizes: 40 feeds of 150 articles (6,000) unless a scenario says otherwise.
const (
	feeds   = 40
	perFeed = 150
)

// rawPairs is how many id:revision pairs the feed server has served,
// which is how many raw messages the fetcher publishes when it polls
// after every change.
func (fs *feedServer) rawPairs() int {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	n := 0
	for _, f := range fs.feeds {
		for i := range f.items {
			n += max(1, f.rev[i])
		}
	}
	return n
}

// repoll makes the fetcher poll every feed again now: stop it, forget
// when the feeds were polled (not what was seen), start it again.
func (s *system) repoll() {
	s.t.Helper()
	if p := s.current("fetcher"); p != nil && p.running() {
		if _, err := p.term(s.t, time.Minute); err != nil {
			s.t.Errorf("fetcher exited with %v after SIGTERM", err)
		}
	}
	nc, js := s.js()
	defer nc.Close()
	ctx := context.Background()
	kv, err := js.KeyValue(ctx, fetcher.BucketState)
	if err != nil {
		s.t.Fatal(err)
	}
	keys, err := kv.ListKeys(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	for k := range keys.Keys() {
		if err := kv.Purge(ctx, k); err != nil {
			s.t.Fatal(err)
		}
	}
	s.start("fetcher")
}

func (s *system) consumerInfo(stream, durable string) *jetstream.ConsumerInfo {
	nc, js := s.js()
	defer nc.Close()
	c, err := js.Consumer(context.Background(), stream, durable)
	if err != nil {
		return nil
	}
	info, _ := c.Info(context.Background())
	return info
}

func (s *system) rawMsgs() int {
	nc, js := s.js()
	defer nc.Close()
	return int(streamMsgs(js, bus.StreamRaw))
}

// TestNoFault is the baseline the other rows compare with.
func TestNoFault(t *testing.T) {
	s := newSystem(t, options{feeds: feeds, perFeed: perFeed})
	s.startAll()
	d := s.settle(3*time.Minute, 0)
	o := s.verify("0 baseline", nil)
	o.Recovery = "drained in " + d.Round(100*time.Millisecond).String()
	record(t, o)
}

// TestIndexerKilledMidBulk is scenario 1: the indexer is SIGKILLed with a
// bulk in flight; new revisions arrive while it is down; it restarts.
func TestIndexerKilledMidBulk(t *testing.T) {
	s := newSystem(t, options{feeds: feeds, perFeed: perFeed})
	s.startAll()
	waitFor(t, 2*time.Minute, "the indexer to be mid-work", func() bool {
		info := s.consumerInfo(bus.StreamEnriched, "indexer")
		return s.metric("indexer", "wiredesk_indexer_documents_total") >= 500 && info != nil && info.NumAckPending > 0
	})
	inFlight := s.consumerInfo(bus.StreamEnriched, "indexer").NumAckPending
	s.current("indexer").kill()
	s.feeds.revise(5) // every fifth article is edited while the indexer is down
	s.repoll()
	time.Sleep(2 * time.Second)
	s.start("indexer")
	d := s.settle(3*time.Minute, 0)
	o := s.verify("1 indexer SIGKILL mid-bulk", nil)
	o.Recovery = "drained " + d.Round(100*time.Millisecond).String() + " after restart"
	o.Notes = fmt.Sprintf("%d messages ack-pending at the kill; every 5th article revised while down", inFlight)
	record(t, o)
}

// TestEnricherKilled is scenario 2a: the enricher is SIGKILLed three times
// while it publishes; what it published but had not acked is redelivered
// and deduplicated by Nats-Msg-Id.
func TestEnricherKilled(t *testing.T) {
	s := newSystem(t, options{feeds: feeds, perFeed: perFeed})
	s.startAll()
	for i := range 3 {
		waitFor(t, 2*time.Minute, "the enricher to be mid-work", func() bool {
			info := s.consumerInfo(bus.StreamRaw, "enricher")
			return s.metric("enricher", `wiredesk_enricher_articles_total{relevant="true"}`) > 50 && info != nil && info.NumAckPending > 0
		})
		s.current("enricher").kill()
		if i < 2 {
			time.Sleep(500 * time.Millisecond)
			s.start("enricher")
		}
	}
	s.start("enricher")
	d := s.settle(3*time.Minute, 0)
	o := s.verify("2a enricher SIGKILL ×3", nil)
	if o.EnrichedDupes != 0 {
		t.Errorf("NEWS_ENRICHED holds %d duplicate events inside the duplicate window", o.EnrichedDupes)
	}
	o.Recovery = "drained " + d.Round(100*time.Millisecond).String() + " after last restart"
	record(t, o)
}

// TestEnricherPausedPastDuplicateWindow is scenario 2b: one enricher
// replica is frozen (SIGSTOP) with a batch in hand for longer than
// AckWait plus NEWS_ENRICHED's duplicate window (shortened to 3 s). A
// second replica takes the batch when AckWait expires and publishes it;
// the frozen one wakes up and publishes the same articles again, past the
// window, so NEWS_ENRICHED stores them twice. The index must still hold
// each article once.
func TestEnricherPausedPastDuplicateWindow(t *testing.T) {
	// The freeze lands on a batch the replica holds, but when the batch was
	// still in the socket at SIGSTOP, its pull request has expired by
	// SIGCONT and the client drops it unprocessed: then nothing is
	// published twice and the run proves nothing about the window. Try
	// again, a few times, before calling the injection failed.
	for attempt := 1; attempt <= 6; attempt++ {
		if pausedPastDuplicateWindow(t) > 0 {
			return
		}
		t.Logf("attempt %d: the frozen replica published nothing after SIGCONT; injecting again", attempt)
	}
	t.Errorf("no enriched duplicates in 6 attempts: the scenario did not inject what it meant to")
}

// pausedPastDuplicateWindow runs scenario 2b once and returns the number of
// enriched duplicates it stored.
func pausedPastDuplicateWindow(t *testing.T) int {
	s := newSystem(t, options{feeds: feeds, perFeed: perFeed, enrichedDup: 3 * time.Second})
	s.startAll()
	p := s.current("enricher")
	var held int
	waitFor(t, 2*time.Minute, "the enricher to be frozen with a batch in hand", func() bool {
		info := s.consumerInfo(bus.StreamRaw, "enricher")
		if info == nil || info.NumPending == 0 && info.NumAckPending == 0 {
			return false
		}
		p.signal(syscall.SIGSTOP)
		time.Sleep(100 * time.Millisecond)
		if info = s.consumerInfo(bus.StreamRaw, "enricher"); info != nil && info.NumAckPending > 0 {
			held = info.NumAckPending
			return true
		}
		p.signal(syscall.SIGCONT)
		return false
	})
	s.start("enricher2")
	time.Sleep(12 * time.Second) // AckWait 5 s + duplicate window 3 s + margin
	p.signal(syscall.SIGCONT)
	d := s.settle(3*time.Minute, 0)
	o := s.verify("2b enricher replica SIGSTOP 12 s (dup window 3 s)", nil)
	o.Recovery = "drained " + d.Round(100*time.Millisecond).String() + " after SIGCONT"
	o.Notes = fmt.Sprintf("%d messages held by the frozen replica; enriched duplicates are expected past the window and the index stays exact", held)
	if o.EnrichedDupes > 0 {
		record(t, o)
	}
	return o.EnrichedDupes
}

// TestFetcherKilledMidPoll is scenario 3a: the fetcher is SIGKILLed while
// it publishes, then restarted. The leases of the feeds it was polling
// block them until they expire (fetcher.DefaultLeaseTTL).
func TestFetcherKilledMidPoll(t *testing.T) {
	s := newSystem(t, options{feeds: feeds, perFeed: perFeed})
	s.feeds.delay.Store(int64(100 * time.Millisecond))
	s.startAll()
	total := s.feeds.rawPairs()
	waitFor(t, 2*time.Minute, "the fetcher to be mid-poll", func() bool {
		n := s.rawMsgs()
		return n > total/4
	})
	published := s.rawMsgs()
	s.current("fetcher").kill()
	s.start("fetcher")
	d := s.settle(4*time.Minute, 0)
	o := s.verify("3a fetcher SIGKILL mid-poll", nil)
	o.Recovery = "all published and drained " + d.Round(time.Second).String() + " after restart"
	o.Notes = fmt.Sprintf("%d of %d published at the kill; leases of in-flight feeds expire after %s", published, total, fetcher.DefaultLeaseTTL)
	if o.RawDupes != 0 {
		t.Errorf("the restarted fetcher republished %d articles", o.RawDupes)
	}
	record(t, o)
}

// TestTwoFetchers is scenario 3b: two fetcher replicas poll the same
// registry at once.
func TestTwoFetchers(t *testing.T) {
	s := newSystem(t, options{feeds: feeds, perFeed: perFeed})
	s.feeds.delay.Store(int64(20 * time.Millisecond))
	s.start("indexer")
	s.start("enricher")
	s.start("fetcher")
	s.start("fetcher2")
	d := s.settle(3*time.Minute, 0)
	gets := s.feeds.gets.Load()
	o := s.verify("3b two fetchers at once", nil)
	o.Recovery = "drained in " + d.Round(100*time.Millisecond).String()
	o.Notes = fmt.Sprintf("%d feed GETs for %d feeds", gets, feeds)
	if o.RawDupes != 0 {
		t.Errorf("two fetchers published %d articles twice", o.RawDupes)
	}
	record(t, o)
}

// TestPoisonArticle is scenario 7: three articles have no text at all, so
// the enricher fails on every delivery; each is dead-lettered after
// MaxDeliver with its reason while the rest flows. `wiredesk dlq replay`
// re-injects them, and since nothing was fixed they come back.
func TestPoisonArticle(t *testing.T) {
	s := newSystem(t, options{feeds: feeds, perFeed: perFeed})
	s.feeds.poisonItems(3, 7)
	_, poison := s.feeds.expected(t)
	want := map[string]string{}
	for id := range poison {
		want[id] = "enricher"
	}
	s.startAll()
	d := s.settle(3*time.Minute, len(poison))
	for _, l := range s.dlqList() {
		// Today the enricher retries ErrNoText until MaxDeliver (5); if it
		// ever maps it to a permanent error, one delivery is right too.
		if (l.Deliveries != 5 && l.Deliveries != 1) || !strings.Contains(l.Reason, "no text") {
			t.Errorf("dead letter %d: deliveries %d, reason %q; want 5 (or 1) deliveries and the enricher's reason", l.Seq, l.Deliveries, l.Reason)
		}
	}
	// Replay them: they fail again and return with new DLQ sequences.
	before := s.dlqList()
	out, err := s.wiredesk("dlq", "replay", "-all", "-nats", s.natsURL())
	if err != nil || !strings.Contains(out, fmt.Sprintf("%d replayed, 0 failed", len(poison))) {
		t.Fatalf("dlq replay: %v\n%s", err, out)
	}
	s.settle(2*time.Minute, len(poison))
	after := s.dlqList()
	for i := range after {
		if after[i].Seq <= before[len(before)-1].Seq {
			t.Errorf("dead letter %d was not replayed", after[i].Seq)
		}
	}
	o := s.verify("7 poison article ×3, then dlq replay", want)
	o.Recovery = "dead-lettered within " + d.Round(100*time.Millisecond).String()
	o.Notes = "each dead-lettered after 5 deliveries with reason; replayed once, dead-lettered again"
	record(t, o)
}

// TestSIGTERMUnderLoad is scenario 9: each service in turn gets SIGTERM
// while it works, exits 0 within the grace period, and restarts; the
// messages redelivered afterwards are at most what was in flight.
func TestSIGTERMUnderLoad(t *testing.T) {
	s := newSystem(t, options{feeds: feeds, perFeed: perFeed})
	s.feeds.delay.Store(int64(50 * time.Millisecond))
	s.startAll()
	var notes []string
	for _, name := range []string{"enricher", "indexer", "fetcher"} {
		switch name {
		case "enricher":
			waitFor(t, 2*time.Minute, "the enricher to be mid-work", func() bool {
				info := s.consumerInfo(bus.StreamRaw, "enricher")
				return s.metric("enricher", `wiredesk_enricher_articles_total{relevant="true"}`) > 50 && info != nil && info.NumAckPending > 0
			})
		case "indexer":
			waitFor(t, 2*time.Minute, "the indexer to be mid-work", func() bool {
				info := s.consumerInfo(bus.StreamEnriched, "indexer")
				return s.metric("indexer", "wiredesk_indexer_documents_total") > 100 && info != nil && info.NumAckPending > 0
			})
		case "fetcher":
			total := s.feeds.rawPairs()
			waitFor(t, 2*time.Minute, "the fetcher to be mid-poll", func() bool { return s.rawMsgs() > total/2 })
		}
		took, err := s.current(name).term(t, 60*time.Second)
		if err != nil {
			t.Errorf("%s exited with %v after SIGTERM", name, err)
		}
		if took > 20*time.Second {
			t.Errorf("%s took %s to stop, longer than shutdown_grace", name, took)
		}
		notes = append(notes, fmt.Sprintf("%s stopped in %s", name, took.Round(10*time.Millisecond)))
		s.start(name)
	}
	d := s.settle(3*time.Minute, 0)
	o := s.verify("9 SIGTERM to each service under load", nil)
	_, red, _, _ := s.taps.snapshot()
	if red["enricher"] > 64 || red["indexer"] > 500 {
		t.Errorf("redelivered after SIGTERM: enricher %d (batch 64), indexer %d (batch 500)", red["enricher"], red["indexer"])
	}
	if o.RawDupes != 0 {
		t.Errorf("the fetcher republished %d articles after SIGTERM", o.RawDupes)
	}
	o.Recovery = "drained " + d.Round(100*time.Millisecond).String() + " after last restart"
	o.Notes = strings.Join(notes, "; ")
	record(t, o)
}
