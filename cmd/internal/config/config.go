// Package config is wiredesk's configuration: one YAML file with a section
// per service, strict decoding, ${VAR:default} expansion and validation.
package config

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/wiredesk/wiredesk/cmd/internal/bus"
)

// Config is the whole configuration. Every service reads the sections it
// needs; the all-in-one binary reads them all.
type Config struct {
	NATS     NATS         `yaml:"nats"`
	Streams  bus.Topology `yaml:"streams"`
	Fetcher  Fetcher      `yaml:"fetcher"`
	Enricher Enricher     `yaml:"enricher"`
	Indexer  Indexer      `yaml:"indexer"`
	// Grace bounds shutdown: in-flight work finishes and is acked within it.
	Grace time.Duration `yaml:"shutdown_grace"`
}

// NATS is how services reach the NATS server.
type NATS struct {
	URL      string `yaml:"url"`
	User     string `yaml:"user"`
	Password string `yaml:"password"`
	Creds    string `yaml:"creds"` // path to a .creds file
	Name     string `yaml:"name"`  // client name shown in monitoring
}

// Fetcher configures the fetcher service.
type Fetcher struct {
	Listen       string        `yaml:"listen"`
	Feeds        string        `yaml:"feeds"` // path of the feed registry
	Workers      int           `yaml:"workers"`
	PerHost      int           `yaml:"per_host"`
	UserAgent    string        `yaml:"user_agent"`
	MaxBodyBytes int64         `yaml:"max_body_bytes"`
	Timeout      time.Duration `yaml:"timeout"`
	// AllowHosts lets the SSRF guard connect to these hosts or CIDRs even
	// though they are private (the demo serves its feeds on loopback).
	AllowHosts []string      `yaml:"allow_hosts"`
	SeenTTL    time.Duration `yaml:"seen_ttl"`
	// MaxInFlight bounds asynchronous publishes awaiting acknowledgement.
	MaxInFlight int `yaml:"max_in_flight"`
	// FullTextWorkers bounds article-page fetches at once, for feeds with
	// full_text on.
	FullTextWorkers int `yaml:"full_text_workers"`
}

// Enricher configures the enricher service.
type Enricher struct {
	Listen    string               `yaml:"listen"`
	Taxonomy  string               `yaml:"taxonomy"`  // empty: the built-in copy
	Gazetteer string               `yaml:"gazetteer"` // empty: the built-in copy
	Workers   int                  `yaml:"workers"`
	Consumer  bus.ConsumerSettings `yaml:"consumer"`
}

// Indexer configures the indexer service.
type Indexer struct {
	Listen        string               `yaml:"listen"`
	Elasticsearch Elasticsearch        `yaml:"elasticsearch"`
	Bleve         string               `yaml:"bleve"` // embedded index directory, used when no Elasticsearch URL is set
	Consumer      bus.ConsumerSettings `yaml:"consumer"`
	// MemoryLimit is a soft limit on the Go heap of the indexer process,
	// in bytes (runtime/debug.SetMemoryLimit): the garbage collector works
	// harder as the heap nears it rather than letting it grow. Zero means
	// no limit. The standalone indexer applies it unless GOMEMLIMIT is set,
	// which wins; the all-in-one process, whose heap the services share,
	// ignores it.
	MemoryLimit int64 `yaml:"memory_limit"`
}

// Elasticsearch is how the indexer and `wiredesk search` reach the cluster.
type Elasticsearch struct {
	URLs     []string `yaml:"urls"`
	APIKey   string   `yaml:"api_key"`
	Username string   `yaml:"username"`
	Password string   `yaml:"password"`
	CACert   string   `yaml:"ca_cert"` // path to a PEM file
}

// Default returns a configuration that works on one machine: NATS on
// loopback, the embedded index, the built-in rules.
func Default() Config {
	return Config{
		NATS:    NATS{URL: "nats://127.0.0.1:4222"},
		Streams: bus.DefaultTopology(),
		Fetcher: Fetcher{
			Listen: "127.0.0.1:9101", Feeds: "configs/feeds.yaml", Workers: 16, PerHost: 2,
			UserAgent:    "wiredesk/1.0 (+https://github.com/wiredesk/wiredesk)",
			MaxBodyBytes: 10 << 20, Timeout: 30 * time.Second, SeenTTL: 30 * 24 * time.Hour, MaxInFlight: 256, FullTextWorkers: 4,
		},
		Enricher: Enricher{Listen: "127.0.0.1:9102", Workers: 2, Consumer: bus.ConsumerSettings{Batch: 64}},
		Indexer: Indexer{Listen: "127.0.0.1:9103", Bleve: "wiredesk-data/index",
			Consumer: bus.ConsumerSettings{Batch: 500, BatchWait: 250 * time.Millisecond, MaxAckPending: 5000}},
		Grace: 20 * time.Second,
	}
}

// Load reads path over the defaults. Unknown keys are errors that name
// the line; ${VAR} and ${VAR:default} are expanded from the environment
// before parsing.
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading config: %w", err)
	}
	return Parse(data)
}

// Parse is Load for bytes.
func Parse(data []byte) (Config, error) {
	c := Default()
	expanded, err := Expand(string(data))
	if err != nil {
		return Config{}, err
	}
	if err := yaml.UnmarshalWithOptions([]byte(expanded), &c, yaml.Strict()); err != nil {
		return Config{}, fmt.Errorf("parsing config: %s", yaml.FormatError(err, false, true))
	}
	// "${WIREDESK_ES_URL:}" left unset expands to an empty entry.
	urls := c.Indexer.Elasticsearch.URLs[:0]
	for _, u := range c.Indexer.Elasticsearch.URLs {
		if u = strings.TrimSpace(u); u != "" {
			urls = append(urls, u)
		}
	}
	c.Indexer.Elasticsearch.URLs = urls
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:[^}]*)?\}`)

// Expand replaces ${VAR} and ${VAR:default} outside comment lines. A
// ${VAR} without a default whose variable is unset is an error, so a
// missing secret fails at start.
func Expand(s string) (string, error) {
	var missing []string
	lines := strings.SplitAfter(s, "\n")
	for i, line := range lines {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		lines[i] = expandLine(line, &missing)
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("config: environment variables not set: %s", strings.Join(missing, ", "))
	}
	return strings.Join(lines, ""), nil
}

func expandLine(s string, missing *[]string) string {
	return envRef.ReplaceAllStringFunc(s, func(m string) string {
		g := envRef.FindStringSubmatch(m)
		if v, ok := os.LookupEnv(g[1]); ok {
			return v
		}
		if g[2] != "" {
			return g[2][1:]
		}
		*missing = append(*missing, g[1])
		return ""
	})
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	if c.NATS.URL == "" {
		errs = append(errs, errors.New("nats.url is required"))
	}
	if c.Fetcher.Workers < 1 {
		errs = append(errs, errors.New("fetcher.workers must be at least 1"))
	}
	if c.Fetcher.PerHost < 1 {
		errs = append(errs, errors.New("fetcher.per_host must be at least 1"))
	}
	if c.Fetcher.MaxBodyBytes < 1024 {
		errs = append(errs, errors.New("fetcher.max_body_bytes must be at least 1024"))
	}
	if c.Fetcher.FullTextWorkers < 1 {
		errs = append(errs, errors.New("fetcher.full_text_workers must be at least 1"))
	}
	if c.Enricher.Workers < 1 {
		errs = append(errs, errors.New("enricher.workers must be at least 1"))
	}
	for _, s := range []struct {
		name string
		c    bus.ConsumerSettings
	}{{"enricher.consumer", c.Enricher.Consumer}, {"indexer.consumer", c.Indexer.Consumer}} {
		if s.c.MaxDeliver < 0 || s.c.Batch < 0 || s.c.MaxAckPending < 0 {
			errs = append(errs, fmt.Errorf("%s: limits must not be negative", s.name))
		}
		if s.c.MaxAckPending > 0 && s.c.Batch > s.c.MaxAckPending {
			errs = append(errs, fmt.Errorf("%s: batch (%d) exceeds max_ack_pending (%d)", s.name, s.c.Batch, s.c.MaxAckPending))
		}
	}
	if c.Indexer.MemoryLimit < 0 {
		errs = append(errs, errors.New("indexer.memory_limit must not be negative"))
	}
	if len(c.Indexer.Elasticsearch.URLs) == 0 && c.Indexer.Bleve == "" {
		errs = append(errs, errors.New("indexer: set elasticsearch.urls or bleve"))
	}
	if c.Grace <= 0 {
		errs = append(errs, errors.New("shutdown_grace must be positive"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid config: %w", errors.Join(errs...))
	}
	return nil
}
