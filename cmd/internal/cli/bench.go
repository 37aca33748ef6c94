package cli

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/wiredesk/wiredesk/cmd/internal/bench"
)

const benchHelp = `wiredesk bench: measure what this machine sustains. First one raw JetStream
hop (async publish, pull consume, ack of 4 KB messages); then N synthetic
articles made from the demo corpus, served as many loopback feeds, through
fetcher → enricher → indexer, each in a process of its own around a NATS
server process; then a paced run for publish-to-searchable latency. Prints
articles/s end to end and per stage, latency p50/p95/p99, each process's
peak RSS and CPU time, and the ratio to the raw hop.`

// benchCmd is `wiredesk bench`. With -role it is one of the bench's own
// child processes instead (the NATS server or one service).
func benchCmd(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bench", stderr, benchHelp)
	var c common
	c.register(fs, 0)
	n := fs.Int("n", 20000, "articles in the throughput (and staged) phase; 0 skips it")
	feeds := fs.Int("feeds", 50, "feeds the articles are spread over")
	rawN := fs.Int("raw.n", 50000, "messages in the raw JetStream measurement")
	rawSize := fs.Int("raw.size", 4096, "message size of the raw measurement, bytes")
	rawPending := fs.Int("raw.pending", 256, "async publishes in flight in the raw measurement (the fetcher's max_in_flight default)")
	rate := fs.Float64("rate", 200, "paced phase: articles released per second; 0 skips it")
	duration := fs.Duration("duration", 20*time.Second, "paced phase: how long articles are released")
	staged := fs.Bool("staged", false, "also run each stage alone over the backlog of the one before, for per-stage capacity")
	profile := fs.String("profile", "", "directory for CPU and allocation profiles of each service in the throughput phase")
	results := fs.String("write-results", "", "write the results table as Markdown to this file (cmd/internal/bench/RESULTS.md)")
	jsonOut := fs.String("json", "", "write the results as JSON to this file")
	timeout := fs.Duration("timeout", 10*time.Minute, "give up on a phase after this long")
	syncAlways := fs.Bool("nats.sync", false, "make the NATS server fsync every write (sync_interval: always)")
	seed := fs.Uint64("seed", 1, "seed of the synthetic corpus")
	// The bench's child processes.
	var co bench.ChildOptions
	fs.StringVar(&co.Role, "role", "", "internal: run as the bench's nats, fetcher, enricher or indexer process")
	fs.StringVar(&co.NATSURL, "child.nats", "", "internal: NATS URL of a child")
	fs.StringVar(&co.Listen, "child.listen", "", "internal: metrics address of a child")
	fs.StringVar(&co.FeedsBase, "child.feeds-base", "", "internal: base URL of the bench feeds")
	fs.DurationVar(&co.Poll, "child.poll", time.Hour, "internal: feed poll interval")
	fs.StringVar(&co.CPUProfile, "child.cpuprofile", "", "internal: CPU profile of a child")
	fs.StringVar(&co.MemProfile, "child.memprofile", "", "internal: allocation profile of a child")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	if co.Role != "" {
		co.NATSPort, co.SyncAlways, co.ConfigPath, co.Data, co.LogLevel, co.Feeds = c.natsPort, *syncAlways, c.configPath, c.dataDir, c.logLevel, *feeds
		return bench.RunChild(ctx, co)
	}
	if *feeds < 1 || *n < 0 || *rawN < 1 || *rate < 0 {
		return fmt.Errorf("%w: -feeds and -raw.n must be positive, -n and -rate not negative", errUsage)
	}
	bin, err := os.Executable()
	if err != nil {
		return fmt.Errorf("finding the wiredesk binary: %w", err)
	}
	data := c.dataDir
	if data == "wiredesk-data" { // the flag's default: never bench into the demo's data
		if data, err = os.MkdirTemp("", "wiredesk-bench-"); err != nil {
			return err
		}
		defer os.RemoveAll(data)
	}
	if *profile != "" {
		if *profile, err = filepath.Abs(*profile); err != nil {
			return err
		}
		if err := os.MkdirAll(*profile, 0o755); err != nil {
			return err
		}
	}
	r, err := bench.Run(ctx, bench.Options{
		Binary: bin, Articles: *n, Feeds: *feeds, RawN: *rawN, RawSize: *rawSize, RawPending: *rawPending,
		Rate: *rate, Duration: *duration, Staged: *staged, ConfigPath: c.configPath, Data: data,
		ProfileDir: *profile, SyncAlways: *syncAlways, LogLevel: c.logLevel, Timeout: *timeout, Seed: *seed, Out: stderr,
	})
	if err != nil {
		return err
	}
	bench.Print(stdout, r)
	if *results != "" {
		if err := bench.WriteMarkdown(*results, r); err != nil {
			return fmt.Errorf("writing %s: %w", *results, err)
		}
	}
	if *jsonOut != "" {
		if err := bench.WriteJSON(*jsonOut, r); err != nil {
			return fmt.Errorf("writing %s: %w", *jsonOut, err)
		}
	}
	return nil
}
