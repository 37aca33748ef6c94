package cli_test

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wiredesk/wiredesk/cmd/internal/bus"
	blevestore "github.com/wiredesk/wiredesk/index/bleve"
)

// syntheticFeed is an RSS feed of n distinct articles.
func syntheticFeed(feed, n int) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><rss version="2.0"><channel><title>Synthetic ` + strconv.Itoa(feed) + `</title><link>https://synthetic.example/</link><description>test</description>`)
	for i := range n {
		fmt.Fprintf(&b, `<item><title>Deminers clear mines near Fuzuli, report %d-%d</title><link>https://synthetic.example/%d/%d?utm_source=rss</link><guid>s-%d-%d</guid><pubDate>Mon, 02 Nov 2026 10:%02d:00 GMT</pubDate><description>Azerbaijani deminers cleared anti-tank mines near Fuzuli in Karabakh, item %d of feed %d.</description></item>`,
			feed, i, feed, i, feed, i, i%60, i, feed)
	}
	b.WriteString(`</channel></rss>`)
	return b.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestRunSurvivesSIGTERM is the skeleton's acceptance check: SIGTERM to a
// running `wiredesk run` mid-work, then a restart, loses nothing and
// duplicates nothing in the index.
func TestRunSurvivesSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the wiredesk binary")
	}
	const feeds, perFeed = 8, 150
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/feed-"), ".xml"))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprint(w, syntheticFeed(n, perFeed))
	}))
	defer srv.Close()

	dir := t.TempDir()
	bin := filepath.Join(dir, "wiredesk")
	if out, err := exec.Command("go", "build", "-o", bin, "../../wiredesk").CombinedOutput(); err != nil {
		t.Fatalf("building wiredesk: %v\n%s", err, out)
	}
	var reg strings.Builder
	reg.WriteString("feeds:\n")
	for i := range feeds {
		fmt.Fprintf(&reg, "  - {id: feed-%d, name: Feed %d, url: %s/feed-%d.xml, min_interval: 1h, max_interval: 2h}\n", i, i, srv.URL, i)
	}
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	feedsPath := write("feeds.yaml", reg.String())
	httpPort := freePort(t)
	cfgPath := write("wiredesk.yaml", fmt.Sprintf(`
fetcher:
  feeds: %s
  allow_hosts: ["127.0.0.1"]
indexer:
  consumer: {batch: 50}
`, feedsPath))
	natsPort := freePort(t)
	data := filepath.Join(dir, "data")
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "run", "-config", cfgPath, "-data", data, "-nats.port", strconv.Itoa(natsPort),
			"-listen", "127.0.0.1:"+strconv.Itoa(httpPort), "-log.level", "info")
		cmd.Stderr = &lockedBuffer{}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	metric := func(name string) float64 {
		resp, err := http.Get("http://127.0.0.1:" + strconv.Itoa(httpPort) + "/metrics")
		if err != nil {
			return -1
		}
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if v, ok := strings.CutPrefix(sc.Text(), name+" "); ok {
				f, _ := strconv.ParseFloat(v, 64)
				return f
			}
		}
		return 0
	}
	stop := func(cmd *exec.Cmd) {
		t.Helper()
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatalf("wiredesk run exited with %v after SIGTERM:\n%s", err, cmd.Stderr)
			}
		case <-time.After(60 * time.Second):
			_ = cmd.Process.Kill()
			t.Fatalf("wiredesk run did not stop within 60s of SIGTERM:\n%s", cmd.Stderr)
		}
	}

	// First run: stop it as soon as the indexer has written something.
	first := start()
	eventually(t, "first documents indexed", func() bool { return metric("wiredesk_indexer_documents_total") > 0 })
	stop(first)

	// Second run: let it finish everything left.
	second := start()
	eventually(t, "the pipeline to drain", func() bool {
		nc, err := nats.Connect("nats://127.0.0.1:" + strconv.Itoa(natsPort))
		if err != nil {
			return false
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx := context.Background()
		raw, err := js.Stream(ctx, bus.StreamRaw)
		if err != nil {
			return false
		}
		info, err := raw.Info(ctx)
		if err != nil || info.State.Msgs != feeds*perFeed {
			return false
		}
		for _, c := range [][2]string{{bus.StreamRaw, "enricher"}, {bus.StreamEnriched, "indexer"}} {
			cons, err := js.Consumer(ctx, c[0], c[1])
			if err != nil {
				return false
			}
			ci, err := cons.Info(ctx)
			if err != nil || ci.NumPending != 0 || ci.NumAckPending != 0 {
				return false
			}
		}
		return true
	})
	stop(second)

	store, err := blevestore.Open(filepath.Join(data, "index"))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	n, err := store.Count(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if n != feeds*perFeed {
		t.Errorf("index holds %d documents after SIGTERM and restart, want %d", n, feeds*perFeed)
	}
}
