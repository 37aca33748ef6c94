package enrich

import (
	"context"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/wiredesk/wiredesk/ingest/article"
)

// benchArticle builds an HTML article of about size bytes from the
// fixtures, so the benchmark sees realistic markup, names and phrases.
func benchArticle(b *testing.B, size int) article.Raw {
	var paras []string
	for _, name := range []string{"khankendi-mine.html", "fuzuli-reconstruction.txt", "georgia-country.txt", "shusha-heritage.txt", "stepanakerte-ru.txt", "baku-f1.txt"} {
		raw := readFixture(b, name)
		text, _ := cleanText(raw.Body)
		paras = append(paras, strings.Split(text, "\n\n")...)
	}
	var body strings.Builder
	for i := 0; body.Len() < size; i++ {
		body.WriteString("<p>" + paras[i%len(paras)] + "</p>\n")
	}
	return article.Raw{ID: "bench", Title: "Sappers clear mines near Aghdam as talks resume", Body: body.String()}
}

// BenchmarkEnrich4K measures throughput on 4 KB articles with the full
// rule files. Goal: at least 20 MB/s per core.
func BenchmarkEnrich4K(b *testing.B) {
	e := loadTest(b)
	raw := benchArticle(b, 4096)
	b.SetBytes(int64(len(raw.Body) + len(raw.Title)))
	b.ReportAllocs()
	ctx := context.Background()
	cpu0 := cpuTime()
	for b.Loop() {
		if _, err := e.Enrich(ctx, raw); err != nil {
			b.Fatal(err)
		}
	}
	// On a shared machine wall time understates throughput; CPU time of
	// the process (including the garbage collector) is the per-core figure.
	cpu := (cpuTime() - cpu0).Seconds()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "articles/s")
	if cpu > 0 {
		b.ReportMetric(float64(b.N)*float64(len(raw.Body)+len(raw.Title))/cpu/1e6, "MB/cpu-s")
	}
}

// cpuTime returns the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLoad measures start-up: reading, validating and compiling the
// rule files. Goal: under one second.
func BenchmarkLoad(b *testing.B) {
	fsys := os.DirFS("../configs")
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(fsys, "taxonomy.yaml", "gazetteer.yaml"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/load")
}

// TestLoadTime logs the load time; it asserts nothing about wall time.
func TestLoadTime(t *testing.T) {
	start := time.Now()
	e, err := Load(os.DirFS("../configs"), "taxonomy.yaml", "gazetteer.yaml")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("loaded %d entities, %d alias keys, %d phrase keys in %v", len(e.entities), len(e.entDict.m), len(e.phrDict.m), time.Since(start))
}
