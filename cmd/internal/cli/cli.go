// Package cli is the wiredesk command: the all-in-one pipeline (run), the
// offline demo (demo) and search, plus the tools around them.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"github.com/wiredesk/wiredesk/cmd/internal/app"
	"github.com/wiredesk/wiredesk/cmd/internal/config"
	"github.com/wiredesk/wiredesk/cmd/internal/service"
)

const usage = `wiredesk — Caucasus conflict news ingestion.

Usage:
  wiredesk demo   [flags]         fetch the built-in demo feeds from loopback, enrich and index them, then stop
  wiredesk run    [flags]         run fetcher, enricher and indexer in one process with an embedded NATS server
  wiredesk search [flags] WORDS   search the index (embedded, or Elasticsearch when configured)
  wiredesk feeds check|import-opml|status   check one feed, import an OPML list, show the feeds' poll state
  wiredesk setup -config FILE     install the Elasticsearch index template, ILM policy and first index
  wiredesk enrich < in.jsonl      tag raw articles read as JSON lines, one enriched line out per line in
  wiredesk eval FILE.jsonl        precision, recall and F1 of the rules on a labelled set
  wiredesk reprocess [-from DATE] run stored raw articles through the current rules (after a rules change)
  wiredesk dlq list|replay        inspect dead letters in NEWS_DLQ, or re-publish them after a fix
  wiredesk bench  [flags]         measure throughput, latency, RSS and CPU of the pipeline on this machine

Run 'wiredesk COMMAND -h' for a command's flags.
`

// Main runs the command line args (without the program name) and returns
// the exit code: 0 success, 1 runtime failure, 2 usage or configuration.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	var err error
	switch args[0] {
	case "demo":
		err = demo(ctx, args[1:], stdout, stderr)
	case "run":
		err = runAll(ctx, args[1:], stderr)
	case "feeds":
		err = feeds(ctx, args[1:], stdout, stderr)
	case "search":
		err = search(ctx, args[1:], stdout, stderr)
	case "setup":
		err = setup(ctx, args[1:], stdout, stderr)
	case "enrich":
		err = enrichFilter(ctx, args[1:], stdin, stdout, stderr)
	case "eval":
		err = eval(ctx, args[1:], stdout, stderr)
	case "reprocess":
		err = reprocess(ctx, args[1:], stdout, stderr)
	case "bench":
		err = benchCmd(ctx, args[1:], stdout, stderr)
	case "dlq":
		err = dlq(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "wiredesk: unknown command %q\n\n%s", args[0], usage)
		return 2
	}
	return exitCode(err, stderr)
}

func exitCode(err error, stderr io.Writer) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, app.ErrConfig), errors.Is(err, errUsage):
		fmt.Fprintln(stderr, "wiredesk:", err)
		return 2
	default:
		fmt.Fprintln(stderr, "wiredesk:", err)
		return 1
	}
}

var errUsage = errors.New("usage")

// common are the flags every pipeline command shares.
type common struct {
	configPath string
	dataDir    string
	logLevel   string
	natsPort   int
}

func (c *common) register(fs *flag.FlagSet, natsPort int) {
	fs.StringVar(&c.configPath, "config", "", "configuration file (default: built-in defaults)")
	fs.StringVar(&c.dataDir, "data", "wiredesk-data", "directory for the embedded NATS server's streams and the embedded index")
	fs.StringVar(&c.logLevel, "log.level", "warn", "log level: debug, info, warn, error")
	fs.IntVar(&c.natsPort, "nats.port", natsPort, "port of the embedded NATS server on 127.0.0.1 (0: any free port)")
}

// load reads the configuration and points the embedded index into the
// data directory unless the file says otherwise.
func (c *common) load() (config.Config, error) {
	cfg := config.Default()
	if c.configPath != "" {
		var err error
		if cfg, err = config.Load(c.configPath); err != nil {
			return cfg, fmt.Errorf("%w: %w", app.ErrConfig, err)
		}
	}
	if cfg.Indexer.Bleve == config.Default().Indexer.Bleve {
		cfg.Indexer.Bleve = filepath.Join(c.dataDir, "index")
	}
	return cfg, nil
}

func (c *common) logger(stderr io.Writer) *slog.Logger {
	if stderr == os.Stderr {
		return service.NewLogger(c.logLevel)
	}
	var l slog.Level
	_ = l.UnmarshalText([]byte(c.logLevel))
	return slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: l}))
}

func newFlagSet(name string, stderr io.Writer, help string) *flag.FlagSet {
	fs := flag.NewFlagSet("wiredesk "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "%s\n\nFlags:\n", help)
		fs.PrintDefaults()
	}
	return fs
}

// parseInterleaved parses flags that may come after positional arguments
// ("wiredesk search Lachin -topic landmines") and returns the positionals.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}
