package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wiredesk/wiredesk/cmd/internal/app"
	"github.com/wiredesk/wiredesk/cmd/internal/bus"
	"github.com/wiredesk/wiredesk/cmd/internal/enricher"
	"github.com/wiredesk/wiredesk/cmd/internal/fetcher"
	"github.com/wiredesk/wiredesk/cmd/internal/indexer"
	"github.com/wiredesk/wiredesk/configs"
	"github.com/wiredesk/wiredesk/index"
	"github.com/wiredesk/wiredesk/ingest"
)

// demoFeeds lists the built-in demo feeds as served from baseURL.
func demoFeeds(baseURL string) ([]ingest.Feed, error) {
	files, err := configs.DemoFeeds()
	if err != nil {
		return nil, fmt.Errorf("reading demo feeds: %w", err)
	}
	var feeds []ingest.Feed
	for _, f := range files {
		feeds = append(feeds, ingest.Feed{
			ID: f.ID, Name: f.ID, URL: baseURL + "/" + f.Name,
			MinInterval: time.Minute, MaxInterval: time.Hour,
		})
	}
	return feeds, nil
}

// serveDemoFeeds serves the demo feeds on a loopback port until ctx is done.
func serveDemoFeeds(ctx context.Context) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("listening for the demo feed server: %w", err)
	}
	srv := &http.Server{Handler: http.FileServerFS(configs.DemoFeedsFS()), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	context.AfterFunc(ctx, func() { _ = srv.Close() })
	return "http://" + ln.Addr().String(), nil
}

func demo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("demo", stderr, "wiredesk demo: serve the built-in feeds on loopback, run the whole pipeline over them, stop when every article is indexed.")
	var c common
	c.register(fs, 0)
	timeout := fs.Duration("timeout", 3*time.Minute, "give up if the pipeline has not settled by then")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	log := c.logger(stderr)
	ctx, cancel := context.WithTimeoutCause(ctx, *timeout, errors.New("demo did not settle in time"))
	defer cancel()

	feedCtx, stopFeeds := context.WithCancel(context.Background())
	defer stopFeeds()
	base, err := serveDemoFeeds(feedCtx)
	if err != nil {
		return err
	}
	feeds, err := demoFeeds(base)
	if err != nil {
		return err
	}
	ns, err := startNATS(c)
	if err != nil {
		return err
	}
	defer shutdownNATS(ns)
	cfg.NATS.URL = ns.ClientURL()
	cfg.Fetcher.AllowHosts = append(cfg.Fetcher.AllowHosts, "127.0.0.1")
	cfg.Fetcher.Listen, cfg.Enricher.Listen, cfg.Indexer.Listen = "", "", ""

	store, err := app.OpenStore(ctx, cfg.Indexer, log)
	if err != nil {
		return err
	}
	defer store.Close()

	fmt.Fprintf(stdout, "wiredesk demo: %d feeds served on %s, embedded NATS on %s, index in %s\n", len(feeds), base, ns.ClientURL(), cfg.Indexer.Bleve)
	var polled, found, published atomic.Int64
	var mu sync.Mutex
	seen := map[string]bool{}
	onPoll := func(r fetcher.PollResult) {
		mu.Lock()
		first := !seen[r.Feed]
		seen[r.Feed] = true
		mu.Unlock()
		if !first {
			return
		}
		polled.Add(1)
		found.Add(int64(r.Found))
		published.Add(int64(r.Published))
		switch {
		case r.Err != nil:
			fmt.Fprintf(stdout, "  fetched %-28s error: %v\n", r.Feed, r.Err)
		case r.NotModified:
			fmt.Fprintf(stdout, "  fetched %-28s not modified since the last run\n", r.Feed)
		default:
			fmt.Fprintf(stdout, "  fetched %-28s %2d items, %2d new\n", r.Feed, r.Found, r.Published)
		}
	}

	runCtx, stopRun := context.WithCancel(ctx)
	defer stopRun()
	p := &app.Process{Config: cfg, Logger: log, Services: []string{"fetcher", "enricher", "indexer"}, Feeds: feeds, Store: store, OnPoll: onPoll, PollOnStart: true}
	errc := make(chan error, 1)
	go func() { errc <- p.Run(runCtx) }()

	nc, err := nats.Connect(cfg.NATS.URL)
	if err != nil {
		return err
	}
	defer nc.Close()
	js, _ := jetstream.New(nc)
	settled := false
	tick := time.NewTicker(500 * time.Millisecond)
	defer tick.Stop()
	lastLine := ""
	for !settled {
		select {
		case err := <-errc:
			if err == nil {
				err = context.Cause(ctx)
			}
			return fmt.Errorf("pipeline stopped early: %w", err)
		case <-ctx.Done():
			stopRun()
			<-errc
			return context.Cause(ctx)
		case <-tick.C:
		}
		if polled.Load() < int64(len(feeds)) {
			continue
		}
		enr, enrDone := consumerProgress(ctx, js, bus.StreamRaw, enricher.Stage)
		idx, idxDone := consumerProgress(ctx, js, bus.StreamEnriched, indexer.Stage)
		n, _ := store.Count(ctx)
		line := fmt.Sprintf("  enriched %d, indexed %d — %d documents in the index", enr, idx, n)
		if line != lastLine {
			fmt.Fprintln(stdout, line)
			lastLine = line
		}
		settled = enrDone && idxDone
	}
	stopRun()
	if err := <-errc; err != nil {
		return err
	}
	n, err := store.Count(ctx)
	if err != nil {
		return err
	}
	relevant, _ := store.Search(ctx, index.Query{RelevantOnly: true, Size: 1})
	fmt.Fprintf(stdout, "\nDone: %d feeds, %d items, %d published this run; %d articles in the index, %d about a Caucasus conflict.\n",
		polled.Load(), found.Load(), published.Load(), n, relevant.Total)
	fmt.Fprintf(stdout, "\nSearch them:\n  go run ./cmd/wiredesk search Lachin\n  go run ./cmd/wiredesk search -topic landmines\n  go run ./cmd/wiredesk search -entity Khankendi -sort date\n")
	if c.dataDir != "wiredesk-data" {
		fmt.Fprintf(stdout, "(add -data %s to each search)\n", c.dataDir)
	}
	return nil
}

// consumerProgress returns how many messages a stage has acked and
// whether it has nothing left pending or unacknowledged.
func consumerProgress(ctx context.Context, js jetstream.JetStream, stream, durable string) (uint64, bool) {
	c, err := js.Consumer(ctx, stream, durable)
	if err != nil {
		return 0, false
	}
	info, err := c.Info(ctx)
	if err != nil {
		return 0, false
	}
	return info.AckFloor.Stream, info.NumPending == 0 && info.NumAckPending == 0 && info.NumRedelivered == 0
}
