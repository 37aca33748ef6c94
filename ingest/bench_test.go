package ingest

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
)

// bigFeed builds a realistic large feed: n items with ~1.5 KB of HTML body
// each, Cyrillic and Latin text, categories and authors.
func bigFeed(n int, atom bool) []byte {
	var b strings.Builder
	para := strings.Repeat("Ереван, 1 марта — Правительство Армении обсудило новые меры. The government discussed new measures. ", 6)
	if atom {
		b.WriteString(`<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Big</title><link href="https://big.example/"/>`)
		for i := range n {
			fmt.Fprintf(&b, `<entry><title>Статья номер %d: headline</title><link href="/news/%d?utm_source=feed"/><id>urn:big:%d</id>
<updated>2026-02-%02dT10:%02d:00+04:00</updated><author><name>Author %d</name></author><category term="politics"/><category term="armenia"/>
<summary>%s</summary><content type="html">&lt;p&gt;%s&lt;/p&gt;&lt;p&gt;%s&lt;/p&gt;</content></entry>
`, i, i, i, 1+i%28, i%60, i%17, string([]rune(para)[:120]), para, para)
		}
		b.WriteString("</feed>")
		return []byte(b.String())
	}
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:content="http://purl.org/rss/1.0/modules/content/"><channel><title>Big</title><link>https://big.example/</link>`)
	for i := range n {
		fmt.Fprintf(&b, `<item><title>Статья номер %d: headline</title><link>https://big.example/news/%d?utm_source=feed</link><guid>big-%d</guid>
<pubDate>Sun, %02d Feb 2026 10:%02d:00 +0400</pubDate><dc:creator>Author %d</dc:creator><category>politics</category><category>armenia</category>
<description><![CDATA[%s]]></description><content:encoded><![CDATA[<p>%s</p><p>%s</p>]]></content:encoded></item>
`, i, i, i, 1+i%28, i%60, i%17, string([]rune(para)[:120]), para, para)
	}
	b.WriteString("</channel></rss>")
	return []byte(b.String())
}

// BenchmarkParse measures parse + normalise throughput per core.
func BenchmarkParse(b *testing.B) {
	for _, tc := range []struct {
		name string
		atom bool
	}{{"rss", false}, {"atom", true}} {
		doc := bigFeed(2000, tc.atom)
		feed := testFeed("https://big.example/feed")
		b.Run(tc.name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			items := 0
			for b.Loop() {
				arts, err := Parse(feed, doc, "application/xml", testNow)
				if err != nil || len(arts) != 2000 {
					b.Fatalf("%d articles, %v", len(arts), err)
				}
				items += len(arts)
			}
			b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "items/s")
		})
	}
	// A legacy-charset feed pays for conversion.
	doc := bigFeed(2000, false)
	doc1251, _ := win1251(string(doc))
	b.Run("rss-windows-1251", func(b *testing.B) {
		b.SetBytes(int64(len(doc1251)))
		items := 0
		for b.Loop() {
			arts, err := Parse(testFeed("https://big.example/feed"), doc1251, "text/xml; charset=windows-1251", testNow)
			if err != nil || len(arts) != 2000 {
				b.Fatalf("%d articles, %v", len(arts), err)
			}
			items += len(arts)
		}
		b.ReportMetric(float64(items)/b.Elapsed().Seconds(), "items/s")
	})
}

// BenchmarkFetchCycle polls 2,000 feeds on a loopback server (half answer
// 200 with a 20-item feed, half 304) through one Client with 32 workers,
// and reports feeds/s and CPU seconds per 1,000 polls (client and server
// share the process, so the CPU figure is an upper bound for the client).
func BenchmarkFetchCycle(b *testing.B) {
	const feeds, workers = 2000, 32
	doc := []byte(rssDoc(20))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("If-None-Match") == `"same"` {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", `"same"`)
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write(doc)
	}))
	defer srv.Close()
	c := NewClient(Options{Allow: []string{"127.0.0.1"}, MaxConnsPerHost: workers})
	defer c.CloseIdleConnections()
	var cpu0 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &cpu0)
	polls := 0
	for b.Loop() {
		jobs := make(chan int)
		var wg sync.WaitGroup
		var failed atomic.Int32
		for range workers {
			wg.Go(func() {
				for i := range jobs {
					v := Validators{}
					if i%2 == 1 {
						v.ETag = `"same"`
					}
					if _, err := c.Fetch(context.Background(), testFeed(fmt.Sprintf("%s/feed/%d", srv.URL, i)), v); err != nil {
						failed.Add(1)
					}
				}
			})
		}
		for i := range feeds {
			jobs <- i
		}
		close(jobs)
		wg.Wait()
		if failed.Load() > 0 {
			b.Fatalf("%d polls failed", failed.Load())
		}
		polls += feeds
	}
	var cpu1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &cpu1)
	cpuSecs := tvSecs(cpu1.Utime) + tvSecs(cpu1.Stime) - tvSecs(cpu0.Utime) - tvSecs(cpu0.Stime)
	b.ReportMetric(float64(polls)/b.Elapsed().Seconds(), "feeds/s")
	b.ReportMetric(cpuSecs*1000/float64(polls), "cpu-s/1000polls")
}

func tvSecs(tv syscall.Timeval) float64 { return float64(tv.Sec) + float64(tv.Usec)/1e6 }
