package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/wiredesk/wiredesk/cmd/internal/app"
	"github.com/wiredesk/wiredesk/index"
)

// listFlag collects a repeatable, comma-separated flag.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

// dateFlag accepts 2006-01-02 or RFC 3339.
type dateFlag struct{ t *time.Time }

func (d dateFlag) String() string {
	if d.t == nil || d.t.IsZero() {
		return ""
	}
	return d.t.Format(time.RFC3339)
}
func (d dateFlag) Set(v string) error {
	for _, layout := range []string{"2006-01-02", time.RFC3339} {
		if t, err := time.Parse(layout, v); err == nil {
			*d.t = t
			return nil
		}
	}
	return fmt.Errorf("%q is not a date (want 2006-01-02 or RFC 3339)", v)
}

func search(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("search", stderr, "wiredesk search [flags] WORDS: full-text search with filters, on the embedded index or Elasticsearch.")
	var c common
	c.register(fs, 0)
	var q index.Query
	fs.Var((*listFlag)(&q.Topics), "topic", "only these topics (repeat or comma-separate)")
	fs.Var((*listFlag)(&q.Conflicts), "conflict", "only these conflicts: armenia-azerbaijan, georgia-russia, north-caucasus")
	fs.Var((*listFlag)(&q.Entities), "entity", "only articles naming this entity: id, Wikidata QID, or any name or alias")
	fs.Var((*listFlag)(&q.Sources), "source", "only these feed ids")
	fs.Var((*listFlag)(&q.Languages), "lang", "only these languages (ISO 639-1)")
	fs.Var(dateFlag{&q.From}, "from", "published on or after this date")
	fs.Var(dateFlag{&q.To}, "to", "published before this date")
	fs.BoolVar(&q.RelevantOnly, "relevant", false, "only stories about a Caucasus conflict")
	fs.StringVar(&q.Sort, "sort", "relevance", "relevance or date")
	fs.IntVar(&q.Size, "n", 10, "number of results")
	words, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	q.Text = strings.Join(words, " ")
	if q, err = q.Normalize(); err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	store, err := app.OpenStore(ctx, cfg.Indexer, c.logger(stderr))
	if err != nil {
		return err
	}
	defer store.Close()
	res, err := store.Search(ctx, q)
	if err != nil {
		return fmt.Errorf("searching: %w", err)
	}
	printResult(stdout, res)
	return nil
}

func printResult(w io.Writer, res index.Result) {
	if res.Total == 0 {
		fmt.Fprintln(w, "No articles found.")
		return
	}
	fmt.Fprintf(w, "%d articles found", res.Total)
	if len(res.Hits) < res.Total {
		fmt.Fprintf(w, ", showing %d", len(res.Hits))
	}
	fmt.Fprintln(w, ".")
	for i, h := range res.Hits {
		fmt.Fprintf(w, "\n%d. %s\n", i+1, h.Title)
		fmt.Fprintf(w, "   %s · %s · %s\n", h.Published.Format("2006-01-02 15:04"), h.Source, h.Language)
		if len(h.Topics) > 0 || len(h.Conflicts) > 0 {
			fmt.Fprintf(w, "   topics: %s", strings.Join(h.Topics, ", "))
			if len(h.Conflicts) > 0 {
				fmt.Fprintf(w, "  conflicts: %s", strings.Join(h.Conflicts, ", "))
			}
			fmt.Fprintln(w)
		}
		if len(h.Entities) > 0 {
			fmt.Fprintf(w, "   names: %s\n", strings.Join(h.Entities, ", "))
		}
		shown := 0
		for _, s := range h.Snippets {
			s = strings.Trim(strings.Join(strings.Fields(s), " "), "… ")
			if shown == 2 || strings.ReplaceAll(strings.ReplaceAll(s, index.HighlightPre, ""), index.HighlightPost, "") == h.Title {
				continue
			}
			fmt.Fprintf(w, "   … %s …\n", s)
			shown++
		}
		if h.URL != "" {
			fmt.Fprintf(w, "   %s\n", h.URL)
		}
	}
}
