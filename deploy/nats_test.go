package deploy

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// startNATS runs nats-server in-process on a committed config file, with
// the secrets in the environment as compose passes them, JetStream in a
// temporary directory and free ports.
func startNATS(t *testing.T, conf string, env map[string]string, tweak func(*server.Options)) *server.Server {
	s, _ := startNATSOpts(t, conf, env, tweak)
	return s
}

func startNATSOpts(t *testing.T, conf string, env map[string]string, tweak func(*server.Options)) (*server.Server, *server.Options) {
	t.Helper()
	for k, v := range env {
		t.Setenv(k, v)
	}
	opts, err := server.ProcessConfigFile(conf)
	if err != nil {
		t.Fatalf("processing %s: %v", conf, err)
	}
	opts.Host, opts.Port = "127.0.0.1", -1
	opts.HTTPHost, opts.HTTPPort = "127.0.0.1", -1
	opts.StoreDir = t.TempDir()
	opts.NoSigs = true
	if tweak != nil {
		tweak(opts)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		t.Fatalf("starting nats-server on %s: %v", conf, err)
	}
	go s.Start()
	if !s.ReadyForConnections(15 * time.Second) {
		t.Fatalf("nats-server on %s did not start", conf)
	}
	t.Cleanup(func() { s.Shutdown(); s.WaitForShutdown() })
	return s, opts
}

// natsClient is a connection as one user, with the permission errors the
// server reports asynchronously collected.
type natsClient struct {
	nc   *nats.Conn
	js   jetstream.JetStream
	errs chan error
}

func connectAs(t *testing.T, url, user, password string) *natsClient {
	t.Helper()
	c := &natsClient{errs: make(chan error, 64)}
	opts := []nats.Option{}
	switch user {
	case "fetcher", "enricher", "indexer":
		// As the services do (service.ConnectNATS): each reads replies on
		// an inbox of its own, the only one its user may subscribe to.
		opts = append(opts, nats.CustomInboxPrefix("_INBOX_"+user))
	}
	nc, err := nats.Connect(url, append(opts, nats.UserInfo(user, password), nats.Name("deploy-test-"+user),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			select {
			case c.errs <- err:
			default:
			}
		}))...)
	if err != nil {
		t.Fatalf("connecting as %s: %v", user, err)
	}
	t.Cleanup(nc.Close)
	c.nc = nc
	if c.js, err = jetstream.New(nc); err != nil {
		t.Fatal(err)
	}
	return c
}

// denied waits for the server's permission violation naming subject.
func (c *natsClient) denied(t *testing.T, subject string) {
	t.Helper()
	timeout := time.After(3 * time.Second)
	for {
		select {
		case err := <-c.errs:
			if strings.Contains(strings.ToLower(err.Error()), "permissions violation") && strings.Contains(err.Error(), subject) {
				return
			}
		case <-timeout:
			t.Errorf("no permission violation for %q", subject)
			return
		}
	}
}

// cannotPublish: a core publish to subject is refused.
func (c *natsClient) cannotPublish(t *testing.T, subject string) {
	t.Helper()
	if err := c.nc.Publish(subject, []byte("x")); err != nil {
		t.Fatal(err)
	}
	_ = c.nc.Flush()
	c.denied(t, subject)
}

// cannotRequest: a JetStream API request is refused (and has no effect).
func (c *natsClient) cannotRequest(t *testing.T, subject string, body string) {
	t.Helper()
	_, err := c.nc.Request(subject, []byte(body), 2*time.Second)
	if err == nil {
		t.Errorf("request to %s answered", subject)
		return
	}
	c.denied(t, subject)
}

func natsEnv(env map[string]string) map[string]string {
	m := map[string]string{}
	for k, v := range env {
		if strings.HasPrefix(k, "NATS_") && strings.HasSuffix(k, "_PASSWORD") {
			m[k] = v
		}
	}
	return m
}

// TestNATSConfig: the committed server config, as the image would run it.
func TestNATSConfig(t *testing.T) {
	env, _ := testEnv(t)
	s, opts := startNATSOpts(t, "nats/nats.conf", natsEnv(env), nil)
	if !opts.SyncAlways {
		t.Errorf("sync_interval is not always")
	}
	if !opts.JetStream {
		t.Errorf("JetStream is off")
	}
	// The healthcheck's URL answers 200.
	resp, err := http.Get("http://" + s.MonitorAddr().String() + "/healthz?js-enabled-only=true")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("/healthz?js-enabled-only=true: %s", resp.Status)
	}
	// No service user may delete, purge or roam the JetStream API.
	for _, u := range opts.Users {
		if u.Username == "admin" {
			continue
		}
		if u.Permissions == nil || u.Permissions.Publish == nil || u.Permissions.Subscribe == nil {
			t.Errorf("user %s has no publish or subscribe permissions: everything is allowed", u.Username)
			continue
		}
		for _, subj := range u.Permissions.Publish.Allow {
			if subj == ">" || strings.HasPrefix(subj, "$JS.API.>") || strings.HasPrefix(subj, "$JS.>") || strings.HasPrefix(subj, "$KV.>") ||
				strings.Contains(subj, ".DELETE.NEWS") && u.Username != "consumer" || strings.Contains(subj, ".PURGE.") || strings.Contains(subj, "STREAM.DELETE") {
				t.Errorf("user %s may publish %q", u.Username, subj)
			}
		}
	}
	// An unset password stops the server at start.
	t.Setenv("NATS_ADMIN_PASSWORD", "")
	os.Unsetenv("NATS_ADMIN_PASSWORD")
	if _, err := server.ProcessConfigFile("nats/nats.conf"); err == nil {
		t.Errorf("nats.conf loads with NATS_ADMIN_PASSWORD unset")
	}
}

// TestNATSPermissions proves each user's permissions on a real server
// running the committed config: the real service binaries run as their
// users through a whole pipeline (feed → raw → enriched → index, dead
// letters, feed health), and each user is refused what it must not do.
func TestNATSPermissions(t *testing.T) {
	env, _ := testEnv(t)
	s := startNATS(t, "nats/nats.conf", natsEnv(env), nil)
	url := s.ClientURL()
	admin := connectAs(t, url, "admin", env["NATS_ADMIN_PASSWORD"])
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	bin := buildBinaries(t)
	// Feed health as seen by the read-only user.
	consumer := connectAs(t, url, "consumer", env["NATS_CONSUMER_PASSWORD"])
	health, err := consumer.nc.SubscribeSync("news.feeds.health.>")
	if err != nil {
		t.Fatal(err)
	}
	_ = consumer.nc.Flush()

	feeds := feedServer(t)
	run := func(name string, extra ...string) *exec.Cmd {
		return startService(t, bin, name, append([]string{
			"WIREDESK_NATS_URL=" + url,
			"WIREDESK_NATS_USER=" + name,
			"WIREDESK_NATS_PASSWORD=" + env["NATS_"+strings.ToUpper(name)+"_PASSWORD"],
		}, extra...))
	}

	// fetcher: KV buckets, leases, raw articles, feed health.
	fetcher := run("fetcher", "WIREDESK_FEEDS="+feeds.registry, "WIREDESK_FETCHER_ALLOW_HOSTS=127.0.0.1")
	streamHas(t, admin, "NEWS_RAW", 2)
	for _, b := range []string{"wiredesk_feed_state", "wiredesk_seen", "wiredesk_feed_leases"} {
		if _, err := admin.js.KeyValue(ctx, b); err != nil {
			t.Errorf("KV bucket %s: %v", b, err)
		}
	}
	if m, err := health.NextMsg(60 * time.Second); err != nil {
		t.Errorf("no feed health event from the failing feed: %v", err)
	} else if !strings.Contains(m.Subject, "broken") {
		t.Errorf("feed health on %s", m.Subject)
	}

	// enricher: its durable consumer on NEWS_RAW, enriched articles, and a
	// dead letter for a message that is not JSON.
	if _, err := admin.js.Publish(ctx, "news.raw.garbage", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	enricher := run("enricher")
	streamHas(t, admin, "NEWS_ENRICHED", 2)
	streamHas(t, admin, "NEWS_DLQ", 1)
	consumerDone(t, admin, "NEWS_RAW", "enricher")

	// indexer: its durable consumer on NEWS_ENRICHED, the embedded index
	// (no Elasticsearch here), and a dead letter.
	if _, err := admin.js.Publish(ctx, "news.enriched.relevant.garbage", []byte("not json")); err != nil {
		t.Fatal(err)
	}
	indexer := run("indexer", "WIREDESK_BLEVE_DIR="+filepath.Join(t.TempDir(), "index"))
	streamHas(t, admin, "NEWS_DLQ", 2)
	consumerDone(t, admin, "NEWS_ENRICHED", "indexer")

	// The binaries' own healthcheck says ready through the deploy config.
	for _, c := range []*exec.Cmd{fetcher, enricher, indexer} {
		name := filepath.Base(c.Path)
		hc := exec.Command(c.Path, "healthcheck", "-config", "wiredesk.yaml")
		hc.Env = c.Env
		if out, err := hc.CombinedOutput(); err != nil {
			t.Errorf("%s healthcheck: %v\n%s", name, err, out)
		}
	}

	// The read-only user reads NEWS_ENRICHED through consumers of its own.
	oc, err := consumer.js.OrderedConsumer(ctx, "NEWS_ENRICHED", jetstream.OrderedConsumerConfig{})
	if err != nil {
		t.Fatalf("consumer: ordered consumer on NEWS_ENRICHED: %v", err)
	}
	if _, err := oc.Next(jetstream.FetchMaxWait(5 * time.Second)); err != nil {
		t.Errorf("consumer: reading NEWS_ENRICHED: %v", err)
	}
	dc, err := consumer.js.CreateOrUpdateConsumer(ctx, "NEWS_ENRICHED", jetstream.ConsumerConfig{Durable: "downstream", AckPolicy: jetstream.AckExplicitPolicy})
	if err != nil {
		t.Fatalf("consumer: durable consumer on NEWS_ENRICHED: %v", err)
	}
	if m, err := dc.Next(jetstream.FetchMaxWait(5 * time.Second)); err != nil {
		t.Errorf("consumer: pulling from its durable: %v", err)
	} else if err := m.DoubleAck(ctx); err != nil {
		t.Errorf("consumer: acking: %v", err)
	}

	// What each user must not do.
	fetch := connectAs(t, url, "fetcher", env["NATS_FETCHER_PASSWORD"])
	enrich := connectAs(t, url, "enricher", env["NATS_ENRICHER_PASSWORD"])
	index := connectAs(t, url, "indexer", env["NATS_INDEXER_PASSWORD"])
	t.Run("fetcher", func(t *testing.T) {
		fetch.cannotPublish(t, "news.enriched.relevant.x")
		fetch.cannotPublish(t, "news.dlq.fetcher")
		fetch.cannotPublish(t, "$KV.other_bucket.k")
		fetch.cannotRequest(t, "$JS.API.STREAM.DELETE.NEWS_RAW", "")
		fetch.cannotRequest(t, "$JS.API.STREAM.PURGE.NEWS_RAW", "")
		fetch.cannotRequest(t, "$JS.API.CONSUMER.MSG.NEXT.NEWS_RAW.enricher", `{"batch":1}`)
		if _, err := fetch.nc.SubscribeSync("news.raw.>"); err == nil {
			_ = fetch.nc.Flush()
			fetch.denied(t, "news.raw.>")
		}
		// Its own publishes work.
		if _, err := fetch.js.Publish(ctx, "news.raw.x", []byte("{}")); err != nil {
			t.Errorf("fetcher: publishing news.raw.x: %v", err)
		}
	})
	t.Run("enricher", func(t *testing.T) {
		enrich.cannotPublish(t, "news.raw.x")
		enrich.cannotPublish(t, "news.dlq.indexer")
		enrich.cannotPublish(t, "news.feeds.health.x")
		enrich.cannotRequest(t, "$JS.API.STREAM.DELETE.NEWS_ENRICHED", "")
		enrich.cannotRequest(t, "$JS.API.CONSUMER.MSG.NEXT.NEWS_ENRICHED.indexer", `{"batch":1}`)
		enrich.cannotRequest(t, "$JS.API.CONSUMER.DELETE.NEWS_RAW.enricher", "")
		if _, err := enrich.js.Publish(ctx, "news.enriched.other.x", []byte("{}")); err != nil {
			t.Errorf("enricher: publishing news.enriched.other.x: %v", err)
		}
	})
	t.Run("indexer", func(t *testing.T) {
		index.cannotPublish(t, "news.raw.x")
		index.cannotPublish(t, "news.enriched.relevant.x")
		index.cannotPublish(t, "news.dlq.enricher")
		index.cannotRequest(t, "$JS.API.STREAM.DELETE.NEWS_RAW", "")
		index.cannotRequest(t, "$JS.API.CONSUMER.MSG.NEXT.NEWS_RAW.enricher", `{"batch":1}`)
		index.cannotRequest(t, "$JS.API.STREAM.CREATE.KV_wiredesk_seen", "{}")
	})
	t.Run("consumer", func(t *testing.T) {
		consumer.cannotPublish(t, "news.enriched.relevant.x")
		consumer.cannotPublish(t, "news.raw.x")
		consumer.cannotPublish(t, "news.dlq.indexer")
		consumer.cannotRequest(t, "$JS.API.STREAM.DELETE.NEWS_ENRICHED", "")
		consumer.cannotRequest(t, "$JS.API.STREAM.PURGE.NEWS_ENRICHED", "")
		consumer.cannotRequest(t, "$JS.API.STREAM.UPDATE.NEWS_ENRICHED", "{}")
		consumer.cannotRequest(t, "$JS.API.CONSUMER.DELETE.NEWS_ENRICHED.indexer", "")
		consumer.cannotRequest(t, "$JS.API.CONSUMER.MSG.NEXT.NEWS_ENRICHED.indexer", `{"batch":1}`)
		consumer.cannotRequest(t, "$JS.API.CONSUMER.INFO.NEWS_RAW.enricher", "")
		// The services' inboxes carry their pull deliveries (raw articles
		// included): no other user may read them.
		for _, inbox := range []string{"_INBOX_fetcher.>", "_INBOX_enricher.>", "_INBOX_indexer.>"} {
			if _, err := consumer.nc.SubscribeSync(inbox); err != nil {
				t.Fatal(err)
			}
			_ = consumer.nc.Flush()
			consumer.denied(t, inbox)
		}
		consumer.cannotRequest(t, "$JS.API.STREAM.MSG.GET.NEWS_RAW", `{"seq":1}`)
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		if err := consumer.js.DeleteStream(ctx, "NEWS_ENRICHED"); err == nil {
			t.Errorf("consumer deleted NEWS_ENRICHED")
		}
	})
	// Nothing was lost to the refusals.
	for _, st := range []string{"NEWS_RAW", "NEWS_ENRICHED", "NEWS_DLQ"} {
		if _, err := admin.js.Stream(ctx, st); err != nil {
			t.Errorf("stream %s: %v", st, err)
		}
	}
	if _, err := admin.js.Consumer(ctx, "NEWS_ENRICHED", "indexer"); err != nil {
		t.Errorf("the indexer's consumer: %v", err)
	}

	// The services stop cleanly on SIGTERM (docker stop), within the grace.
	for _, c := range []*exec.Cmd{fetcher, enricher, indexer} {
		stopService(t, c)
	}
}

// TestNATSCluster: three servers on cluster.conf (routes authenticated
// through the NATS_ROUTE_n variables compose sets) form a JetStream
// cluster, and the real enricher, configured as compose.cluster.yaml
// configures it, creates the streams at R3.
func TestNATSCluster(t *testing.T) {
	env, _ := testEnv(t)
	base := natsEnv(env)
	ports := freePorts(t, 3)
	for i, p := range ports {
		base[fmt.Sprintf("NATS_ROUTE_%d", i+1)] = fmt.Sprintf("nats-route://route:%s@127.0.0.1:%d", env["NATS_ROUTE_PASSWORD"], p)
	}
	var servers []*server.Server
	var urls []string
	for i := range 3 {
		base["NATS_SERVER_NAME"] = fmt.Sprintf("wiredesk-nats-%d", i+1)
		s := startNATS(t, "nats/cluster.conf", base, func(o *server.Options) {
			o.Cluster.Host, o.Cluster.Port = "127.0.0.1", ports[i]
		})
		servers = append(servers, s)
		urls = append(urls, s.ClientURL())
	}
	eventually(t, 30*time.Second, "three routed nodes", func() bool {
		for _, s := range servers {
			if s.NumRoutes() < 2 {
				return false
			}
		}
		return true
	})
	bin := buildBinaries(t)
	enricher := startService(t, bin, "enricher", []string{
		"WIREDESK_NATS_URL=" + strings.Join(urls, ","),
		"WIREDESK_NATS_USER=enricher",
		"WIREDESK_NATS_PASSWORD=" + env["NATS_ENRICHER_PASSWORD"],
		"WIREDESK_STREAM_REPLICAS=3",
	})
	admin := connectAs(t, strings.Join(urls, ","), "admin", env["NATS_ADMIN_PASSWORD"])
	eventually(t, 60*time.Second, "NEWS_RAW, NEWS_ENRICHED and NEWS_DLQ at R3", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		for _, name := range []string{"NEWS_RAW", "NEWS_ENRICHED", "NEWS_DLQ"} {
			st, err := admin.js.Stream(ctx, name)
			if err != nil {
				return false
			}
			info := st.CachedInfo()
			if info.Config.Replicas != 3 || info.Cluster == nil || len(info.Cluster.Replicas) != 2 {
				return false
			}
		}
		return true
	})
	stopService(t, enricher)
}

type feeds struct{ registry string }

// feedServer serves one good RSS feed and one broken one, and writes a
// feed registry naming both.
func feedServer(t *testing.T) feeds {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/rss" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprint(w, `<?xml version="1.0"?><rss version="2.0"><channel><title>Test</title><link>https://example.org/</link>
<item><title>Ceasefire talks on Lachin corridor</title><link>https://example.org/a/1</link><guid>a1</guid><pubDate>Mon, 02 Nov 2026 10:00:00 GMT</pubDate>
<description>Armenia and Azerbaijan met in Stepanakert to discuss the Lachin corridor and landmines.</description></item>
<item><title>Weather</title><link>https://example.org/a/2</link><guid>a2</guid><pubDate>Mon, 02 Nov 2026 11:00:00 GMT</pubDate>
<description>Sunny in Paris today.</description></item>
</channel></rss>`)
	}))
	t.Cleanup(srv.Close)
	path := filepath.Join(t.TempDir(), "feeds.yaml")
	reg := fmt.Sprintf("feeds:\n  - {id: test-feed, name: Test, url: %q}\n  - {id: broken, name: Broken, url: %q}\n", srv.URL+"/rss", srv.URL+"/gone")
	if err := os.WriteFile(path, []byte(reg), 0o644); err != nil {
		t.Fatal(err)
	}
	return feeds{registry: path}
}

// startService runs a service binary on deploy/wiredesk.yaml with env on
// a free listen port, and fails the test if its log mentions a NATS
// permission violation.
func startService(t *testing.T, bin, name string, env []string) *exec.Cmd {
	t.Helper()
	port := freePorts(t, 1)[0]
	env = append(env, fmt.Sprintf("WIREDESK_%s_LISTEN=127.0.0.1:%d", strings.ToUpper(name), port))
	cmd := exec.Command(filepath.Join(bin, name), "-config", "wiredesk.yaml")
	cmd.Env = env
	out := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
		if log := out.String(); strings.Contains(strings.ToLower(log), "permissions violation") || t.Failed() {
			if strings.Contains(strings.ToLower(log), "permissions violation") {
				t.Errorf("%s logged a permission error", name)
			}
			t.Logf("%s output:\n%s", name, log)
		}
	})
	probe := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
	eventually(t, 60*time.Second, name+" ready", func() bool {
		resp, err := http.Get(probe)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return cmd
}

func stopService(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	_ = cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("%s exited on SIGTERM with %v", filepath.Base(cmd.Path), err)
		}
	case <-time.After(40 * time.Second):
		t.Errorf("%s did not stop within 40s of SIGTERM", filepath.Base(cmd.Path))
		_ = cmd.Process.Kill()
	}
}

func streamHas(t *testing.T, c *natsClient, stream string, n uint64) {
	t.Helper()
	eventually(t, 90*time.Second, fmt.Sprintf("%d messages in %s", n, stream), func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		st, err := c.js.Stream(ctx, stream)
		return err == nil && st.CachedInfo().State.Msgs >= n
	})
}

// consumerDone: every message of the stream was delivered and acked.
func consumerDone(t *testing.T, c *natsClient, stream, durable string) {
	t.Helper()
	eventually(t, 90*time.Second, durable+" to ack all of "+stream, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		cons, err := c.js.Consumer(ctx, stream, durable)
		if err != nil {
			return false
		}
		info, err := cons.Info(ctx)
		return err == nil && info.NumPending == 0 && info.NumAckPending == 0 && info.Delivered.Stream > 0
	})
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var lns []net.Listener
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		lns = append(lns, ln)
		ports = append(ports, ln.Addr().(*net.TCPAddr).Port)
	}
	for _, ln := range lns {
		ln.Close()
	}
	return ports
}
