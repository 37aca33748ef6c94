// Package bench is `wiredesk bench`: it measures what one machine
// sustains, end to end, and how close that comes to the transport's own
// limit.
//
// One run starts, for each phase, a NATS server with JetStream in a
// process of its own (as production runs it) and the three services each
// in a process of their own (the wiredesk binary re-executed with `bench
// -role ROLE`, which runs exactly what cmd/fetcher, cmd/enricher and
// cmd/indexer run), so that every process's peak RSS and CPU time is its
// own. The bench process itself is the load generator: it serves the
// synthetic feeds on loopback and watches the streams.
//
// Phases:
//
//  1. raw: one JetStream hop at full speed (async publish of 4 KB
//     messages, pull consume, explicit ack, file storage) against the
//     NATS server process.
//  2. throughput: N synthetic articles released at once over many feeds,
//     through fetcher → enricher → indexer, all running together.
//  3. paced: articles released at a target rate (-rate) for -duration,
//     for the publish-to-searchable latency at a sustainable load.
//  4. staged (-staged): the throughput corpus again, but each stage runs
//     alone over the backlog the previous one left, which gives each
//     stage's own capacity.
//
// Publish-to-searchable latency of an article is the time from the NATS
// server storing the fetcher's raw message (its NEWS_RAW timestamp) to the
// NATS server receiving the indexer's ack of the enriched message (taken
// from JetStream's ack sampling, $JS.EVENT.METRIC.CONSUMER.ACK). The
// indexer acks only after the document is durable in the index, and a
// document written to the embedded index is searchable as soon as its
// batch returns, so the ack is when a search finds it. (With Elasticsearch
// the document may need up to one refresh interval more.) The time an
// article waits in its feed before the fetcher polls it is not counted:
// that is the poll schedule, not the pipeline.
package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wiredesk/wiredesk/cmd/internal/bus"
	"github.com/wiredesk/wiredesk/cmd/internal/config"
	"github.com/wiredesk/wiredesk/cmd/internal/enricher"
	"github.com/wiredesk/wiredesk/cmd/internal/indexer"
	"github.com/wiredesk/wiredesk/index"
	blevestore "github.com/wiredesk/wiredesk/index/bleve"
)

// Options configure a bench run.
type Options struct {
	Binary     string // the wiredesk binary, re-executed for each child
	Articles   int    // throughput corpus
	Feeds      int
	RawN       int
	RawSize    int
	RawPending int
	Rate       float64 // paced phase, articles/s; 0 skips it
	Duration   time.Duration
	Staged     bool
	ConfigPath string
	Data       string
	ProfileDir string // CPU and allocation profiles of the throughput phase
	SyncAlways bool
	LogLevel   string
	Timeout    time.Duration // per phase
	Seed       uint64
	Out        io.Writer // progress
}

// Results is everything one run measured.
type Results struct {
	Date       time.Time    `json:"date"`
	Machine    Machine      `json:"machine"`
	Index      string       `json:"index"`
	SyncAlways bool         `json:"sync_always"`
	Raw        RawResult    `json:"raw"`
	Throughput *RunResult   `json:"throughput,omitempty"`
	Paced      *RunResult   `json:"paced,omitempty"`
	Staged     *RunResult   `json:"staged,omitempty"`
	Ratio      float64      `json:"ratio_to_raw"` // throughput articles/s ÷ raw msgs/s
	Profiles   []ProfileTop `json:"profiles,omitempty"`
}

// RunResult is one pipeline phase.
type RunResult struct {
	Mode       string  `json:"mode"`
	Articles   int     `json:"articles"`
	TargetRate float64 `json:"target_rate,omitempty"`
	Published  int     `json:"published"`   // messages in NEWS_RAW
	Enriched   int     `json:"enriched"`    // messages in NEWS_ENRICHED
	Indexed    int     `json:"indexed"`     // indexer acks observed
	IndexCount int     `json:"index_count"` // documents in the index afterwards (-1: not checked)
	Relevant   int     `json:"relevant"`    // of which about a Caucasus conflict
	DeadLetter int     `json:"dead_lettered"`
	// Seconds runs from the first raw publish to the last index ack.
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
	// Wall runs from releasing the feeds to the pipeline being drained.
	Wall    float64       `json:"wall_seconds"`
	Stages  []StageResult `json:"stages"`
	Latency Percentiles   `json:"latency_ms"`        // publish → searchable
	Enrich  Percentiles   `json:"enrich_latency_ms"` // publish → enriched article stored
	Procs   []ProcResult  `json:"processes"`
	// CPUPerArticleUS sums every process's CPU per article (services and
	// NATS, not the load generator); CeilingPerSecond is what the machine's
	// cores could do at that cost if the pipeline had them to itself. It
	// is the figure least disturbed by other jobs on a shared machine.
	CPUPerArticleUS  float64 `json:"cpu_per_article_us"`
	CeilingPerSecond float64 `json:"cpu_ceiling_per_second"`
	// Warnings counts the warning and error lines each service logged,
	// with the first few.
	Warnings map[string]Warnings `json:"warnings,omitempty"`
	Metrics  map[string]any      `json:"metrics,omitempty"`
	LoadFrom [3]float64          `json:"load_before"`
	LoadTo   [3]float64          `json:"load_after"`
}

// Warnings are what one process logged at warning level or above.
type Warnings struct {
	Count int      `json:"count"`
	First []string `json:"first"`
}

// StageResult is one stage's output rate while it worked.
type StageResult struct {
	Name      string  `json:"name"`
	Count     int     `json:"count"`
	Seconds   float64 `json:"seconds"`
	PerSecond float64 `json:"per_second"`
}

// ProcResult is one process's accounting.
type ProcResult struct {
	Name  string `json:"name"`
	Usage Usage  `json:"usage"`
	// CPUPerArticleUS is CPU time over the articles of the phase.
	CPUPerArticleUS float64 `json:"cpu_per_article_us"`
}

// Percentiles of a latency distribution, in milliseconds.
type Percentiles struct {
	Samples int     `json:"samples"`
	P50     float64 `json:"p50"`
	P95     float64 `json:"p95"`
	P99     float64 `json:"p99"`
	Max     float64 `json:"max"`
}

func percentiles(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	slices.Sort(d)
	at := func(q float64) float64 {
		i := int(math.Ceil(q*float64(len(d)))) - 1
		return float64(d[max(0, min(i, len(d)-1))]) / 1e6
	}
	return Percentiles{Samples: len(d), P50: at(0.50), P95: at(0.95), P99: at(0.99), Max: at(1)}
}

// Run runs every phase and returns the results. Progress goes to o.Out.
func Run(ctx context.Context, o Options) (*Results, error) {
	cfg := config.Default()
	if o.ConfigPath != "" {
		var err error
		if cfg, err = config.Load(o.ConfigPath); err != nil {
			return nil, fmt.Errorf("loading %s: %w", o.ConfigPath, err)
		}
	}
	r := &Results{Date: time.Now().UTC(), Machine: machine(), Index: "bleve (embedded)", SyncAlways: o.SyncAlways}
	if len(cfg.Indexer.Elasticsearch.URLs) > 0 {
		r.Index = "elasticsearch " + strings.Join(cfg.Indexer.Elasticsearch.URLs, ",")
	}
	logf := func(format string, args ...any) { fmt.Fprintf(o.Out, format+"\n", args...) }
	logf("wiredesk bench: %s, %d cores, load %s; index %s", r.Machine.CPU, r.Machine.Cores, fmtLoad(r.Machine.Load), r.Index)

	raw, err := o.rawPhase(ctx)
	if err != nil {
		return r, fmt.Errorf("raw phase: %w", err)
	}
	r.Raw = raw
	logf("raw JetStream hop: %.0f msgs/s (%d × %d B, %d in flight), %.1f µs CPU per message", raw.PerSecond, raw.Messages, raw.Bytes, raw.MaxPending, raw.CPUPerMsgUS)

	if o.Articles > 0 {
		t, err := o.pipeline(ctx, "throughput", o.Articles, 0)
		if err != nil {
			return r, fmt.Errorf("throughput phase: %w", err)
		}
		r.Throughput = t
		if raw.PerSecond > 0 {
			r.Ratio = t.PerSecond / raw.PerSecond
		}
		logf("throughput: %d articles, %.0f articles/s end to end (%.1f%% of one raw hop); latency p50 %.0f ms, p99 %.0f ms",
			t.Indexed, t.PerSecond, 100*r.Ratio, t.Latency.P50, t.Latency.P99)
		if o.ProfileDir != "" {
			r.Profiles = topProfiles(o.Binary, o.ProfileDir, o.Out)
		}
	}
	if o.Rate > 0 && o.Duration > 0 {
		n := int(o.Rate * o.Duration.Seconds())
		p, err := o.pipeline(ctx, "paced", n, o.Rate)
		if err != nil {
			return r, fmt.Errorf("paced phase: %w", err)
		}
		r.Paced = p
		logf("paced at %.0f/s: %d articles, latency p50 %.0f ms, p95 %.0f ms, p99 %.0f ms", o.Rate, p.Indexed, p.Latency.P50, p.Latency.P95, p.Latency.P99)
	}
	if o.Staged && o.Articles > 0 {
		s, err := o.pipeline(ctx, "staged", o.Articles, 0)
		if err != nil {
			return r, fmt.Errorf("staged phase: %w", err)
		}
		r.Staged = s
		for _, st := range s.Stages {
			logf("staged: %s alone %.0f articles/s", st.Name, st.PerSecond)
		}
	}
	r.Machine.LoadAfter = loadAvg()
	return r, nil
}

// startNATS starts the NATS server process of one phase and connects.
func (o Options) startNATS(ctx context.Context, dir string) (*child, *nats.Conn, error) {
	port, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	c, err := startChild(o.Binary, ChildOptions{Role: RoleNATS, NATSPort: port, Data: filepath.Join(dir, "nats"), SyncAlways: o.SyncAlways, LogLevel: o.LogLevel})
	if err != nil {
		return nil, nil, err
	}
	url := fmt.Sprintf("nats://127.0.0.1:%d", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		nc, err := nats.Connect(url, nats.Name("wiredesk-bench"))
		if err == nil {
			return c, nc, nil
		}
		if xerr := c.exited(); xerr != nil {
			return nil, nil, xerr
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			c.kill()
			return nil, nil, fmt.Errorf("connecting to the NATS process: %w", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (o Options) rawPhase(ctx context.Context) (RawResult, error) {
	dir := filepath.Join(o.Data, "raw")
	ns, nc, err := o.startNATS(ctx, dir)
	if err != nil {
		return RawResult{}, err
	}
	defer ns.kill()
	url := nc.ConnectedUrl()
	nc.Close()
	cpu0, _ := procCPU(ns.cmd.Process.Pid)
	raw, err := measureRaw(ctx, url, o.RawN, o.RawSize, o.RawPending)
	if err != nil {
		return raw, err
	}
	cpu1, _ := procCPU(ns.cmd.Process.Pid)
	u, err := ns.stop(30 * time.Second)
	if err != nil {
		return raw, err
	}
	raw.Server = u
	raw.CPUPerMsgUS = (raw.ClientCPU + cpu1 - cpu0) / float64(raw.Messages) * 1e6
	_ = os.RemoveAll(dir)
	return raw, nil
}

// ackSample is one indexer ack reported by JetStream.
type ackSample struct {
	seq uint64
	at  time.Time
}

// pipeline runs one phase of n articles; rate 0 releases them all at once.
func (o Options) pipeline(ctx context.Context, mode string, n int, rate float64) (_ *RunResult, err error) {
	res := &RunResult{Mode: mode, Articles: n, TargetRate: rate, IndexCount: -1, LoadFrom: loadAvg()}
	ctx, cancel := context.WithTimeoutCause(ctx, o.Timeout, fmt.Errorf("bench: the %s phase did not finish within %s", mode, o.Timeout))
	defer cancel()
	dir := filepath.Join(o.Data, mode)
	_ = os.RemoveAll(dir)
	corpus, err := NewCorpus(n, o.Feeds, fmt.Sprintf("%s-%d", mode, time.Now().UnixNano()), o.Seed)
	if err != nil {
		return nil, err
	}
	// Feeds are polled every one to two seconds (the fetcher's tick): an
	// unchanged feed answers 304, and a failed poll is retried after the
	// fetcher's own backoff.
	poll, window := 2*time.Second, 0
	if rate > 0 {
		// Show each feed enough items that none scrolls out between polls.
		poll = time.Second
		window = max(20, int(math.Ceil(3*rate/float64(o.Feeds)*2)))
	}
	fs, err := ServeCorpus(ctx, corpus, rate, window)
	if err != nil {
		return nil, err
	}
	ns, nc, err := o.startNATS(ctx, dir)
	if err != nil {
		return nil, err
	}
	defer ns.kill()
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(o.Out, "%s: %d articles (%.1f MB of feed items) over %d feeds on %s%s\n", mode, n, float64(corpus.bytes)/1e6, o.Feeds, fs.URL, rateNote(rate))

	children := map[string]*child{}
	defer func() {
		for _, c := range children {
			c.kill()
		}
	}()
	start := func(role string) error {
		port, err := freePort()
		if err != nil {
			return err
		}
		co := ChildOptions{
			Role: role, NATSURL: nc.ConnectedUrl(), ConfigPath: o.ConfigPath, Data: filepath.Join(dir, "index"),
			Listen: fmt.Sprintf("127.0.0.1:%d", port), FeedsBase: fs.URL, Feeds: o.Feeds, Poll: poll, LogLevel: o.LogLevel,
		}
		if o.ProfileDir != "" && mode == "throughput" {
			co.CPUProfile = filepath.Join(o.ProfileDir, role+".cpu.pprof")
			co.MemProfile = filepath.Join(o.ProfileDir, role+".allocs.pprof")
		}
		c, err := startChild(o.Binary, co)
		if err != nil {
			return err
		}
		children[role] = c
		return nil
	}

	// The indexer's acks, sampled by JetStream.
	var mu sync.Mutex
	var acks []ackSample
	sub, err := nc.Subscribe("$JS.EVENT.METRIC.CONSUMER.ACK."+bus.StreamEnriched+"."+indexer.Stage, func(m *nats.Msg) {
		var ev struct {
			StreamSeq uint64    `json:"stream_seq"`
			Time      time.Time `json:"timestamp"`
		}
		if decodeJSON(m.Data, &ev) != nil {
			return
		}
		mu.Lock()
		acks = append(acks, ackSample{seq: ev.StreamSeq, at: ev.Time})
		mu.Unlock()
	})
	if err != nil {
		return nil, fmt.Errorf("subscribing to ack samples: %w", err)
	}
	_ = sub.SetPendingLimits(-1, -1)
	defer func() { _ = sub.Unsubscribe() }()
	sampled := make(chan error, 1)
	sampleIndexer := func() {
		// The indexer creates its consumer at start without sampling; turn
		// sampling on as soon as the consumer exists.
		go func() {
			for ctx.Err() == nil {
				c, err := js.Consumer(ctx, bus.StreamEnriched, indexer.Stage)
				if err == nil {
					cc := c.CachedInfo().Config
					cc.SampleFrequency = "100%"
					_, err = js.UpdateConsumer(ctx, bus.StreamEnriched, cc)
					sampled <- err
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
			sampled <- context.Cause(ctx)
		}()
	}

	staged := mode == "staged"
	var released time.Time
	drained := func(stream, durable string) bool {
		c, err := js.Consumer(ctx, stream, durable)
		if err != nil {
			return false
		}
		info, err := c.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0
	}
	streamMsgs := func(name string) int {
		s, err := js.Stream(ctx, name)
		if err != nil {
			return 0
		}
		info, err := s.Info(ctx)
		if err != nil {
			return 0
		}
		return int(info.State.Msgs)
	}
	wait := func(what string, cond func() bool) error {
		last := time.Now()
		for !cond() {
			for _, c := range children {
				if err := c.exited(); err != nil {
					return err
				}
			}
			if ctx.Err() != nil {
				var logs strings.Builder
				for role, c := range children {
					if n, first := c.warnings(); n > 0 {
						fmt.Fprintf(&logs, "\n%s logged %d warnings, first:\n  %s", role, n, strings.Join(first, "\n  "))
					}
				}
				return fmt.Errorf("waiting for %s: %w (NEWS_RAW %d, NEWS_ENRICHED %d, indexed %d)%s", what, context.Cause(ctx),
					streamMsgs(bus.StreamRaw), streamMsgs(bus.StreamEnriched), len(acks), logs.String())
			}
			if time.Since(last) > 5*time.Second {
				last = time.Now()
				mu.Lock()
				k := len(acks)
				mu.Unlock()
				fmt.Fprintf(o.Out, "  … %.0fs: NEWS_RAW %d, NEWS_ENRICHED %d, indexed %d\n", time.Since(released).Seconds(), streamMsgs(bus.StreamRaw), streamMsgs(bus.StreamEnriched), k)
			}
			time.Sleep(50 * time.Millisecond)
		}
		return nil
	}
	consumerExists := func(stream, durable string) func() bool {
		return func() bool { _, err := js.Consumer(ctx, stream, durable); return err == nil }
	}

	if !staged {
		if err := start(RoleEnricher); err != nil {
			return nil, err
		}
		if err := start(RoleIndexer); err != nil {
			return nil, err
		}
		sampleIndexer()
		if err := <-sampled; err != nil {
			return nil, fmt.Errorf("turning on ack sampling: %w", err)
		}
		if err := wait("the enricher's consumer", consumerExists(bus.StreamRaw, enricher.Stage)); err != nil {
			return nil, err
		}
	}
	if rate == 0 {
		fs.Release()
	}
	released = time.Now()
	if err := start(RoleFetcher); err != nil {
		return nil, err
	}
	if rate > 0 {
		fs.Release()
		released = time.Now()
	}
	allRaw := func() bool { return streamMsgs(bus.StreamRaw) >= n }
	if staged {
		if err := wait("the fetcher to publish every article", allRaw); err != nil {
			return nil, err
		}
		if err := start(RoleEnricher); err != nil {
			return nil, err
		}
		if err := wait("the enricher to drain NEWS_RAW", func() bool { return drained(bus.StreamRaw, enricher.Stage) }); err != nil {
			return nil, err
		}
		if err := start(RoleIndexer); err != nil {
			return nil, err
		}
		sampleIndexer()
		if err := <-sampled; err != nil {
			return nil, fmt.Errorf("turning on ack sampling: %w", err)
		}
	}
	if err := wait("the pipeline to drain", func() bool {
		return allRaw() && drained(bus.StreamRaw, enricher.Stage) && drained(bus.StreamEnriched, indexer.Stage)
	}); err != nil {
		return nil, err
	}
	res.Wall = time.Since(released).Seconds()
	// Ack samples may trail the last ack by a moment.
	_ = waitFor(ctx, 2*time.Second, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(acks) >= streamMsgs(bus.StreamEnriched)
	})

	metrics := map[string]map[string]float64{}
	for role, c := range children {
		metrics[role] = c.scrape(ctx)
	}
	res.Warnings = map[string]Warnings{}
	for _, role := range []string{RoleFetcher, RoleEnricher, RoleIndexer} {
		c := children[role]
		u, err := c.stop(60 * time.Second)
		if n, first := c.warnings(); n > 0 {
			res.Warnings[role] = Warnings{Count: n, First: first}
		}
		if err != nil {
			return nil, err
		}
		delete(children, role)
		res.Procs = append(res.Procs, ProcResult{Name: role, Usage: u})
	}

	rawTimes, err := readTimes(ctx, js, bus.StreamRaw)
	if err != nil {
		return nil, err
	}
	enrTimes, err := readTimes(ctx, js, bus.StreamEnriched)
	if err != nil {
		return nil, err
	}
	res.DeadLetter = streamMsgs(bus.StreamDLQ)
	nc.Close()
	u, err := ns.stop(60 * time.Second)
	if err != nil {
		return nil, err
	}
	res.Procs = append(res.Procs, ProcResult{Name: "nats-server", Usage: u})

	mu.Lock()
	samples := slices.Clone(acks)
	mu.Unlock()
	res.compute(rawTimes, enrTimes, samples)
	for i := range res.Procs {
		if res.Indexed > 0 {
			res.Procs[i].CPUPerArticleUS = res.Procs[i].Usage.CPUSeconds() / float64(res.Indexed) * 1e6
			res.CPUPerArticleUS += res.Procs[i].CPUPerArticleUS
		}
	}
	if res.CPUPerArticleUS > 0 {
		res.CeilingPerSecond = float64(runtime.NumCPU()) * 1e6 / res.CPUPerArticleUS
	}
	res.Metrics = pickMetrics(metrics)
	res.LoadTo = loadAvg()

	if r, ok := o.countIndex(ctx, filepath.Join(dir, "index")); ok {
		res.IndexCount, res.Relevant = r[0], r[1]
	}
	if o.ProfileDir == "" || mode != "throughput" {
		_ = os.RemoveAll(dir)
	}
	return res, nil
}

// countIndex counts the embedded index's documents once the indexer has
// released it; with Elasticsearch it reports nothing (the index outlives
// the run and holds other documents).
func (o Options) countIndex(ctx context.Context, dir string) ([2]int, bool) {
	if o.ConfigPath != "" {
		if cfg, err := config.Load(o.ConfigPath); err == nil && len(cfg.Indexer.Elasticsearch.URLs) > 0 {
			return [2]int{}, false
		}
	}
	s, err := blevestore.Open(dir)
	if err != nil {
		return [2]int{}, false
	}
	defer s.Close()
	n, err := s.Count(ctx)
	if err != nil {
		return [2]int{}, false
	}
	rel, err := s.Search(ctx, index.Query{RelevantOnly: true, Size: 1})
	if err != nil {
		return [2]int{n, 0}, true
	}
	return [2]int{n, rel.Total}, true
}

// stamped is a stream message's article key and stored time.
type stamped struct {
	key string
	at  time.Time
}

// readTimes reads every message's headers and timestamp from a stream,
// by stream sequence.
func readTimes(ctx context.Context, js jetstream.JetStream, stream string) (map[uint64]stamped, error) {
	s, err := js.Stream(ctx, stream)
	if err != nil {
		return nil, fmt.Errorf("opening stream %s: %w", stream, err)
	}
	info, err := s.Info(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading stream %s: %w", stream, err)
	}
	out := make(map[uint64]stamped, info.State.Msgs)
	if info.State.Msgs == 0 {
		return out, nil
	}
	c, err := s.OrderedConsumer(ctx, jetstream.OrderedConsumerConfig{HeadersOnly: true})
	if err != nil {
		return nil, fmt.Errorf("reading stream %s: %w", stream, err)
	}
	it, err := c.Messages()
	if err != nil {
		return nil, fmt.Errorf("reading stream %s: %w", stream, err)
	}
	defer it.Stop()
	for uint64(len(out)) < info.State.Msgs {
		m, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			return nil, fmt.Errorf("reading stream %s: %w", stream, err)
		}
		meta, err := m.Metadata()
		if err != nil {
			continue
		}
		out[meta.Sequence.Stream] = stamped{key: articleKey(m.Headers().Get("ce-id")), at: meta.Timestamp}
		if meta.Sequence.Stream >= info.State.LastSeq {
			break
		}
	}
	return out, nil
}

// articleKey is "id:revision", the first two fields of a ce-id.
func articleKey(ceID string) string {
	parts := strings.SplitN(ceID, ":", 3)
	if len(parts) < 2 {
		return ceID
	}
	return parts[0] + ":" + parts[1]
}

// compute derives counts, rates and latencies from the stream timestamps
// and the ack samples.
func (r *RunResult) compute(raw, enr map[uint64]stamped, acks []ackSample) {
	r.Published, r.Enriched = len(raw), len(enr)
	published := make(map[string]time.Time, len(raw))
	span := func(name string, ts []time.Time) StageResult {
		s := StageResult{Name: name, Count: len(ts)}
		if len(ts) < 2 {
			return s
		}
		lo, hi := slices.MinFunc(ts, time.Time.Compare), slices.MaxFunc(ts, time.Time.Compare)
		s.Seconds = hi.Sub(lo).Seconds()
		if s.Seconds > 0 {
			s.PerSecond = float64(len(ts)-1) / s.Seconds
		}
		return s
	}
	var rawTS, enrTS, ackTS []time.Time
	for _, m := range raw {
		published[m.key] = m.at
		rawTS = append(rawTS, m.at)
	}
	var enrLat []time.Duration
	for _, m := range enr {
		enrTS = append(enrTS, m.at)
		if p, ok := published[m.key]; ok {
			enrLat = append(enrLat, m.at.Sub(p))
		}
	}
	var lat []time.Duration
	seen := map[uint64]bool{}
	for _, a := range acks {
		if seen[a.seq] {
			continue
		}
		seen[a.seq] = true
		ackTS = append(ackTS, a.at)
		if m, ok := enr[a.seq]; ok {
			if p, ok := published[m.key]; ok {
				lat = append(lat, a.at.Sub(p))
			}
		}
	}
	r.Indexed = len(ackTS)
	r.Stages = []StageResult{span("fetcher", rawTS), span("enricher", enrTS), span("indexer", ackTS)}
	r.Latency, r.Enrich = percentiles(lat), percentiles(enrLat)
	if len(rawTS) > 0 && len(ackTS) > 0 {
		first := slices.MinFunc(rawTS, time.Time.Compare)
		last := slices.MaxFunc(ackTS, time.Time.Compare)
		r.Seconds = last.Sub(first).Seconds()
		if r.Seconds > 0 {
			r.PerSecond = float64(r.Indexed) / r.Seconds
		}
	}
}

// pickMetrics keeps the services' metrics that explain where time goes.
func pickMetrics(m map[string]map[string]float64) map[string]any {
	out := map[string]any{}
	get := func(role, name string) float64 { return m[role][name] }
	if c := get(RoleEnricher, "wiredesk_enricher_enrich_seconds_count"); c > 0 {
		out["enricher_enrich_ms_mean"] = get(RoleEnricher, "wiredesk_enricher_enrich_seconds_sum") / c * 1e3
		out["enricher_articles"] = c
	}
	if c := get(RoleEnricher, "wiredesk_enricher_batch_seconds_count"); c > 0 {
		out["enricher_batches"] = c
		out["enricher_batch_ms_mean"] = get(RoleEnricher, "wiredesk_enricher_batch_seconds_sum") / c * 1e3
	}
	if c := get(RoleIndexer, "wiredesk_indexer_batch_seconds_count"); c > 0 {
		out["indexer_batches"] = c
		out["indexer_batch_ms_mean"] = get(RoleIndexer, "wiredesk_indexer_batch_seconds_sum") / c * 1e3
		out["indexer_documents"] = get(RoleIndexer, "wiredesk_indexer_documents_total")
	}
	if c := get(RoleFetcher, "wiredesk_fetcher_poll_seconds_count"); c > 0 {
		out["fetcher_polls"] = c
		out["fetcher_poll_ms_mean"] = get(RoleFetcher, "wiredesk_fetcher_poll_seconds_sum") / c * 1e3
		out["fetcher_published"] = get(RoleFetcher, "wiredesk_fetcher_articles_published_total")
	}
	return out
}

func waitFor(ctx context.Context, d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return false
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

func rateNote(rate float64) string {
	if rate > 0 {
		return fmt.Sprintf(", released at %.0f/s", rate)
	}
	return ", all released at once"
}
