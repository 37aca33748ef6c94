package cli

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wiredesk/wiredesk/cmd/internal/app"
	"github.com/wiredesk/wiredesk/cmd/internal/fetcher"
	"github.com/wiredesk/wiredesk/ingest"
	"github.com/wiredesk/wiredesk/ingest/article"
)

const feedsUsage = `wiredesk feeds COMMAND: tools for the feed registry.

  wiredesk feeds check [flags] URL|FILE     parse one feed; print its normalised items as JSON lines
  wiredesk feeds import-opml FILE           print a feeds.yaml fragment for the feeds of an OPML file
  wiredesk feeds status [-nats URL]         table of the feeds' poll state from NATS KV`

// feeds dispatches `wiredesk feeds SUBCOMMAND`.
func feeds(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprintln(stderr, feedsUsage)
		return fmt.Errorf("%w: feeds needs a command: check, import-opml or status", errUsage)
	}
	switch args[0] {
	case "check":
		return feedsCheck(ctx, args[1:], stdout, stderr)
	case "import-opml":
		return feedsImportOPML(args[1:], stdout, stderr)
	case "status":
		return feedsStatus(ctx, args[1:], stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprintln(stdout, feedsUsage)
		return nil
	}
	return fmt.Errorf("%w: unknown feeds command %q (want check, import-opml or status)", errUsage, args[0])
}

// feedsCheck parses one feed, from a file or fetched from a URL under the
// SSRF guard, and prints its articles as JSON lines. A feed that does not
// parse is one line on stderr and exit status 1.
func feedsCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("feeds check", stderr, "wiredesk feeds check [flags] URL|FILE: parse one feed and print its normalised items as JSON lines, or one line of error and exit status 1.")
	id := fs.String("id", "check", "feed id to put in the articles' source")
	feedURL := fs.String("url", "", "for a FILE: the URL the feed was served from, which resolves relative links (default: the file's file:// URL)")
	var allow listFlag
	fs.Var(&allow, "allow", "for a URL: hosts, IP addresses or CIDR prefixes the SSRF guard lets through (repeat or comma-separate)")
	timeout := fs.Duration("timeout", 60*time.Second, "for a URL: bound on the whole fetch")
	maxBytes := fs.Int64("max-bytes", ingest.DefaultMaxBodyBytes, "largest feed body read, after decompression")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: feeds check takes one URL or FILE", errUsage)
	}
	f := ingest.Feed{ID: *id, Name: *id, URL: pos[0]}
	var arts []article.Raw
	if isWebURL(pos[0]) {
		opts := ingest.Options{Allow: allow, Timeout: *timeout, MaxBodyBytes: *maxBytes}
		if err := ingest.ValidateOptions(opts); err != nil {
			return fmt.Errorf("%w: -allow: %w", errUsage, err)
		}
		c := ingest.NewClient(opts)
		defer c.CloseIdleConnections()
		res, err := c.Fetch(ctx, f, ingest.Validators{})
		if err != nil {
			return fmt.Errorf("checking feed: %w", err)
		}
		arts = res.Articles
	} else {
		body, err := readCapped(pos[0], *maxBytes)
		if err != nil {
			return fmt.Errorf("checking feed: %w", err)
		}
		f.URL = *feedURL
		if f.URL == "" {
			f.URL = fileURL(pos[0])
		}
		if arts, err = ingest.Parse(f, body, "", time.Now()); err != nil {
			return fmt.Errorf("checking feed %q: %w", pos[0], err)
		}
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	for i := range arts {
		if err := enc.Encode(&arts[i]); err != nil {
			return fmt.Errorf("writing article %s: %w", arts[i].ID, err)
		}
	}
	return nil
}

func isWebURL(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

func fileURL(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	return "file://" + filepath.ToSlash(path)
}

// readCapped reads a file of at most limit bytes.
func readCapped(path string, limit int64) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	b, err := io.ReadAll(io.LimitReader(fh, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %q: %w", path, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("reading %q: %w: more than %d bytes", path, ingest.ErrTooLarge, limit)
	}
	return b, nil
}

// opmlEntry is one feed of the registry fragment import-opml prints: the
// keys of configs/feeds.yaml, intervals left to the file's defaults.
type opmlEntry struct {
	ID      string   `yaml:"id"`
	URL     string   `yaml:"url"`
	Name    string   `yaml:"name"`
	Country string   `yaml:"country,omitempty"`
	Lang    string   `yaml:"lang,omitempty"`
	Tags    []string `yaml:"tags,omitempty"`
}

// feedsImportOPML prints a feeds.yaml fragment for the feeds of an OPML
// subscription list.
func feedsImportOPML(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("feeds import-opml", stderr, "wiredesk feeds import-opml FILE: print a configs/feeds.yaml fragment with one entry per feed of an OPML file.")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: feeds import-opml takes one FILE", errUsage)
	}
	fh, err := os.Open(pos[0])
	if err != nil {
		return fmt.Errorf("importing OPML: %w", err)
	}
	defer fh.Close()
	list, err := ingest.ParseOPML(fh)
	if err != nil {
		return fmt.Errorf("importing OPML %q: %w", pos[0], err)
	}
	entries := make([]opmlEntry, len(list))
	for i, f := range list {
		entries[i] = opmlEntry{ID: f.ID, URL: f.URL, Name: f.Name, Country: f.Country, Lang: f.Lang, Tags: f.Tags}
	}
	out, err := yaml.MarshalWithOptions(map[string][]opmlEntry{"feeds": entries}, yaml.IndentSequence(true))
	if err != nil {
		return fmt.Errorf("encoding feeds: %w", err)
	}
	fmt.Fprintf(stdout, "# %d feeds imported from %s. Review ids, lang and country; check each\n# with 'wiredesk feeds check URL' before adding them to configs/feeds.yaml.\n", len(entries), filepath.Base(pos[0]))
	_, err = stdout.Write(out)
	return err
}

// feedsStatus prints the poll state every fetcher replica shares, read
// from the KV bucket fetcher.BucketState.
func feedsStatus(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("feeds status", stderr, "wiredesk feeds status [-nats URL]: table of the feeds' last success, consecutive errors, error class and next poll, read from NATS KV.")
	natsURL := fs.String("nats", "nats://127.0.0.1:4222", "NATS server URL")
	timeout := fs.Duration("timeout", 10*time.Second, "bound on connecting and reading the state")
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return fmt.Errorf("%w: feeds status takes no arguments", errUsage)
	}
	ctx, cancel := context.WithTimeoutCause(ctx, *timeout, errors.New("feeds status: timed out"))
	defer cancel()
	nc, err := nats.Connect(*natsURL, nats.Name("wiredesk feeds status"), nats.Timeout(*timeout))
	if err != nil {
		return fmt.Errorf("connecting to NATS at %s: %w", *natsURL, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("%w: %w", app.ErrConfig, err)
	}
	kv, err := js.KeyValue(ctx, fetcher.BucketState)
	if errors.Is(err, jetstream.ErrBucketNotFound) {
		fmt.Fprintf(stdout, "No feed state yet: no fetcher has polled through %s.\n", *natsURL)
		return nil
	}
	if err != nil {
		return fmt.Errorf("opening KV bucket %s: %w", fetcher.BucketState, err)
	}
	lister, err := kv.ListKeys(ctx)
	if err != nil {
		return fmt.Errorf("listing KV bucket %s: %w", fetcher.BucketState, err)
	}
	type row struct {
		feed string
		st   fetcher.State
		bad  bool
	}
	var rows []row
	for key := range lister.Keys() {
		e, err := kv.Get(ctx, key)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			continue // deleted since it was listed
		}
		if err != nil {
			return fmt.Errorf("reading state of feed %s: %w", key, err)
		}
		r := row{feed: key}
		if err := json.Unmarshal(e.Value(), &r.st); err != nil {
			r.bad = true
		}
		rows = append(rows, r)
	}
	if err := context.Cause(ctx); err != nil {
		return fmt.Errorf("listing KV bucket %s: %w", fetcher.BucketState, err)
	}
	if len(rows) == 0 {
		fmt.Fprintln(stdout, "No feed state yet.")
		return nil
	}
	slices.SortFunc(rows, func(a, b row) int { return cmp.Compare(a.feed, b.feed) })
	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "FEED\tSTATUS\tLAST SUCCESS\tERRORS\tERROR CLASS\tNEXT POLL\tLAST ERROR")
	for _, r := range rows {
		if r.bad {
			fmt.Fprintf(tw, "%s\tunreadable\t-\t-\t-\t-\t-\n", r.feed)
			continue
		}
		status := "ok"
		switch {
		case r.st.Errors > 0:
			status = "failing"
		case r.st.LastSuccess.IsZero():
			status = "never polled"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\n", r.feed, status, when(r.st.LastSuccess, now, "never"),
			r.st.Errors, dash(r.st.ErrorClass), when(r.st.NextPoll, now, "-"), dash(clip(r.st.LastError, 80)))
	}
	return tw.Flush()
}

// when formats t in UTC with its distance from now ("5m ago", "in 2h").
func when(t, now time.Time, zero string) string {
	if t.IsZero() {
		return zero
	}
	d := now.Sub(t).Round(time.Second)
	rel := d.String() + " ago"
	if d < 0 {
		rel = "in " + (-d).String()
	}
	return t.UTC().Format("2006-01-02 15:04:05Z") + " (" + rel + ")"
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func clip(s string, n int) string {
	r := []rune(strings.Join(strings.Fields(s), " "))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n-1]) + "…"
}
