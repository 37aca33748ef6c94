package enricher_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wiredesk/wiredesk/cmd/internal/bus"
	"github.com/wiredesk/wiredesk/cmd/internal/config"
	"github.com/wiredesk/wiredesk/cmd/internal/enricher"
	"github.com/wiredesk/wiredesk/cmd/internal/schemas"
	"github.com/wiredesk/wiredesk/cmd/internal/stagetest"
	"github.com/wiredesk/wiredesk/configs"
	"github.com/wiredesk/wiredesk/enrich"
	"github.com/wiredesk/wiredesk/ingest"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// traceID is the trace every raw article of these tests starts, as the
// fetcher would; every message the enricher publishes must continue it.
const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"

// demoRaw parses the built-in demo feeds into raw articles, as the
// fetcher publishes them.
func demoRaw(t testing.TB) []article.Raw {
	t.Helper()
	files, err := configs.DemoFeeds()
	if err != nil {
		t.Fatal(err)
	}
	var out []article.Raw
	for _, file := range files {
		f := ingest.Feed{ID: file.ID, Name: file.ID, URL: "https://feeds.example/" + file.Name}
		arts, err := ingest.Parse(f, file.Body, "", time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC))
		if err != nil {
			t.Fatalf("parsing %s: %v", file.Name, err)
		}
		out = append(out, arts...)
	}
	if len(out) < 40 {
		t.Fatalf("demo corpus has %d articles, want at least 40", len(out))
	}
	return out
}

// publishRaw publishes the articles to NEWS_RAW the way the fetcher does,
// each with a traceparent in the trace traceID.
func publishRaw(t testing.TB, js jetstream.JetStream, arts []article.Raw) {
	t.Helper()
	ctx := context.Background()
	for i := range arts {
		a := arts[i]
		a.SchemaVersion = article.RawSchemaVersion
		data, err := json.Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		parent := nats.Header{}
		parent.Set("traceparent", "00-"+traceID+"-00f067aa0ba902b7-01")
		msg := bus.NewMsg(bus.Event{
			Subject: bus.RawSubject(a.Source), Type: bus.TypeRaw, Source: "/wiredesk/fetcher/" + a.Source,
			ID: a.MsgID(), Time: a.FetchedAt, Parent: parent,
		}, data)
		if _, err := js.PublishMsg(ctx, msg); err != nil {
			t.Fatal(err)
		}
	}
}

// runEnricher runs the real enricher service, with the built-in rules and
// batches of up to batch messages, until the test ends.
func runEnricher(t testing.TB, js jetstream.JetStream, batch int) {
	t.Helper()
	e, err := enrich.Load(configs.FS, "taxonomy.yaml", "gazetteer.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg := config.Default().Enricher
	cfg.Consumer = bus.ConsumerSettings{Batch: batch, BatchWait: 50 * time.Millisecond}
	s := &enricher.Service{JS: js, Enricher: e, Config: cfg, Grace: 5 * time.Second, Logger: stagetest.Logger()}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, prometheus.NewRegistry()) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("enricher exited with %v", err)
			}
		case <-time.After(20 * time.Second):
			t.Error("enricher did not stop within 20s")
		}
	})
}

// stored is one message read back from a stream.
type stored struct {
	subject string
	header  nats.Header
	data    []byte
	article article.Enriched
}

// readStream returns every message of a stream, in order.
func readStream(t testing.TB, js jetstream.JetStream, stream string) []stored {
	t.Helper()
	ctx := context.Background()
	want := stagetest.StreamMsgs(t, js, stream)
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	var out []stored
	for uint64(len(out)) < want {
		batch, err := cons.Fetch(int(want)-len(out), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			s := stored{subject: m.Subject(), header: m.Headers(), data: m.Data()}
			if err := json.Unmarshal(m.Data(), &s.article); err != nil {
				t.Fatalf("message on %s is not an article: %v", m.Subject(), err)
			}
			out = append(out, s)
		}
		if n == 0 {
			t.Fatalf("read %d of %d messages of %s", len(out), want, stream)
		}
	}
	return out
}

// registrySchema fetches the schema of ceType from the registry, as a
// consumer would, and compiles it.
func registrySchema(t testing.TB, js jetstream.JetStream, ceType string) *jsonschema.Schema {
	t.Helper()
	doc, err := schemas.Fetch(context.Background(), js, ceType)
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(ceType, inst); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(ceType)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fanoutKey names one expected fan-out copy.
func fanoutKey(subject, ceID string) string { return subject + " " + ceID }

// expectedFanout derives, from the canonical enriched messages, the
// fan-out copies that must exist: one per article and distinct tag.
func expectedFanout(enriched []stored) []string {
	var want []string
	for _, m := range enriched {
		var topics []string
		for _, tp := range m.article.Topics {
			topics = append(topics, tp.ID)
		}
		for _, s := range bus.FanoutSubjects(m.article.Conflicts, topics) {
			want = append(want, fanoutKey(s, m.header.Get("ce-id")))
		}
	}
	sort.Strings(want)
	return want
}

// TestFanout runs the real enricher over the demo corpus and checks the
// published event stream as a downstream consumer sees it: every article
// once on news.enriched.<relevance>.<source>, once more on every
// news.conflict.<id> and news.topic.<id> it is tagged with and nowhere
// else; every message valid against the schema the registry holds for its
// ce-type; the CloudEvents attributes and the trace carried over.
func TestFanout(t *testing.T) {
	_, js := stagetest.JetStream(t)
	raw := demoRaw(t)
	publishRaw(t, js, raw)
	runEnricher(t, js, 16)
	stagetest.Eventually(t, "the enricher to drain NEWS_RAW", func() bool {
		return stagetest.Drained(js, bus.StreamRaw, enricher.Stage)
	})

	enriched := readStream(t, js, bus.StreamEnriched)
	if len(enriched) != len(raw) {
		t.Fatalf("NEWS_ENRICHED holds %d messages, want one per raw article (%d)", len(enriched), len(raw))
	}
	fanout := readStream(t, js, bus.StreamFanout)
	want := expectedFanout(enriched)
	var got []string
	for _, m := range fanout {
		got = append(got, fanoutKey(m.subject, m.header.Get("ce-id")))
	}
	sort.Strings(got)
	if !slices.Equal(got, want) {
		t.Errorf("NEWS_FANOUT holds\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	perSubject := map[string]int{}
	for _, m := range fanout {
		perSubject[m.subject]++
	}
	if perSubject["news.topic.landmines"] < 3 || perSubject["news.conflict.armenia-azerbaijan"] < 3 {
		t.Errorf("fan-out too thin for the demo corpus: %v", perSubject)
	}

	canonical := map[string]stored{}
	for _, m := range enriched {
		canonical[m.header.Get("ce-id")] = m
	}
	schema := registrySchema(t, js, bus.TypeEnriched)
	for _, m := range append(enriched, fanout...) {
		t.Run(m.subject+"/"+m.article.ID[:8], func(t *testing.T) {
			inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(m.data))
			if err != nil {
				t.Fatal(err)
			}
			if err := schema.Validate(inst); err != nil {
				t.Errorf("does not match the registered schema of %s: %v", bus.TypeEnriched, err)
			}
			checkEnvelope(t, m, canonical)
		})
	}
}

// checkEnvelope checks the CloudEvents attributes and trace context of one
// enriched message.
func checkEnvelope(t *testing.T, m stored, canonical map[string]stored) {
	t.Helper()
	h := m.header
	a := m.article
	ceID := fmt.Sprintf("%s:%s:%s:%s", a.ID, a.Revision, a.Versions.Taxonomy, a.Versions.Gazetteer)
	for k, v := range map[string]string{
		"ce-specversion": "1.0",
		"ce-type":        bus.TypeEnriched,
		"ce-source":      "/wiredesk/enricher",
		"ce-id":          ceID,
		"content-type":   "application/json",
	} {
		if got := h.Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	ceTime, err := time.Parse(time.RFC3339Nano, h.Get("ce-time"))
	if err != nil || !ceTime.Equal(a.EnrichedAt) {
		t.Errorf("ce-time = %q, want enriched_at %s", h.Get("ce-time"), a.EnrichedAt.Format(time.RFC3339Nano))
	}
	tp := strings.Split(h.Get("traceparent"), "-")
	if len(tp) != 4 || tp[0] != "00" || tp[1] != traceID || len(tp[2]) != 16 || tp[2] == "00f067aa0ba902b7" || tp[3] != "01" {
		t.Errorf("traceparent = %q, want a child span of trace %s", h.Get("traceparent"), traceID)
	}
	wantMsgID := ceID
	if !strings.HasPrefix(m.subject, "news.enriched.") {
		wantMsgID = ceID + ":" + m.subject
		c, ok := canonical[ceID]
		if !ok {
			t.Fatalf("fan-out copy of %s has no canonical message", ceID)
		}
		if !bytes.Equal(c.data, m.data) {
			t.Error("fan-out copy differs from the canonical message")
		}
	} else if want := bus.EnrichedSubject(a.Relevant, a.Source); m.subject != want {
		t.Errorf("published on %s, want %s", m.subject, want)
	}
	if got := h.Get(jetstream.MsgIDHeader); got != wantMsgID {
		t.Errorf("Nats-Msg-Id = %q, want %q", got, wantMsgID)
	}
}

// TestRawAckedOnlyWhenEveryPublishIsStored removes NEWS_FANOUT, so the
// canonical publishes succeed and the fan-out ones fail: no raw message
// may be acked. When the stream is back, the held messages complete, and
// the canonical copies already stored are not stored twice.
func TestRawAckedOnlyWhenEveryPublishIsStored(t *testing.T) {
	ctx := context.Background()
	_, js := stagetest.JetStream(t)
	if err := js.DeleteStream(ctx, bus.StreamFanout); err != nil {
		t.Fatal(err)
	}
	raw := demoRaw(t)
	publishRaw(t, js, raw)
	// One batch takes the whole corpus: the loop holds a batch whose
	// dependency is down and pulls nothing more until it recovers.
	runEnricher(t, js, 1000)
	stagetest.Eventually(t, "every canonical enriched article stored", func() bool {
		return stagetest.StreamMsgs(t, js, bus.StreamEnriched) == uint64(len(raw))
	})
	cons, err := js.Consumer(ctx, bus.StreamRaw, enricher.Stage)
	if err != nil {
		t.Fatal(err)
	}
	tagged := 0
	for _, m := range readStream(t, js, bus.StreamEnriched) {
		if len(m.article.Topics)+len(m.article.Conflicts) > 0 {
			tagged++
		}
	}
	if tagged == 0 {
		t.Fatal("no tagged article in the demo corpus")
	}
	// The untagged articles need no fan-out and are acked; the tagged ones
	// are held, unacked.
	var info *jetstream.ConsumerInfo
	stagetest.Eventually(t, "the untagged raw messages to be acked", func() bool {
		info, err = cons.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == tagged
	})
	if info.NumRedelivered != 0 {
		t.Errorf("%d raw messages redelivered: an unavailable stream must hold messages, not spend deliveries", info.NumRedelivered)
	}

	if err := bus.EnsureStreams(ctx, js, bus.DefaultTopology()); err != nil {
		t.Fatal(err)
	}
	stagetest.Eventually(t, "the enricher to drain NEWS_RAW", func() bool {
		return stagetest.Drained(js, bus.StreamRaw, enricher.Stage)
	})
	enriched := readStream(t, js, bus.StreamEnriched)
	if len(enriched) != len(raw) {
		t.Errorf("NEWS_ENRICHED holds %d messages after the retry, want %d", len(enriched), len(raw))
	}
	if got, want := stagetest.StreamMsgs(t, js, bus.StreamFanout), uint64(len(expectedFanout(enriched))); got != want {
		t.Errorf("NEWS_FANOUT holds %d messages, want %d", got, want)
	}
}

// TestRedeliveryStoresNothingTwice re-enriches the whole corpus (a new
// consumer replays NEWS_RAW): every publish is a duplicate by its
// Nats-Msg-Id, so neither stream grows.
func TestRedeliveryStoresNothingTwice(t *testing.T) {
	ctx := context.Background()
	_, js := stagetest.JetStream(t)
	publishRaw(t, js, demoRaw(t))
	runEnricher(t, js, 16)
	stagetest.Eventually(t, "the enricher to drain NEWS_RAW", func() bool {
		return stagetest.Drained(js, bus.StreamRaw, enricher.Stage)
	})
	enriched, fanout := stagetest.StreamMsgs(t, js, bus.StreamEnriched), stagetest.StreamMsgs(t, js, bus.StreamFanout)
	if err := js.DeleteConsumer(ctx, bus.StreamRaw, enricher.Stage); err != nil {
		t.Fatal(err)
	}
	runEnricher(t, js, 16)
	stagetest.Eventually(t, "the new consumer to drain NEWS_RAW", func() bool {
		return stagetest.Drained(js, bus.StreamRaw, enricher.Stage)
	})
	if got := stagetest.StreamMsgs(t, js, bus.StreamEnriched); got != enriched {
		t.Errorf("NEWS_ENRICHED grew from %d to %d on redelivery", enriched, got)
	}
	if got := stagetest.StreamMsgs(t, js, bus.StreamFanout); got != fanout {
		t.Errorf("NEWS_FANOUT grew from %d to %d on redelivery", fanout, got)
	}
}
