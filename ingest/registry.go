package ingest

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Feed is one entry of the feed registry.
type Feed struct {
	// ID names the feed in subjects (news.feeds.health.<id>), metrics and
	// article.Raw.Source: lower-case letters, digits, '-' and '_'.
	ID   string `yaml:"id" json:"id"`
	URL  string `yaml:"url" json:"url"`
	Name string `yaml:"name" json:"name"`
	// Country is an ISO 3166-1 alpha-2 hint (upper case); empty for
	// international outlets.
	Country string `yaml:"country,omitempty" json:"country,omitempty"`
	// Lang is a BCP 47 language hint. When set it wins over the language
	// the feed declares, which CMSs often leave at a wrong default.
	Lang string `yaml:"lang,omitempty" json:"lang,omitempty"`
	// MinInterval and MaxInterval bound the poll interval; see NextPoll.
	MinInterval time.Duration `yaml:"min_interval" json:"min_interval"`
	MaxInterval time.Duration `yaml:"max_interval" json:"max_interval"`
	// FullText asks for the article page to be fetched and its main text
	// extracted when the feed carries only summaries.
	FullText bool `yaml:"full_text,omitempty" json:"full_text,omitempty"`
	// Headers are sent with every request for this feed (for example an
	// Authorization header). In the registry file, values may use
	// ${VAR} or ${VAR:default} to read the environment.
	Headers map[string]string `yaml:"headers,omitempty" json:"-"`
	Tags    []string          `yaml:"tags,omitempty" json:"tags,omitempty"`
}

// Registry defaults, used when neither the feed nor the file's defaults
// section sets a value.
const (
	DefaultMinInterval = 10 * time.Minute
	DefaultMaxInterval = 2 * time.Hour
	// MinPollInterval and MaxPollInterval bound what a registry may ask for.
	MinPollInterval = time.Minute
	MaxPollInterval = 24 * time.Hour
)

var (
	feedIDRe  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	langRe    = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{1,8})*$`)
	countryRe = regexp.MustCompile(`^[A-Z]{2}$`)
	envRe     = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:([^}]*))?\}`)
)

// Headers a registry entry may not set: the client owns them.
var reservedHeaders = map[string]bool{
	"Host": true, "Content-Length": true, "Accept-Encoding": true, "Connection": true,
	"If-None-Match": true, "If-Modified-Since": true, "Transfer-Encoding": true,
}

// Validate checks one feed whose defaults have been applied.
func (f *Feed) Validate() error {
	if !feedIDRe.MatchString(f.ID) {
		return fmt.Errorf("id %q: must match %s", f.ID, feedIDRe)
	}
	if err := validateFeedURL(f.URL); err != nil {
		return fmt.Errorf("url: %w", err)
	}
	if strings.TrimSpace(f.Name) == "" {
		return errors.New("name: required")
	}
	if f.Country != "" && !countryRe.MatchString(f.Country) {
		return fmt.Errorf("country %q: must be an ISO 3166-1 alpha-2 code such as AM", f.Country)
	}
	if f.Lang != "" && !langRe.MatchString(f.Lang) {
		return fmt.Errorf("lang %q: must be a BCP 47 tag such as en or hy-AM", f.Lang)
	}
	if f.MinInterval < MinPollInterval || f.MinInterval > MaxPollInterval {
		return fmt.Errorf("min_interval %s: must be between %s and %s", f.MinInterval, MinPollInterval, MaxPollInterval)
	}
	if f.MaxInterval < f.MinInterval || f.MaxInterval > MaxPollInterval {
		return fmt.Errorf("max_interval %s: must be between min_interval (%s) and %s", f.MaxInterval, f.MinInterval, MaxPollInterval)
	}
	for k, v := range f.Headers {
		if !validHeaderName(k) {
			return fmt.Errorf("headers: invalid header name %q", k)
		}
		if reservedHeaders[http.CanonicalHeaderKey(k)] {
			return fmt.Errorf("headers: %q is set by the fetcher", k)
		}
		if strings.ContainsAny(v, "\r\n\x00") {
			return fmt.Errorf("headers: value of %q contains a line break", k)
		}
	}
	seen := map[string]bool{}
	for _, t := range f.Tags {
		if strings.TrimSpace(t) == "" {
			return errors.New("tags: empty tag")
		}
		if seen[t] {
			return fmt.Errorf("tags: %q listed twice", t)
		}
		seen[t] = true
	}
	return nil
}

func validateFeedURL(raw string) error {
	if raw == "" {
		return errors.New("required")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("%q: %w", raw, ErrScheme)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%q: no host", raw)
	}
	if u.User != nil {
		return fmt.Errorf("%q: credentials in the URL; use headers instead", raw)
	}
	return nil
}

func validHeaderName(k string) bool {
	if k == "" {
		return false
	}
	for _, c := range k {
		if c > 0x7e || c <= 0x20 || strings.ContainsRune("\"(),/:;<=>?@[\\]{}", c) {
			return false
		}
	}
	return true
}

// registryFile is the on-disk shape. Intervals are strings so that a bad
// duration is reported with its line.
type registryFile struct {
	Defaults struct {
		MinInterval string `yaml:"min_interval"`
		MaxInterval string `yaml:"max_interval"`
	} `yaml:"defaults"`
	Feeds []rawFeed `yaml:"feeds"`
}

type rawFeed struct {
	ID          string            `yaml:"id"`
	URL         string            `yaml:"url"`
	Name        string            `yaml:"name"`
	Country     string            `yaml:"country"`
	Lang        string            `yaml:"lang"`
	MinInterval string            `yaml:"min_interval"`
	MaxInterval string            `yaml:"max_interval"`
	FullText    bool              `yaml:"full_text"`
	Headers     map[string]string `yaml:"headers"`
	Tags        []string          `yaml:"tags"`
}

// LoadRegistry reads a feed registry file (configs/feeds.yaml): a
// `defaults` section (min_interval, max_interval) and a `feeds` list.
// Decoding is strict: an unknown key, a duplicate key, a bad duration, an
// invalid or duplicate feed fails with the file's name and the line. The
// returned feeds have defaults applied and have passed Validate.
func LoadRegistry(fsys fs.FS, path string) ([]Feed, error) {
	data, err := fs.ReadFile(fsys, path)
	if err != nil {
		return nil, fmt.Errorf("loading feed registry: %w", err)
	}
	feeds, err := ParseRegistry(data, os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("loading feed registry %s: %w", path, err)
	}
	return feeds, nil
}

// ParseRegistry is LoadRegistry on bytes. lookupEnv resolves ${VAR} in
// header values; nil means no variables are set.
func ParseRegistry(data []byte, lookupEnv func(string) (string, bool)) ([]Feed, error) {
	if lookupEnv == nil {
		lookupEnv = func(string) (string, bool) { return "", false }
	}
	var rf registryFile
	if err := yaml.UnmarshalWithOptions(data, &rf, yaml.Strict()); err != nil {
		return nil, yamlError(err)
	}
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, yamlError(err)
	}
	at := func(path string) string {
		if l := lineOf(file, path); l > 0 {
			return fmt.Sprintf("line %d: ", l)
		}
		return ""
	}
	defMin, defMax := DefaultMinInterval, DefaultMaxInterval
	if s := rf.Defaults.MinInterval; s != "" {
		if defMin, err = parseInterval(s); err != nil {
			return nil, fmt.Errorf("%sdefaults.min_interval: %w", at("$.defaults.min_interval"), err)
		}
	}
	if s := rf.Defaults.MaxInterval; s != "" {
		if defMax, err = parseInterval(s); err != nil {
			return nil, fmt.Errorf("%sdefaults.max_interval: %w", at("$.defaults.max_interval"), err)
		}
	}
	if len(rf.Feeds) == 0 {
		return nil, errors.New("no feeds")
	}
	feeds := make([]Feed, 0, len(rf.Feeds))
	ids := map[string]int{}
	urls := map[string]int{}
	for i, r := range rf.Feeds {
		p := fmt.Sprintf("$.feeds[%d]", i)
		f := Feed{
			ID: r.ID, URL: strings.TrimSpace(r.URL), Name: strings.TrimSpace(r.Name),
			Country: strings.ToUpper(r.Country), Lang: r.Lang,
			MinInterval: defMin, MaxInterval: defMax,
			FullText: r.FullText, Tags: r.Tags,
		}
		if r.MinInterval != "" {
			if f.MinInterval, err = parseInterval(r.MinInterval); err != nil {
				return nil, fmt.Errorf("%sfeed %q: min_interval: %w", at(p+".min_interval"), r.ID, err)
			}
		}
		if r.MaxInterval != "" {
			if f.MaxInterval, err = parseInterval(r.MaxInterval); err != nil {
				return nil, fmt.Errorf("%sfeed %q: max_interval: %w", at(p+".max_interval"), r.ID, err)
			}
		}
		if len(r.Headers) > 0 {
			f.Headers = make(map[string]string, len(r.Headers))
			for k, v := range r.Headers {
				ev, err := expandEnv(v, lookupEnv)
				if err != nil {
					return nil, fmt.Errorf("%sfeed %q: headers: %q: %w", at(p+".headers"), r.ID, k, err)
				}
				f.Headers[k] = ev
			}
		}
		if err := f.Validate(); err != nil {
			return nil, fmt.Errorf("%sfeed %q: %w", at(p), r.ID, err)
		}
		if j, dup := ids[f.ID]; dup {
			return nil, fmt.Errorf("%sfeed %q: id already used by feed #%d", at(p+".id"), f.ID, j+1)
		}
		ids[f.ID] = i
		key := strings.ToLower(strings.TrimSuffix(f.URL, "/"))
		if j, dup := urls[key]; dup {
			return nil, fmt.Errorf("%sfeed %q: url already used by feed %q", at(p+".url"), f.ID, rf.Feeds[j].ID)
		}
		urls[key] = i
		feeds = append(feeds, f)
	}
	return feeds, nil
}

func parseInterval(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf("invalid duration %q (use e.g. 90s, 15m, 2h)", s)
	}
	return d, nil
}

// expandEnv replaces ${VAR} and ${VAR:default}. A variable that is unset
// and has no default is an error: a silently empty Authorization header is
// worse than a failed start.
func expandEnv(s string, lookup func(string) (string, bool)) (string, error) {
	var missing []string
	out := envRe.ReplaceAllStringFunc(s, func(m string) string {
		sub := envRe.FindStringSubmatch(m)
		if v, ok := lookup(sub[1]); ok {
			return v
		}
		if sub[2] != "" {
			return sub[3]
		}
		missing = append(missing, sub[1])
		return ""
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("environment variable %s is not set", strings.Join(missing, ", "))
	}
	return out, nil
}

// yamlError reduces a go-yaml error to one line with its position.
func yamlError(err error) error {
	var ye yaml.Error
	if errors.As(err, &ye) {
		return errors.New(ye.FormatError(false, false))
	}
	return err
}

func lineOf(file *ast.File, path string) int {
	p, err := yaml.PathString(path)
	if err != nil {
		return 0
	}
	n, err := p.FilterFile(file)
	if err != nil || n == nil || n.GetToken() == nil {
		return 0
	}
	return n.GetToken().Position.Line
}
