package blevestore_test

import (
	"fmt"
	"runtime"
	"runtime/metrics"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/wiredesk/wiredesk/index/indextest"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// synthetic returns n distinct articles cycled from the test corpus.
func synthetic(n int) []article.Enriched {
	base := indextest.Articles()
	out := make([]article.Enriched, n)
	for i := range out {
		a := base[i%len(base)]
		a.ID = fmt.Sprintf("%s-%d", a.ID, i)
		a.FetchedAt = a.FetchedAt.Add(time.Duration(i) * time.Second)
		out[i] = a
	}
	return out
}

// BenchmarkWrite measures indexing throughput in batches of 500, the
// indexer's default batch size, into an on-disk index.
func BenchmarkWrite(b *testing.B) {
	const batch = 500
	docs := synthetic(batch * 8)
	s, _ := open(b)
	b.ResetTimer()
	n := 0
	for i := 0; b.Loop(); i++ {
		chunk := docs[(i%8)*batch : (i%8+1)*batch]
		for _, err := range s.Write(b.Context(), chunk) {
			if err != nil {
				b.Fatal(err)
			}
		}
		n += batch
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "docs/s")
}

// BenchmarkWriteRealistic writes realistic enriched articles (about 5 KB
// of JSON each; see realistic) into one growing on-disk index, one Write
// of batch articles per iteration, every document new — the indexer's
// steady state. Run it
// with a fixed count so that the index reaches a realistic size, e.g.
//
//	go test ./index/bleve -run '^$' -bench WriteRealistic -benchtime 40x
//
// It reports docs/s (wall, so machine load shows), CPU µs per document
// (user + system of the whole process, merging and persisting included:
// the figure to compare on a shared machine), bytes and allocations per
// document, and the peak of the Go heap and of the process's RSS. The
// RSS peak is the process's high-water mark, so run one sub-benchmark per
// process to read it.
func BenchmarkWriteRealistic(b *testing.B) {
	pool := realistic(b, 2000)
	for _, batch := range []int{1000, 500, 100} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			s, _ := open(b)
			chunk := make([]article.Enriched, batch)
			stop := peakHeap()
			runtime.GC()
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			cpu0 := cpuTime()
			n := 0
			b.ResetTimer()
			for b.Loop() {
				for j := range chunk {
					chunk[j] = pool[(n+j)%len(pool)]
					chunk[j].ID = fmt.Sprintf("doc-%08d", n+j)
				}
				for _, err := range s.Write(b.Context(), chunk) {
					if err != nil {
						b.Fatal(err)
					}
				}
				n += batch
			}
			b.StopTimer()
			cpu := cpuTime() - cpu0
			runtime.ReadMemStats(&m1)
			peak := stop()
			b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "docs/s")
			b.ReportMetric(float64(cpu.Microseconds())/float64(n), "cpu-µs/doc")
			b.ReportMetric(float64(m1.TotalAlloc-m0.TotalAlloc)/float64(n), "B/doc")
			b.ReportMetric(float64(m1.Mallocs-m0.Mallocs)/float64(n), "allocs/doc")
			b.ReportMetric(float64(peak)/(1<<20), "peak-heap-MB")
			b.ReportMetric(float64(maxRSS())/(1<<20), "maxrss-MB")
		})
	}
}

// peakHeap samples the heap (live and not yet collected objects) every
// few milliseconds until the returned function is called, which returns
// the peak.
func peakHeap() (stop func() uint64) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	var peak uint64
	wg.Go(func() {
		s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
		t := time.NewTicker(2 * time.Millisecond)
		defer t.Stop()
		for {
			metrics.Read(s)
			peak = max(peak, s[0].Value.Uint64())
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	})
	return func() uint64 {
		close(done)
		wg.Wait()
		return peak
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func maxRSS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return ru.Maxrss << 10 // KiB on Linux
}
