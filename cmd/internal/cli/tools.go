package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/wiredesk/wiredesk/cmd/internal/app"
	"github.com/wiredesk/wiredesk/cmd/internal/config"
	kibanaobjects "github.com/wiredesk/wiredesk/deploy/kibana"
	"github.com/wiredesk/wiredesk/enrich"
	"github.com/wiredesk/wiredesk/index/kibana"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// setup installs the Elasticsearch index template, ILM policy and the
// current month's index, then imports the newsroom's Kibana saved objects
// when a Kibana URL is given. It is idempotent.
func setup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("setup", stderr, "wiredesk setup -config FILE [-kibana URL]: install the index template, ILM policy and first index in Elasticsearch, and the newsroom's saved objects in Kibana (idempotent).")
	var c common
	c.register(fs, 0)
	kibanaURL := fs.String("kibana", os.Getenv("WIREDESK_KIBANA_URL"), "Kibana base URL, e.g. http://127.0.0.1:5601 (a space: …/s/NAME), to import the data view, saved searches and dashboard into with the Elasticsearch credentials; empty skips Kibana (env WIREDESK_KIBANA_URL)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	if len(cfg.Indexer.Elasticsearch.URLs) == 0 {
		return fmt.Errorf("%w: setup needs indexer.elasticsearch.urls (the embedded index sets itself up)", app.ErrConfig)
	}
	store, err := app.OpenElasticsearch(cfg.Indexer.Elasticsearch)
	if err != nil {
		return err
	}
	defer store.Close()
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	rep, err := store.Setup(ctx)
	if err != nil {
		return fmt.Errorf("setting up Elasticsearch: %w", err)
	}
	fmt.Fprintf(stdout, "engine:   %s\nilm:      %s\ntemplate: %s\nindex:    %s\n", rep.Engine, rep.Policy, rep.Template, rep.Index)
	for _, n := range rep.Notes {
		fmt.Fprintf(stdout, "note:     %s\n", n)
	}
	if *kibanaURL == "" {
		fmt.Fprintf(stdout, "kibana:   skipped (no -kibana URL or WIREDESK_KIBANA_URL)\n")
		return nil
	}
	// Kibana starts long after Elasticsearch; Import waits for it.
	kctx, kcancel := context.WithTimeout(parent, 5*time.Minute)
	defer kcancel()
	es := cfg.Indexer.Elasticsearch
	res, err := kibana.Import(kctx, kibana.Target{URL: *kibanaURL, Username: es.Username, Password: es.Password, APIKey: es.APIKey}, kibanaobjects.Objects())
	if err != nil {
		return fmt.Errorf("importing Kibana saved objects into %s: %w", *kibanaURL, err)
	}
	fmt.Fprintf(stdout, "kibana:   %d saved objects imported (overwrite; data view %s)\n", res.Imported, kibanaobjects.DataViewID)
	return nil
}

// enrichLine is one input line of `wiredesk enrich`: a raw article, or the
// short form with body, lang and published_at only.
type enrichLine struct {
	article.Raw
	PublishedAt string `json:"published_at"`
}

// enrichFilter reads raw articles as JSON lines on stdin and writes one
// enriched article per line, in order. A bad line yields a JSON error
// object on that line; the filter goes on.
func enrichFilter(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := newFlagSet("enrich", stderr, "wiredesk enrich < raw.jsonl > enriched.jsonl: tag raw articles (url, title, body, and optionally lang, published_at, source), one JSON object per line.")
	taxonomy := fs.String("taxonomy", "", "taxonomy file (default: built-in)")
	gazetteer := fs.String("gazetteer", "", "gazetteer file (default: built-in)")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	e, err := loadEnricher(*taxonomy, *gazetteer)
	if err != nil {
		return err
	}
	in := bufio.NewScanner(stdin)
	in.Buffer(make([]byte, 64<<10), 16<<20)
	out := bufio.NewWriter(stdout)
	defer out.Flush()
	enc := json.NewEncoder(out)
	enc.SetEscapeHTML(false)
	for n := 1; in.Scan(); n++ {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		line := strings.TrimSpace(in.Text())
		if line == "" {
			_ = enc.Encode(map[string]any{"error": "empty line", "line": n})
			continue
		}
		res, err := enrichOne(ctx, e, []byte(line))
		if err != nil {
			_ = enc.Encode(map[string]any{"error": err.Error(), "line": n})
			continue
		}
		if err := enc.Encode(res); err != nil {
			return err
		}
	}
	if err := in.Err(); err != nil {
		return fmt.Errorf("reading stdin: %w", err)
	}
	return nil
}

func enrichOne(ctx context.Context, e *enrich.Enricher, line []byte) (article.Enriched, error) {
	var l enrichLine
	if err := json.Unmarshal(line, &l); err != nil {
		return article.Enriched{}, fmt.Errorf("not a JSON article: %w", err)
	}
	raw := l.Raw
	if l.PublishedAt != "" {
		t, err := time.Parse(time.RFC3339, l.PublishedAt)
		if err != nil {
			return article.Enriched{}, fmt.Errorf("published_at %q is not RFC 3339", l.PublishedAt)
		}
		raw.PublishedAt, raw.PublishedFrom = t, "feed"
	}
	if raw.ID == "" {
		raw.ID = article.ID(raw.URL, raw.FeedURL, raw.GUID)
		if raw.ID == "" {
			raw.ID = article.ID("", "stdin", raw.Title+"\x00"+raw.Body)
		}
	}
	if c, err := article.CanonicalURL(raw.URL); err == nil {
		raw.URL = c
	}
	if raw.Revision == "" {
		raw.Revision = article.ContentRevision(raw.Title, raw.Summary, raw.Body)
	}
	if raw.SchemaVersion == "" {
		raw.SchemaVersion = article.RawSchemaVersion
	}
	if raw.FetchedAt.IsZero() {
		raw.FetchedAt = time.Now().UTC()
	}
	if raw.PublishedAt.IsZero() {
		raw.PublishedAt, raw.PublishedFrom = raw.FetchedAt, "first_seen"
	}
	return e.Enrich(ctx, raw)
}

// eval prints precision, recall and F1 of the rules on a labelled file.
func eval(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("eval", stderr, "wiredesk eval FILE.jsonl: precision, recall and F1 of relevance, conflicts, topics and entities on a labelled set (see enrich/testdata/eval).")
	taxonomy := fs.String("taxonomy", "", "taxonomy file (default: built-in)")
	gazetteer := fs.String("gazetteer", "", "gazetteer file (default: built-in)")
	files, err := parseInterleaved(fs, args)
	if err != nil {
		return err
	}
	if len(files) != 1 {
		return fmt.Errorf("%w: eval takes one labelled file", errUsage)
	}
	e, err := loadEnricher(*taxonomy, *gazetteer)
	if err != nil {
		return err
	}
	f, err := os.Open(files[0])
	if err != nil {
		return err
	}
	defer f.Close()
	rep, err := enrich.Evaluate(ctx, e, f)
	if err != nil {
		return fmt.Errorf("evaluating %s: %w", files[0], err)
	}
	return rep.Print(stdout)
}

func loadEnricher(taxonomy, gazetteer string) (*enrich.Enricher, error) {
	e, err := app.LoadEnricher(config.Enricher{Taxonomy: taxonomy, Gazetteer: gazetteer})
	if err != nil {
		if errors.Is(err, app.ErrConfig) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %w", app.ErrConfig, err)
	}
	return e, nil
}
