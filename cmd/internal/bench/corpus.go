package bench

import (
	"context"
	"fmt"
	"html"
	"math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/wiredesk/wiredesk/configs"
	"github.com/wiredesk/wiredesk/ingest"
)

// seedArticle is one article of the demo corpus, cut into paragraphs.
type seedArticle struct {
	title, summary, lang string
	paras                []string // HTML paragraphs, each "<p>…</p>"
}

var paraRe = regexp.MustCompile(`(?s)<p[^>]*>.*?</p>`)

// loadSeeds parses the demo feeds (configs/demo/feeds) into paragraphs.
func loadSeeds() ([]seedArticle, error) {
	files, err := configs.DemoFeeds()
	if err != nil {
		return nil, fmt.Errorf("reading demo feeds: %w", err)
	}
	var out []seedArticle
	for _, file := range files {
		f := ingest.Feed{ID: "seed", Name: "seed", URL: "https://seed.example/" + file.Name}
		arts, err := ingest.Parse(f, file.Body, "", time.Now())
		if err != nil {
			return nil, fmt.Errorf("parsing demo feed %s: %w", file.Name, err)
		}
		for _, a := range arts {
			paras := paraRe.FindAllString(a.Body, -1)
			if len(paras) == 0 && a.Body != "" {
				paras = []string{"<p>" + html.EscapeString(a.Body) + "</p>"}
			}
			if len(paras) == 0 {
				continue
			}
			lang := a.Lang
			if lang == "" {
				lang = "en"
			}
			out = append(out, seedArticle{title: a.Title, summary: a.Summary, lang: lang, paras: paras})
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("bench: the demo corpus holds no articles")
	}
	return out, nil
}

// item is one synthetic feed item, pre-rendered as RSS.
type item struct {
	xml string
}

// Corpus is N synthetic articles spread round-robin over feeds: article k
// belongs to feed k mod feeds. Each keeps the title and lead paragraph of
// a demo article and adds two to four paragraphs drawn from other demo
// articles of the same language, shuffled, so that every article's text
// differs and the enricher does real work on it.
type Corpus struct {
	feeds int
	items [][]item // per feed, in release order
	bytes int64
}

// NewCorpus generates n articles over feeds feeds. nonce goes into every
// URL so that two runs never share an article id (an Elasticsearch index
// outlives a run); seed makes the text reproducible.
func NewCorpus(n, feeds int, nonce string, seed uint64) (*Corpus, error) {
	seeds, err := loadSeeds()
	if err != nil {
		return nil, err
	}
	byLang := map[string][]int{}
	for i, s := range seeds {
		byLang[s.lang] = append(byLang[s.lang], i)
	}
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	c := &Corpus{feeds: feeds, items: make([][]item, feeds)}
	base := time.Now().UTC().Add(-time.Hour)
	for k := range n {
		s := seeds[k%len(seeds)]
		paras := []string{s.paras[0]}
		same := byLang[s.lang]
		for range 2 + rng.IntN(3) {
			o := seeds[same[rng.IntN(len(same))]]
			paras = append(paras, o.paras[rng.IntN(len(o.paras))])
		}
		tail := paras[1:]
		rng.Shuffle(len(tail), func(i, j int) { tail[i], tail[j] = tail[j], tail[i] })
		body := strings.ReplaceAll(strings.Join(paras, "\n"), "]]>", "]]&gt;")
		f := k % feeds
		pub := base.Add(time.Duration(k) * time.Second)
		x := fmt.Sprintf("<item><title>%s</title><link>https://bench.example/%s/%s/%d?utm_source=rss</link><guid isPermaLink=\"false\">bench-%s-%d</guid>"+
			"<pubDate>%s</pubDate><description>%s</description><content:encoded><![CDATA[%s]]></content:encoded></item>\n",
			html.EscapeString(s.title), nonce, FeedID(f), k, nonce, k, pub.Format(time.RFC1123Z), html.EscapeString(s.summary), body)
		c.items[f] = append(c.items[f], item{xml: x})
		c.bytes += int64(len(x))
	}
	return c, nil
}

// FeedID names feed i.
func FeedID(i int) string { return fmt.Sprintf("bench-%03d", i) }

// FeedServer serves a Corpus on loopback. Items are released over time:
// all at once (Rate 0), or Rate articles per second in corpus order. A
// feed shows its newest Window released items (0: all), and answers a
// conditional GET with 304 while nothing new was released.
type FeedServer struct {
	URL      string
	corpus   *Corpus
	rate     float64
	window   int
	start    atomic.Int64 // unix nanos; 0: not started
	requests atomic.Int64
	srv      *http.Server
}

// ServeCorpus starts serving c until ctx is done. Nothing is released
// before Release is called.
func ServeCorpus(ctx context.Context, c *Corpus, rate float64, window int) (*FeedServer, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("listening for the bench feed server: %w", err)
	}
	s := &FeedServer{URL: "http://" + ln.Addr().String(), corpus: c, rate: rate, window: window}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = s.srv.Serve(ln) }()
	context.AfterFunc(ctx, func() { _ = s.srv.Close() })
	return s, nil
}

// Release starts the clock: from now on items are released.
func (s *FeedServer) Release() { s.start.Store(time.Now().UnixNano()) }

// released returns how many of feed f's items are out.
func (s *FeedServer) released(f int) int {
	all := len(s.corpus.items[f])
	st := s.start.Load()
	switch {
	case st == 0:
		return 0
	case s.rate <= 0:
		return all
	}
	// Article k = j·feeds + f is released at k/rate seconds.
	total := int(float64(time.Now().UnixNano()-st) / 1e9 * s.rate)
	if total <= f {
		return 0
	}
	return min(all, (total-f-1)/s.corpus.feeds+1)
}

func (s *FeedServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	name := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/feed/"), ".xml")
	f, err := strconv.Atoi(strings.TrimPrefix(name, "bench-"))
	if err != nil || f < 0 || f >= s.corpus.feeds {
		http.NotFound(w, r)
		return
	}
	n := s.released(f)
	etag := `"` + strconv.Itoa(n) + `"`
	w.Header().Set("ETag", etag)
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	from := 0
	if s.window > 0 {
		from = max(0, n-s.window)
	}
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?><rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Bench ` + name + `</title><link>https://bench.example/</link><description>wiredesk bench feed</description>` + "\n")
	for i := n - 1; i >= from; i-- { // newest first, as feeds are
		b.WriteString(s.corpus.items[f][i].xml)
	}
	b.WriteString("</channel></rss>\n")
	w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}

// Feeds lists the feeds for the fetcher. The poll interval is below the
// registry's one-minute floor on purpose: the bench passes feeds directly,
// not through a registry file, so that paced runs see new items quickly.
func Feeds(base string, n int, interval time.Duration) []ingest.Feed {
	out := make([]ingest.Feed, n)
	for i := range n {
		out[i] = ingest.Feed{ID: FeedID(i), Name: FeedID(i), URL: base + "/feed/" + FeedID(i) + ".xml", Lang: "", MinInterval: interval, MaxInterval: interval}
	}
	return out
}
