package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wiredesk/wiredesk/cmd/internal/bus"
	"github.com/wiredesk/wiredesk/cmd/internal/cli"
	"github.com/wiredesk/wiredesk/cmd/internal/stagetest"
)

type listed struct {
	Seq        uint64 `json:"seq"`
	Stage      string `json:"stage"`
	Reason     string `json:"reason"`
	Stream     string `json:"stream"`
	StreamSeq  uint64 `json:"stream_seq"`
	Subject    string `json:"subject"`
	Deliveries int    `json:"deliveries"`
	EventID    string `json:"event_id"`
}

func dlqCmd(t *testing.T, url string, args ...string) (string, string, int) {
	t.Helper()
	var out, errs bytes.Buffer
	code := cli.Main(append(append([]string{"dlq"}, args[0], "-nats", url), args[1:]...), nil, &out, &errs)
	return out.String(), errs.String(), code
}

func dlqList(t *testing.T, url string, args ...string) []listed {
	t.Helper()
	out, errs, code := dlqCmd(t, url, append([]string{"list", "-json"}, args...)...)
	if code != 0 {
		t.Fatalf("dlq list exited %d: %s", code, errs)
	}
	var ls []listed
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var l listed
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("dlq list -json printed %q: %v", line, err)
		}
		ls = append(ls, l)
	}
	return ls
}

// deadLetterThroughLoop publishes raw messages and runs the real consume
// loop with a handler that rejects the bodies in poison, so the dead
// letters carry exactly the headers production writes.
func deadLetterThroughLoop(t *testing.T, js jetstream.JetStream, stage string, bodies, poison []string) {
	t.Helper()
	ctx := context.Background()
	for i, b := range bodies {
		m := bus.NewMsg(bus.Event{Subject: bus.RawSubject("feed-a"), Type: bus.TypeRaw, Source: "/test", ID: "art-" + b + ":rev1", Time: time.Now()}, []byte(b))
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatalf("publishing %d: %v", i, err)
		}
	}
	cons, err := bus.EnsureConsumer(ctx, js, bus.StreamRaw, stage, "news.raw.>", bus.ConsumerSettings{MaxDeliver: 2})
	if err != nil {
		t.Fatal(err)
	}
	bad := map[string]bool{}
	for _, p := range poison {
		bad[p] = true
	}
	loop := &bus.Loop{
		Stage: stage, Consumer: cons, JS: js, Logger: stagetest.Logger(), MaxBackoff: 10 * time.Millisecond,
		Settings: bus.ConsumerSettings{MaxDeliver: 2, BatchWait: 50 * time.Millisecond},
		Handle: func(_ context.Context, msgs []jetstream.Msg) []error {
			errs := make([]error, len(msgs))
			for i, m := range msgs {
				if bad[string(m.Data())] {
					errs[i] = bus.Permanent(errors.New("poison body " + string(m.Data())))
				}
			}
			return errs
		},
	}
	lctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { _ = loop.Run(lctx) })
	stagetest.Eventually(t, "dead letters", func() bool {
		return stagetest.StreamMsgs(t, js, bus.StreamDLQ) == uint64(len(poison)) && stagetest.Drained(js, bus.StreamRaw, stage)
	})
	cancel()
	wg.Wait()
	// The loop is done with the stream; delete its consumer so that the
	// replays below stay in the stream for the test to read.
	if err := js.DeleteConsumer(ctx, bus.StreamRaw, stage); err != nil {
		t.Fatal(err)
	}
}

func TestDLQListAndReplay(t *testing.T) {
	nc, js := stagetest.JetStream(t)
	url := nc.ConnectedUrl()
	ctx := context.Background()
	deadLetterThroughLoop(t, js, "enricher", []string{"ok1", "bad1", "ok2", "bad2"}, []string{"bad1", "bad2"})

	t.Run("list", func(t *testing.T) {
		ls := dlqList(t, url)
		if len(ls) != 2 {
			t.Fatalf("dlq list shows %d dead letters, want 2: %+v", len(ls), ls)
		}
		for i, l := range ls {
			want := []string{"bad1", "bad2"}[i]
			if l.Stage != "enricher" || l.Stream != bus.StreamRaw || l.Subject != "news.raw.feed-a" ||
				l.Deliveries != 1 || !strings.Contains(l.Reason, "poison body "+want) || l.EventID != "art-"+want+":rev1" {
				t.Errorf("dead letter %d = %+v", i, l)
			}
		}
		if ls[0].StreamSeq != 2 || ls[1].StreamSeq != 4 {
			t.Errorf("original sequences %d, %d, want 2, 4", ls[0].StreamSeq, ls[1].StreamSeq)
		}
		if got := dlqList(t, url, "-stage", "indexer"); len(got) != 0 {
			t.Errorf("dlq list -stage indexer shows %+v, want nothing", got)
		}
		out, errs, code := dlqCmd(t, url, "list")
		if code != 0 || !strings.Contains(out, "SEQ") || !strings.Contains(out, "poison body bad2") || !strings.Contains(out, "2 dead letters") {
			t.Errorf("dlq list exited %d:\n%s%s", code, out, errs)
		}
	})

	t.Run("replay one", func(t *testing.T) {
		ls := dlqList(t, url)
		before := stagetest.StreamMsgs(t, js, bus.StreamRaw)
		out, errs, code := dlqCmd(t, url, "replay", "-seq", itoa(ls[0].Seq))
		if code != 0 {
			t.Fatalf("dlq replay exited %d: %s%s", code, out, errs)
		}
		// The original's Nats-Msg-Id is still inside the duplicate
		// window: the replay must be stored all the same.
		if got := stagetest.StreamMsgs(t, js, bus.StreamRaw); got != before+1 {
			t.Fatalf("NEWS_RAW holds %d messages after a replay, want %d", got, before+1)
		}
		raw, _ := js.Stream(ctx, bus.StreamRaw)
		m, err := raw.GetLastMsgForSubject(ctx, "news.raw.feed-a")
		if err != nil {
			t.Fatal(err)
		}
		if string(m.Data) != "bad1" {
			t.Errorf("replayed body %q, want bad1", m.Data)
		}
		for k := range m.Header {
			if strings.HasPrefix(k, "Wiredesk-Dlq-") {
				t.Errorf("replayed message keeps header %s", k)
			}
		}
		if m.Header.Get("ce-id") != "art-bad1:rev1" || m.Header.Get("traceparent") == "" {
			t.Errorf("replayed message lost its original headers: %v", m.Header)
		}
		if got := m.Header.Get(jetstream.MsgIDHeader); got != cli.ReplayMsgID(ls[0].Seq) {
			t.Errorf("replayed Nats-Msg-Id %q, want %q", got, cli.ReplayMsgID(ls[0].Seq))
		}
		if left := dlqList(t, url); len(left) != 1 || left[0].Seq != ls[1].Seq {
			t.Errorf("after replaying %d the DLQ holds %+v", ls[0].Seq, left)
		}
		if _, _, code := dlqCmd(t, url, "replay", "-seq", itoa(ls[0].Seq)); code != 1 {
			t.Errorf("replaying a deleted dead letter exited %d, want 1", code)
		}
	})

	t.Run("replay keeps the dead letter when the publish fails", func(t *testing.T) {
		// A dead letter whose subject no stream captures: the publish gets
		// no acknowledgement, so the dead letter must stay.
		m := nats.NewMsg(bus.DLQSubject("indexer"))
		m.Data = []byte("orphan")
		m.Header.Set(bus.HeaderDLQStage, "indexer")
		m.Header.Set(bus.HeaderDLQSubject, "nowhere.at.all")
		m.Header.Set(bus.HeaderDLQReason, "test")
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
		out, errs, code := dlqCmd(t, url, "replay", "-all", "-stage", "indexer")
		if code != 1 || !strings.Contains(out, "0 replayed, 1 failed") {
			t.Errorf("replay to an uncaptured subject exited %d:\n%s%s", code, out, errs)
		}
		if got := dlqList(t, url, "-stage", "indexer"); len(got) != 1 {
			t.Errorf("the failed replay removed the dead letter: %+v", got)
		}
	})

	t.Run("replay all of a stage", func(t *testing.T) {
		before := stagetest.StreamMsgs(t, js, bus.StreamRaw)
		out, errs, code := dlqCmd(t, url, "replay", "-all", "-stage", "enricher")
		if code != 0 || !strings.Contains(out, "1 replayed, 0 failed") {
			t.Fatalf("dlq replay -all exited %d:\n%s%s", code, out, errs)
		}
		if got := stagetest.StreamMsgs(t, js, bus.StreamRaw); got != before+1 {
			t.Errorf("NEWS_RAW holds %d messages, want %d", got, before+1)
		}
		left := dlqList(t, url)
		if len(left) != 1 || left[0].Stage != "indexer" {
			t.Errorf("after replaying the enricher's dead letters the DLQ holds %+v", left)
		}
	})
}

func TestDLQUsage(t *testing.T) {
	for _, args := range [][]string{
		{"dlq"},
		{"dlq", "frob"},
		{"dlq", "replay"},
		{"dlq", "replay", "-all", "-seq", "3"},
		{"dlq", "replay", "-seq", "3", "-stage", "indexer"},
	} {
		var out, errs bytes.Buffer
		if code := cli.Main(args, nil, &out, &errs); code != 2 {
			t.Errorf("%v exited %d, want 2", args, code)
		}
	}
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }
