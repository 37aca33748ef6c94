// Package faults is wiredesk's system fault suite: it runs the three
// services as separate processes against an out-of-process NATS server and
// a loopback feed server, injects faults (SIGKILL, SIGTERM, SIGSTOP, a NATS
// outage, a failing search engine, poison articles) and checks the end
// state after every scenario. It holds tests only. See README.md.
//
//	WIREDESK_FAULTS=1 go test -count=1 -timeout 30m -v ./cmd/internal/faults/
package faults

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wiredesk/wiredesk/cmd/internal/bus"
	"github.com/wiredesk/wiredesk/cmd/internal/fetcher"
	_ "github.com/wiredesk/wiredesk/index/bleve" // registers the index's analyzers with bleve
	"github.com/wiredesk/wiredesk/ingest"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// bins is the directory holding the built binaries: nats-server, fetcher,
// enricher, indexer and wiredesk.
var bins string

func TestMain(m *testing.M) {
	if os.Getenv("WIREDESK_FAULTS") != "1" {
		os.Exit(m.Run()) // every test skips
	}
	dir, err := os.MkdirTemp("", "wiredesk-faults-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bins = dir
	code := 1
	if err := build(dir); err != nil {
		fmt.Fprintln(os.Stderr, "faults:", err)
	} else {
		code = m.Run()
	}
	_ = os.RemoveAll(dir)
	os.Exit(code)
}

func build(dir string) error {
	for _, args := range [][]string{
		{"build", "-o", filepath.Join(dir, "nats-server"), "github.com/nats-io/nats-server/v2"},
		{"build", "-o", dir + "/", "github.com/wiredesk/wiredesk/cmd/fetcher", "github.com/wiredesk/wiredesk/cmd/enricher",
			"github.com/wiredesk/wiredesk/cmd/indexer", "github.com/wiredesk/wiredesk/cmd/wiredesk"},
	} {
		out, err := exec.Command("go", args...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("go %s: %w\n%s", strings.Join(args, " "), err, out)
		}
	}
	return nil
}

func needFaults(t *testing.T) {
	t.Helper()
	if os.Getenv("WIREDESK_FAULTS") != "1" {
		t.Skip("the fault suite runs the services as processes for several minutes; run it with WIREDESK_FAULTS=1 go test -timeout 30m ./cmd/internal/faults/ (CI's .ci/run sets it)")
	}
}

// esURL is the real search engine, when one runs.
func esURL() string { return os.Getenv("WIREDESK_TEST_ELASTICSEARCH_URL") }

// long reports whether the long variants (five-minute outages, 50,000
// articles) were asked for.
func long() bool { return os.Getenv("WIREDESK_FAULTS_LONG") == "1" }

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// waitFor polls cond every 200 ms until it holds or d passes.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > d {
			t.Fatalf("timed out after %s waiting for %s", d, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
	return time.Since(start)
}

// ---------------------------------------------------------------- processes

// proc is one child process with its log file and peak resident memory.
type proc struct {
	name string
	cmd  *exec.Cmd
	log  string
	done chan struct{}
	err  error
	hwm  atomic.Int64 // VmHWM in kB, sampled while it runs
}

func startProc(t *testing.T, name, logPath string, env []string, bin string, args ...string) *proc {
	t.Helper()
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatalf("starting %s: %v", name, err)
	}
	p := &proc{name: name, cmd: cmd, log: logPath, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	go func() {
		tick := time.NewTicker(250 * time.Millisecond)
		defer tick.Stop()
		for {
			p.sampleHWM()
			select {
			case <-p.done:
				return
			case <-tick.C:
			}
		}
	}()
	t.Cleanup(func() { p.kill() })
	return p
}

func (p *proc) sampleHWM() {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", p.cmd.Process.Pid))
	if err != nil {
		return
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if kb > p.hwm.Load() {
				p.hwm.Store(kb)
			}
		}
	}
}

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

func (p *proc) signal(s syscall.Signal) { _ = p.cmd.Process.Signal(s) }

// kill SIGKILLs the process and waits for it.
func (p *proc) kill() {
	if p.running() {
		p.sampleHWM()
		p.signal(syscall.SIGKILL)
	}
	<-p.done
}

// term sends SIGTERM and waits up to d for the exit; it returns how long
// the process took and its exit error.
func (p *proc) term(t *testing.T, d time.Duration) (time.Duration, error) {
	t.Helper()
	p.sampleHWM()
	start := time.Now()
	p.signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return time.Since(start), p.err
	case <-time.After(d):
		p.kill()
		t.Errorf("%s did not exit within %s of SIGTERM; log %s", p.name, d, p.log)
		return time.Since(start), errors.New("killed after timeout")
	}
}

// ---------------------------------------------------------------- feeds

// feedServer serves synthetic RSS feeds from loopback. Each item has a
// revision; an ETag per feed version makes unchanged polls cheap 304s.
type feedServer struct {
	srv   *httptest.Server
	delay atomic.Int64 // per response, ns: a slow server keeps polls in flight
	gets  atomic.Int64

	mu    sync.Mutex
	feeds []*feed
	// served is when each feed's current version was last served (200 or
	// 304): a poll that saves its state after that has seen it.
	served map[string]time.Time
}

type feed struct {
	id      string
	items   int
	version int
	rev     map[int]int  // item → revision, default 1
	poison  map[int]bool // items with a link and no text at all
	huge    map[int]bool // items with a 40,000-byte category: an immense keyword term
}

func newFeedServer(t *testing.T, feeds, perFeed int) *feedServer {
	fs := &feedServer{served: map[string]time.Time{}}
	for i := range feeds {
		fs.feeds = append(fs.feeds, &feed{id: fmt.Sprintf("feed-%02d", i), items: perFeed, version: 1, rev: map[int]int{}, poison: map[int]bool{}, huge: map[int]bool{}})
	}
	fs.srv = httptest.NewServer(http.HandlerFunc(fs.serve))
	t.Cleanup(fs.srv.Close)
	return fs
}

func (fs *feedServer) url(f *feed) string { return fs.srv.URL + "/" + f.id + ".xml" }

func (fs *feedServer) serve(w http.ResponseWriter, r *http.Request) {
	fs.gets.Add(1)
	id := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), ".xml")
	fs.mu.Lock()
	var body string
	var etag string
	for _, f := range fs.feeds {
		if f.id == id {
			etag = fmt.Sprintf(`"%s-v%d"`, f.id, f.version)
			body = f.render()
		}
	}
	fs.mu.Unlock()
	if body == "" {
		http.NotFound(w, r)
		return
	}
	if d := time.Duration(fs.delay.Load()); d > 0 {
		time.Sleep(d)
	}
	// Record the serve before the fetcher can act on it.
	fs.mu.Lock()
	for _, f := range fs.feeds {
		if f.id == id && etag == fmt.Sprintf(`"%s-v%d"`, f.id, f.version) {
			fs.served[id] = time.Now()
		}
	}
	fs.mu.Unlock()
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("ETag", etag)
	w.Header().Set("Content-Type", "application/rss+xml")
	fmt.Fprint(w, body)
}

// polledAll reports whether the fetcher has finished a poll of every
// feed's current version: its state in KV was saved after that version
// was served, and saving the state is the last step of a poll.
func (fs *feedServer) polledAll(state jetstream.KeyValue) bool {
	fs.mu.Lock()
	served := make(map[string]time.Time, len(fs.served))
	for k, v := range fs.served {
		served[k] = v
	}
	ids := make([]string, 0, len(fs.feeds))
	for _, f := range fs.feeds {
		ids = append(ids, f.id)
	}
	fs.mu.Unlock()
	for _, id := range ids {
		at, ok := served[id]
		if !ok {
			return false
		}
		e, err := state.Get(context.Background(), id)
		if err != nil || e.Created().Before(at) {
			return false
		}
	}
	return true
}

// render is the feed's RSS. Even items are about Karabakh (relevant), odd
// ones are not, so both enriched subjects carry traffic.
func (f *feed) render() string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><rss version="2.0"><channel><title>` + f.id + `</title><link>https://faults.example/</link><description>fault suite</description>`)
	for i := range f.items {
		link := fmt.Sprintf("https://faults.example/%s/%d", f.id, i)
		if f.poison[i] {
			fmt.Fprintf(&b, `<item><link>%s</link></item>`, link)
			continue
		}
		rev := max(1, f.rev[i])
		title := fmt.Sprintf("Deminers clear mines near Fuzuli, report %s-%d", f.id, i)
		desc := fmt.Sprintf("Azerbaijani deminers cleared anti-tank mines near Fuzuli in Karabakh, item %d of %s, revision %d.", i, f.id, rev)
		if i%2 == 1 {
			title = fmt.Sprintf("Harvest festival draws crowds, report %s-%d", f.id, i)
			desc = fmt.Sprintf("Farmers sold apples and honey at the weekend market, item %d of %s, revision %d.", i, f.id, rev)
		}
		category := "news"
		if f.huge[i] {
			category = strings.Repeat("x", 40000)
		}
		fmt.Fprintf(&b, `<item><title>%s</title><link>%s?utm_source=rss</link><guid>%s</guid><pubDate>Mon, 02 Nov 2026 10:%02d:00 GMT</pubDate><category>%s</category><description>%s</description></item>`,
			title, link, link, i%60, category, desc)
	}
	b.WriteString(`</channel></rss>`)
	return b.String()
}

// revise gives every k-th item of every feed a new revision.
func (fs *feedServer) revise(k int) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, f := range fs.feeds {
		for i := 0; i < f.items; i += k {
			f.rev[i] = max(1, f.rev[i]) + 1
		}
		f.version++
		delete(fs.served, f.id)
	}
}

// poisonItems turns item i of the first n feeds into a poison article.
func (fs *feedServer) poisonItems(n, i int) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, f := range fs.feeds[:n] {
		f.poison[i] = true
		f.version++
		delete(fs.served, f.id)
	}
}

// hugeItems gives item i of the first n feeds a category longer than
// Elasticsearch's keyword term limit (32,766 bytes).
func (fs *feedServer) hugeItems(n, i int) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, f := range fs.feeds[:n] {
		f.huge[i] = true
		f.version++
		delete(fs.served, f.id)
	}
}

// ids returns the article ids of item i of the first n feeds.
func (fs *feedServer) ids(t *testing.T, n, i int) []string {
	t.Helper()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	var out []string
	for _, f := range fs.feeds[:n] {
		arts, err := ingest.Parse(ingest.Feed{ID: f.id, URL: fs.url(f)}, []byte(f.render()), "application/rss+xml", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, arts[i].ID)
	}
	return out
}

// expected parses what is served now the way the fetcher does and returns
// article id → revision of the good articles, and the poison ids.
func (fs *feedServer) expected(t *testing.T) (good map[string]string, poison map[string]bool) {
	t.Helper()
	fs.mu.Lock()
	defer fs.mu.Unlock()
	good, poison = map[string]string{}, map[string]bool{}
	for _, f := range fs.feeds {
		arts, err := ingest.Parse(ingest.Feed{ID: f.id, URL: fs.url(f)}, []byte(f.render()), "application/rss+xml", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if len(arts) != f.items {
			t.Fatalf("%s parses into %d articles, want %d", f.id, len(arts), f.items)
		}
		for i, a := range arts {
			if f.poison[i] {
				poison[a.ID] = true
			} else {
				good[a.ID] = a.Revision
			}
		}
	}
	return good, poison
}

func (fs *feedServer) registry() string {
	var b strings.Builder
	b.WriteString("feeds:\n")
	for _, f := range fs.feeds {
		fmt.Fprintf(&b, "  - {id: %s, name: %s, url: %s, min_interval: 1h, max_interval: 2h}\n", f.id, f.id, fs.url(f))
	}
	return b.String()
}

// ---------------------------------------------------------------- the system

// system is one scenario's running pipeline: a NATS server process, the
// three services as processes, a feed server, and the index.
type system struct {
	t        *testing.T
	dir      string
	natsPort int
	nats     *proc
	feeds    *feedServer
	cfg      string
	es       string // Elasticsearch URL the indexer uses ("" = bleve)
	esDirect string // the engine itself, for checks (es may be a proxy)
	alias    string
	procs    map[string][]*proc // every process a service ever ran as
	ports    map[string]int
	taps     *ackTap
	started  time.Time
}

type options struct {
	feeds, perFeed int
	es             string // indexer's Elasticsearch URL; "" = bleve
	esDirect       string
	enrichedDup    time.Duration // NEWS_ENRICHED duplicate window; 0 = default
	ackWait        time.Duration // both consumers; default 5 s
	indexerBatch   int
	enricherBatch  int
	grace          time.Duration
}

func newSystem(t *testing.T, o options) *system {
	t.Helper()
	needFaults(t)
	if o.ackWait == 0 {
		o.ackWait = 5 * time.Second
	}
	if o.indexerBatch == 0 {
		o.indexerBatch = 500
	}
	if o.enricherBatch == 0 {
		o.enricherBatch = 64
	}
	if o.grace == 0 {
		o.grace = 20 * time.Second
	}
	s := &system{t: t, dir: t.TempDir(), natsPort: freePort(t), feeds: newFeedServer(t, o.feeds, o.perFeed),
		es: o.es, esDirect: o.esDirect, procs: map[string][]*proc{}, ports: map[string]int{}, started: time.Now()}
	if s.esDirect == "" {
		s.esDirect = s.es
	}
	for _, n := range []string{"fetcher", "enricher", "indexer", "fetcher2", "enricher2"} {
		s.ports[n] = freePort(t)
	}
	feedsPath := filepath.Join(s.dir, "feeds.yaml")
	if err := os.WriteFile(feedsPath, []byte(s.feeds.registry()), 0o644); err != nil {
		t.Fatal(err)
	}
	streams := ""
	if o.enrichedDup > 0 {
		streams = fmt.Sprintf("streams:\n  enriched: {duplicate_window: %s}\n", o.enrichedDup)
	}
	esURLs := "[]"
	if s.es != "" {
		esURLs = `["` + s.es + `"]`
	}
	cfg := fmt.Sprintf(`nats:
  url: nats://127.0.0.1:%d
%sshutdown_grace: %s
fetcher:
  listen: ${WIREDESK_FETCHER_LISTEN:}
  feeds: %s
  allow_hosts: ["127.0.0.1"]
  timeout: 20s
enricher:
  listen: ${WIREDESK_ENRICHER_LISTEN:}
  consumer: {batch: %d, ack_wait: %s, max_deliver: 5, max_ack_pending: 1000}
indexer:
  listen: ${WIREDESK_INDEXER_LISTEN:}
  elasticsearch: {urls: %s}
  bleve: %s
  consumer: {batch: %d, batch_wait: 250ms, ack_wait: %s, max_deliver: 5, max_ack_pending: 5000}
`, s.natsPort, streams, o.grace, feedsPath, o.enricherBatch, o.ackWait, esURLs, filepath.Join(s.dir, "index"), o.indexerBatch, o.ackWait)
	s.cfg = filepath.Join(s.dir, "wiredesk.yaml")
	if err := os.WriteFile(s.cfg, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if s.es != "" {
		// The store's alias is not a config setting: the suite owns the
		// default one (other tests use their own) and empties it before
		// and after each scenario.
		s.alias = "wiredesk-articles"
		t.Cleanup(func() { s.esDelete("/wiredesk-articles-*") })
		s.esDelete("/wiredesk-articles-*")
		out, err := exec.Command(filepath.Join(bins, "wiredesk"), "setup", "-config", s.cfg).CombinedOutput()
		if err != nil {
			t.Fatalf("wiredesk setup: %v\n%s", err, out)
		}
	}
	s.startNATS()
	s.taps = newAckTap(t, s.natsURL())
	return s
}

func (s *system) natsURL() string { return "nats://127.0.0.1:" + strconv.Itoa(s.natsPort) }

func (s *system) startNATS() {
	conf := filepath.Join(s.dir, "nats.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "listen: 127.0.0.1:%d\nmax_payload: 8MB\njetstream {store_dir: %q}\n",
		s.natsPort, filepath.Join(s.dir, "nats")), 0o644); err != nil {
		s.t.Fatal(err)
	}
	s.nats = startProc(s.t, "nats-server", filepath.Join(s.dir, "nats.log"), nil, filepath.Join(bins, "nats-server"), "-c", conf)
	waitFor(s.t, 20*time.Second, "NATS to accept connections", func() bool {
		c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(s.natsPort), time.Second)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

// start runs a service (fetcher, enricher, indexer, or a second replica
// fetcher2, enricher2) as a process.
func (s *system) start(name string) *proc {
	s.t.Helper()
	bin := strings.TrimSuffix(name, "2")
	n := len(s.procs[name])
	env := []string{}
	for _, svc := range []string{"fetcher", "enricher", "indexer"} {
		env = append(env, fmt.Sprintf("WIREDESK_%s_LISTEN=127.0.0.1:%d", strings.ToUpper(svc), s.ports[svc]))
	}
	if name != bin {
		env = append(env, fmt.Sprintf("WIREDESK_%s_LISTEN=127.0.0.1:%d", strings.ToUpper(bin), s.ports[name]))
	}
	p := startProc(s.t, name, filepath.Join(s.dir, fmt.Sprintf("%s-%d.log", name, n)), env, filepath.Join(bins, bin), "-config", s.cfg)
	s.procs[name] = append(s.procs[name], p)
	return p
}

func (s *system) startAll() {
	for _, n := range []string{"indexer", "enricher", "fetcher"} {
		s.start(n)
	}
}

func (s *system) current(name string) *proc {
	ps := s.procs[name]
	if len(ps) == 0 {
		return nil
	}
	return ps[len(ps)-1]
}

// stopAll stops every running service with SIGTERM.
func (s *system) stopAll() {
	for _, n := range []string{"fetcher", "fetcher2", "enricher", "enricher2", "indexer"} {
		if p := s.current(n); p != nil && p.running() {
			if _, err := p.term(s.t, 60*time.Second); err != nil {
				s.t.Errorf("%s exited with %v after SIGTERM; log %s", n, err, p.log)
			}
		}
	}
}

// peakRSS is the highest VmHWM of any process of the service, in MiB.
func (s *system) peakRSS(name string) float64 {
	var kb int64
	for _, p := range s.procs[name] {
		kb = max(kb, p.hwm.Load())
	}
	return float64(kb) / 1024
}

// metric scrapes one unlabelled (or fully labelled) sample of a service.
func (s *system) metric(name, sample string) float64 {
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/metrics", s.ports[name]))
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return 0
}

// ready reports the HTTP status of a service's /readyz (0: no answer).
func (s *system) ready(name string) int {
	c := http.Client{Timeout: 2 * time.Second}
	resp, err := c.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", s.ports[name]))
	if err != nil {
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}

// js returns a fresh JetStream context for checks.
func (s *system) js() (*nats.Conn, jetstream.JetStream) {
	s.t.Helper()
	nc, err := nats.Connect(s.natsURL(), nats.Name("wiredesk-faults"), nats.Timeout(3*time.Second))
	if err != nil {
		s.t.Fatalf("connecting to NATS: %v", err)
	}
	js, err := jetstream.New(nc)
	if err != nil {
		s.t.Fatal(err)
	}
	return nc, js
}

func streamMsgs(js jetstream.JetStream, name string) uint64 {
	st, err := js.Stream(context.Background(), name)
	if err != nil {
		return 0
	}
	info, err := st.Info(context.Background())
	if err != nil {
		return 0
	}
	return info.State.Msgs
}

func drained(js jetstream.JetStream, stream, durable string) bool {
	c, err := js.Consumer(context.Background(), stream, durable)
	if err != nil {
		return false
	}
	info, err := c.Info(context.Background())
	return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.NumRedelivered == 0
}

// settle waits until the fetcher has polled every feed's current
// version, both consumers have nothing pending or unacknowledged, and
// NEWS_DLQ holds dlq messages. It returns how long that took.
func (s *system) settle(d time.Duration, dlq int) time.Duration {
	s.t.Helper()
	nc, js := s.js()
	defer nc.Close()
	var state jetstream.KeyValue
	return waitFor(s.t, d, fmt.Sprintf("the pipeline to settle (%d dead letters)", dlq), func() bool {
		if state == nil {
			var err error
			if state, err = js.KeyValue(context.Background(), fetcher.BucketState); err != nil {
				return false
			}
		}
		return s.feeds.polledAll(state) &&
			drained(js, bus.StreamRaw, "enricher") && drained(js, bus.StreamEnriched, "indexer") &&
			streamMsgs(js, bus.StreamDLQ) == uint64(dlq)
	})
}

// ---------------------------------------------------------------- acks

// ackTap counts the acknowledgements the services send, by reading the
// $JS.ACK subjects: an ack's subject carries the delivery count, so acks
// of redelivered messages are counted without touching the services.
type ackTap struct {
	nc *nats.Conn
	mu sync.Mutex
	// per consumer: final acks, acks of a redelivery, naks, terms
	acks, redelivered, naks, terms map[string]int
}

func newAckTap(t *testing.T, url string) *ackTap {
	a := &ackTap{acks: map[string]int{}, redelivered: map[string]int{}, naks: map[string]int{}, terms: map[string]int{}}
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(200*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	a.nc = nc
	// $JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>
	if _, err := nc.Subscribe("$JS.ACK.>", func(m *nats.Msg) {
		parts := strings.Split(m.Subject, ".")
		if len(parts) < 9 {
			return
		}
		consumer := parts[3]
		delivered, _ := strconv.Atoi(parts[4])
		body := string(m.Data)
		a.mu.Lock()
		defer a.mu.Unlock()
		switch {
		case body == "" || strings.HasPrefix(body, "+ACK"):
			a.acks[consumer]++
			if delivered > 1 {
				a.redelivered[consumer]++
			}
		case strings.HasPrefix(body, "-NAK"):
			a.naks[consumer]++
		case strings.HasPrefix(body, "+TERM"):
			a.terms[consumer]++
		}
	}); err != nil {
		t.Fatal(err)
	}
	_ = nc.Flush()
	return a
}

func (a *ackTap) snapshot() (acks, redelivered, naks, terms map[string]int) {
	_ = a.nc.Flush()
	a.mu.Lock()
	defer a.mu.Unlock()
	cp := func(m map[string]int) map[string]int {
		o := map[string]int{}
		for k, v := range m {
			o[k] = v
		}
		return o
	}
	return cp(a.acks), cp(a.redelivered), cp(a.naks), cp(a.terms)
}

// ---------------------------------------------------------------- end state

// outcome is what verify measured; the scenario table is made of these.
type outcome struct {
	Scenario      string  `json:"scenario"`
	Articles      int     `json:"articles"`       // distinct good article ids served
	Raw           int     `json:"raw"`            // messages in NEWS_RAW
	RawDupes      int     `json:"raw_dupes"`      // id:revision published twice
	Enriched      int     `json:"enriched"`       // messages in NEWS_ENRICHED
	EnrichedDupes int     `json:"enriched_dupes"` // one raw message enriched twice
	Indexed       int     `json:"indexed"`
	DLQ           int     `json:"dlq"`
	Redelivered   string  `json:"redelivered"` // acks of redelivered messages, enricher/indexer
	Recovery      string  `json:"recovery"`
	RSSFetcher    float64 `json:"rss_fetcher_mib"`
	RSSEnricher   float64 `json:"rss_enricher_mib"`
	RSSIndexer    float64 `json:"rss_indexer_mib"`
	RSSNATS       float64 `json:"rss_nats_mib"`
	Notes         string  `json:"notes,omitempty"`
}

// verify stops the services and checks the end state: the set of good
// article ids the fetcher published equals the set of documents in the
// index, each document holds the newest revision, both consumers have
// nothing pending, and the DLQ holds exactly the expected articles, each
// with a reason. It returns the measured outcome.
func (s *system) verify(name string, wantDLQ map[string]string) *outcome {
	t := s.t
	t.Helper()
	s.stopAll()
	good, _ := s.feeds.expected(t)
	o := &outcome{Scenario: name, Articles: len(good)}
	nc, js := s.js()
	defer nc.Close()

	// What the fetcher published: newest revision per id, by fetch time.
	type rev struct {
		rev string
		at  time.Time
	}
	// Documents hold the revision (Elasticsearch) or the version, the
	// revision's fetch time in µs (bleve stores no revision).
	published := map[string]rev{}
	seenMsg := map[string]int{}
	readStream(t, js, bus.StreamRaw, func(m jetstream.Msg) {
		o.Raw++
		var a article.Raw
		if err := json.Unmarshal(m.Data(), &a); err != nil {
			t.Errorf("NEWS_RAW holds a message that is not an article: %v", err)
			return
		}
		// A replay by `wiredesk dlq replay` is a deliberate copy.
		if !strings.HasPrefix(m.Headers().Get(jetstream.MsgIDHeader), "wiredesk-dlq-replay:") {
			seenMsg[a.MsgID()]++
		}
		if p, ok := published[a.ID]; !ok || !a.FetchedAt.Before(p.at) {
			published[a.ID] = rev{a.Revision, a.FetchedAt}
		}
	})
	for id, n := range seenMsg {
		if n > 1 {
			o.RawDupes += n - 1
			if o.RawDupes <= 3 {
				t.Errorf("NEWS_RAW holds %s %d times", id, n)
			}
		}
	}
	// Every served article was published, at its served revision.
	for id, r := range good {
		if p, ok := published[id]; !ok {
			t.Errorf("article %s was served but never published", id)
		} else if p.rev != r {
			t.Errorf("article %s: newest published revision %s, feed serves %s", id, p.rev, r)
		}
	}
	enriched := map[string]int{}
	readStream(t, js, bus.StreamEnriched, func(m jetstream.Msg) {
		o.Enriched++
		enriched[m.Headers().Get("ce-id")]++
	})
	for _, n := range enriched {
		o.EnrichedDupes += n - 1
	}

	for _, c := range [][2]string{{bus.StreamRaw, "enricher"}, {bus.StreamEnriched, "indexer"}} {
		if !drained(js, c[0], c[1]) {
			cons, _ := js.Consumer(context.Background(), c[0], c[1])
			var info *jetstream.ConsumerInfo
			if cons != nil {
				info, _ = cons.Info(context.Background())
			}
			t.Errorf("consumer %s has work left: %+v", c[1], info)
		}
	}

	// The dead letters, through the command operators use.
	letters := s.dlqList()
	o.DLQ = len(letters)
	got := map[string]string{}
	for _, l := range letters {
		id, _, _ := strings.Cut(l.EventID, ":")
		got[id] = l.Stage
		if l.Reason == "" {
			t.Errorf("dead letter %d (%s) has no reason", l.Seq, id)
		}
	}
	if len(letters) != len(wantDLQ) {
		t.Errorf("DLQ holds %d dead letters, want %d: %+v", len(letters), len(wantDLQ), letters)
	}
	for id, stage := range wantDLQ {
		if got[id] != stage {
			t.Errorf("article %s: dead-lettered by %q, want %q", id, got[id], stage)
		}
	}

	// The index: exactly the published good ids, each at its newest revision.
	docs := s.indexDocs()
	o.Indexed = len(docs)
	want := map[string]docState{}
	for id, p := range published {
		if _, dead := wantDLQ[id]; !dead {
			want[id] = docState{p.rev, p.at.UnixMicro()}
		}
	}
	missing, extra, stale := 0, 0, 0
	for id, r := range want {
		d, ok := docs[id]
		switch {
		case !ok:
			missing++
			if missing <= 3 {
				t.Errorf("article %s was published but is not in the index", id)
			}
		case (d.rev != "" && d.rev != r.rev) || (d.rev == "" && d.version != r.version):
			stale++
			if stale <= 3 {
				t.Errorf("article %s: index holds %+v, newest is %+v", id, d, r)
			}
		}
	}
	for id := range docs {
		if _, ok := want[id]; !ok {
			extra++
			if extra <= 3 {
				t.Errorf("index holds %s, which was not published (or was dead-lettered)", id)
			}
		}
	}
	if missing+extra+stale > 0 {
		t.Errorf("index: %d documents, %d missing, %d extra, %d stale (want %d)", len(docs), missing, extra, stale, len(want))
	}
	_, red, _, _ := s.taps.snapshot()
	o.Redelivered = fmt.Sprintf("%d/%d", red["enricher"], red["indexer"])
	o.RSSFetcher, o.RSSEnricher, o.RSSIndexer = max(s.peakRSS("fetcher"), s.peakRSS("fetcher2")), max(s.peakRSS("enricher"), s.peakRSS("enricher2")), s.peakRSS("indexer")
	o.RSSNATS = s.peakNATS()
	return o
}

func (s *system) peakNATS() float64 {
	s.nats.sampleHWM()
	return float64(s.nats.hwm.Load()) / 1024
}

// readStream calls f for every message of a stream, in order.
func readStream(t *testing.T, js jetstream.JetStream, stream string, f func(jetstream.Msg)) {
	t.Helper()
	ctx := context.Background()
	cons, err := js.OrderedConsumer(ctx, stream, jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	left := info.NumPending
	for left > 0 {
		batch, err := cons.Fetch(int(min(left, 2000)), jetstream.FetchMaxWait(5*time.Second))
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for m := range batch.Messages() {
			n++
			meta, _ := m.Metadata()
			left = meta.NumPending
			f(m)
		}
		if n == 0 {
			t.Fatalf("reading %s: stalled with %d left", stream, left)
		}
	}
}

type deadLetter struct {
	Seq        uint64 `json:"seq"`
	Stage      string `json:"stage"`
	Reason     string `json:"reason"`
	Subject    string `json:"subject"`
	Deliveries int    `json:"deliveries"`
	EventID    string `json:"event_id"`
}

func (s *system) wiredesk(args ...string) (string, error) {
	var out, errb bytes.Buffer
	cmd := exec.Command(filepath.Join(bins, "wiredesk"), args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("wiredesk %s: %w: %s", strings.Join(args, " "), err, errb.String())
	}
	return out.String(), nil
}

func (s *system) dlqList() []deadLetter {
	s.t.Helper()
	out, err := s.wiredesk("dlq", "list", "-json", "-nats", s.natsURL())
	if err != nil {
		s.t.Fatal(err)
	}
	var ls []deadLetter
	for line := range strings.SplitSeq(strings.TrimSpace(out), "\n") {
		if line == "" {
			continue
		}
		var l deadLetter
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			s.t.Fatalf("dlq list printed %q: %v", line, err)
		}
		ls = append(ls, l)
	}
	return ls
}

// docState is what the end-state check reads of a document.
type docState struct {
	rev     string
	version int64
}

// indexDocs returns id → state of every document in the index. The
// indexer must be stopped (bleve allows one writer).
func (s *system) indexDocs() map[string]docState {
	s.t.Helper()
	if s.esDirect != "" {
		return s.esDocs()
	}
	idx, err := bleve.Open(filepath.Join(s.dir, "index"))
	if err != nil {
		s.t.Fatalf("opening the embedded index: %v", err)
	}
	defer idx.Close()
	n, err := idx.DocCount()
	if err != nil {
		s.t.Fatal(err)
	}
	docs := map[string]docState{}
	const page = 5000
	for from := 0; from < int(n); from += page {
		req := bleve.NewSearchRequestOptions(bleve.NewMatchAllQuery(), page, from, false)
		req.Fields = []string{"version"}
		req.SortBy([]string{"_id"})
		res, err := idx.Search(req)
		if err != nil {
			s.t.Fatal(err)
		}
		for _, h := range res.Hits {
			v, _ := h.Fields["version"].(float64)
			docs[h.ID] = docState{version: int64(v)}
		}
	}
	if len(docs) != int(n) {
		s.t.Errorf("the embedded index counts %d documents but lists %d", n, len(docs))
	}
	return docs
}

// esDocs reads every document behind the alias with a scroll.
func (s *system) esDocs() map[string]docState {
	t := s.t
	t.Helper()
	s.esCall("POST", "/"+s.alias+"/_refresh", nil, nil)
	docs := map[string]docState{}
	var res struct {
		ScrollID string `json:"_scroll_id"`
		Hits     struct {
			Hits []struct {
				ID     string `json:"_id"`
				Source struct {
					Revision string `json:"revision"`
				} `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	s.esCall("POST", "/"+s.alias+"/_search?scroll=1m", map[string]any{"size": 5000, "_source": []string{"revision"}, "query": map[string]any{"match_all": map[string]any{}}}, &res)
	for len(res.Hits.Hits) > 0 {
		for _, h := range res.Hits.Hits {
			if _, dup := docs[h.ID]; dup {
				t.Errorf("article %s is indexed twice (in two monthly indices)", h.ID)
			}
			docs[h.ID] = docState{rev: h.Source.Revision}
		}
		id := res.ScrollID
		res.Hits.Hits = nil
		s.esCall("POST", "/_search/scroll", map[string]any{"scroll": "1m", "scroll_id": id}, &res)
	}
	return docs
}

func (s *system) esCall(method, path string, body, out any) {
	s.t.Helper()
	var rd *bytes.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	} else {
		rd = bytes.NewReader(nil)
	}
	req, _ := http.NewRequest(method, s.esDirect+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var b bytes.Buffer
		_, _ = b.ReadFrom(resp.Body)
		s.t.Fatalf("%s %s: %s: %s", method, path, resp.Status, b.String())
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			s.t.Fatalf("%s %s: %v", method, path, err)
		}
	}
}

func (s *system) esDelete(path string) {
	req, _ := http.NewRequest(http.MethodDelete, s.esDirect+path, nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
}

// ---------------------------------------------------------------- report

var (
	reportMu sync.Mutex
	report   []*outcome
)

// record logs the outcome and appends it to $WIREDESK_FAULTS_REPORT
// (JSON lines) when set.
func record(t *testing.T, o *outcome) {
	t.Helper()
	data, _ := json.Marshal(o)
	t.Logf("outcome: %s", data)
	reportMu.Lock()
	defer reportMu.Unlock()
	report = append(report, o)
	if p := os.Getenv("WIREDESK_FAULTS_REPORT"); p != "" {
		f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err == nil {
			fmt.Fprintf(f, "%s\n", data)
			f.Close()
		}
	}
}
