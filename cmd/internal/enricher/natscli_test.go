package enricher_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wiredesk/wiredesk/cmd/internal/bus"
	"github.com/wiredesk/wiredesk/cmd/internal/embedded"
	"github.com/wiredesk/wiredesk/cmd/internal/enricher"
	"github.com/wiredesk/wiredesk/cmd/internal/schemas"
	"github.com/wiredesk/wiredesk/cmd/internal/stagetest"
	"github.com/wiredesk/wiredesk/configs"
	"github.com/wiredesk/wiredesk/enrich"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// natsCLI returns the path of the official nats CLI, or skips the test
// loudly. CI installs it (.ci/run) and sets WIREDESK_TEST_NATS_CLI=required,
// which turns the skip into a failure.
func natsCLI(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("nats")
	if err == nil {
		return p
	}
	msg := "the nats CLI is not on PATH: go install github.com/nats-io/natscli/nats@v0.5.0 and put $(go env GOPATH)/bin on PATH (.ci/run does both)"
	if os.Getenv("WIREDESK_TEST_NATS_CLI") == "required" {
		t.Fatal(msg)
	}
	fmt.Fprintf(os.Stderr, "\n!!! SKIPPING %s: %s\n\n", t.Name(), msg)
	t.Skip(msg)
	return ""
}

// cli runs the nats CLI against url and returns its standard output.
func cli(t *testing.T, bin, url string, args ...string) string {
	t.Helper()
	out, err := runCLI(bin, url, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runCLI is cli for goroutines other than the test's.
func runCLI(bin, url string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append([]string{"--server", url, "--no-context"}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("nats %s: %w\nstderr: %s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// rawIDs reads the article ids from --raw output: one JSON article a line.
func rawIDs(t *testing.T, out string) []string {
	t.Helper()
	var ids []string
	sc := bufio.NewScanner(strings.NewReader(out))
	sc.Buffer(make([]byte, 0, 1<<20), 8<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" {
			continue
		}
		var a article.Enriched
		if err := json.Unmarshal([]byte(line), &a); err != nil {
			t.Fatalf("nats printed a line that is not an article: %.200q: %v", line, err)
		}
		ids = append(ids, a.ID)
	}
	slices.Sort(ids)
	return ids
}

// TestNatsCLITopicSubscription drives the official nats CLI against the
// real enricher service on an embedded server listening on a port. A
// plain `nats sub news.topic.landmines`, started before the enricher runs,
// must receive exactly the demo stories the rules tag with landmines; so
// must a replay of the stream, and a durable consumer added with
// `nats consumer add … --deliver <sequence>`. The schema of the ce-type
// must be readable with `nats kv get`.
func TestNatsCLITopicSubscription(t *testing.T) {
	bin := natsCLI(t)
	ctx := context.Background()
	ns, err := embedded.StartNATS(embedded.NATSOptions{StoreDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ns.Shutdown(); ns.WaitForShutdown() })
	url := ns.ClientURL()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.EnsureStreams(ctx, js, bus.DefaultTopology()); err != nil {
		t.Fatal(err)
	}

	// What the rules tag with landmines, worked out without NATS.
	raw := demoRaw(t)
	rules, err := enrich.Load(configs.FS, "taxonomy.yaml", "gazetteer.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, r := range raw {
		e, err := rules.Enrich(ctx, r)
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(e.Topics, func(tp article.Topic) bool { return tp.ID == "landmines" }) {
			want = append(want, e.ID)
		}
	}
	slices.Sort(want)
	if len(want) < 3 {
		t.Fatalf("the demo corpus has %d landmine stories, want at least 3", len(want))
	}
	const subject = "news.topic.landmines"

	// Live: a core subscription, as any NATS client makes it.
	subs := func() int {
		sz, err := ns.Subsz(&server.SubszOptions{Subscriptions: true, Test: subject})
		if err != nil {
			t.Fatal(err)
		}
		return sz.Total
	}
	before := subs()
	type result struct {
		out string
		err error
	}
	live := make(chan result, 1)
	go func() {
		out, err := runCLI(bin, url, "sub", subject, "--count", fmt.Sprint(len(want)), "--raw")
		live <- result{out, err}
	}()
	stagetest.Eventually(t, "nats sub to subscribe", func() bool { return subs() > before })

	publishRaw(t, js, raw)
	runEnricher(t, js, 16)
	stagetest.Eventually(t, "the enricher to drain NEWS_RAW", func() bool {
		return stagetest.Drained(js, bus.StreamRaw, enricher.Stage)
	})
	select {
	case r := <-live:
		if r.err != nil {
			t.Fatal(r.err)
		}
		if got := rawIDs(t, r.out); !slices.Equal(got, want) {
			t.Errorf("nats sub %s received\n%q\nwant\n%q", subject, got, want)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("nats sub did not receive the expected count within 60s")
	}

	t.Run("replay the stream", func(t *testing.T) {
		// -T stops at the end of the stream, so an extra copy would show.
		out := cli(t, bin, url, "sub", subject, "--all", "--terminate-at-end", "--raw")
		if got := rawIDs(t, out); !slices.Equal(got, want) {
			t.Errorf("replay received\n%q\nwant\n%q", got, want)
		}
	})

	t.Run("durable consumer from a sequence", func(t *testing.T) {
		cli(t, bin, url, "consumer", "add", bus.StreamFanout, "landmines-desk",
			"--filter", subject, "--deliver", "1", "--pull", "--ack", "explicit", "--defaults")
		out := cli(t, bin, url, "consumer", "next", bus.StreamFanout, "landmines-desk", "--count", fmt.Sprint(len(want)), "--raw")
		if got := rawIDs(t, out); !slices.Equal(got, want) {
			t.Errorf("consumer next received\n%q\nwant\n%q", got, want)
		}
		stagetest.Eventually(t, "the consumer to have nothing left", func() bool {
			return stagetest.Drained(js, bus.StreamFanout, "landmines-desk")
		})
	})

	t.Run("durable consumer from a time", func(t *testing.T) {
		// --deliver takes a sequence or a duration ago; an absolute start
		// time goes through a JSON configuration, as the README shows.
		start := time.Now().Add(-time.Hour).UTC().Format(time.RFC3339)
		conf := fmt.Sprintf(`{"durable_name": "landmines-since", "filter_subject": %q, "deliver_policy": "by_start_time", "opt_start_time": %q, "ack_policy": "explicit"}`, subject, start)
		file := filepath.Join(t.TempDir(), "landmines.json")
		if err := os.WriteFile(file, []byte(conf), 0o600); err != nil {
			t.Fatal(err)
		}
		cli(t, bin, url, "consumer", "add", bus.StreamFanout, "--config", file)
		out := cli(t, bin, url, "consumer", "next", bus.StreamFanout, "landmines-since", "--count", fmt.Sprint(len(want)), "--raw")
		if got := rawIDs(t, out); !slices.Equal(got, want) {
			t.Errorf("consumer next received\n%q\nwant\n%q", got, want)
		}
	})

	t.Run("schema by ce-type", func(t *testing.T) {
		out := cli(t, bin, url, "kv", "get", schemas.Bucket, bus.TypeEnriched, "--raw")
		doc, err := schemas.Fetch(ctx, js, bus.TypeEnriched)
		if err != nil {
			t.Fatal(err)
		}
		if strings.TrimSpace(out) != strings.TrimSpace(string(doc)) {
			t.Errorf("nats kv get returned %.200q, want the enriched schema", out)
		}
	})
}
