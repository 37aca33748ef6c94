package ingest

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// newTestClient returns a client allowed to reach loopback test servers.
func newTestClient(t *testing.T, o Options) *Client {
	t.Helper()
	if o.Allow == nil && !o.AllowPrivate {
		o.Allow = []string{"127.0.0.1", "::1"}
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Second
	}
	o.Now = func() time.Time { return testNow }
	c := NewClient(o)
	t.Cleanup(c.CloseIdleConnections)
	return c
}

func serve(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func wantClass(t *testing.T, err error, class string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want class %s", class)
	}
	if got := ErrorClass(err); got != class {
		t.Fatalf("ErrorClass = %s, want %s; error: %v", got, class, err)
	}
	if strings.Contains(err.Error(), "\n") {
		t.Errorf("error is not one line: %q", err)
	}
}

func TestFetchConditionalGET(t *testing.T) {
	const etag = `"v1"`
	const lastMod = "Sun, 01 Mar 2026 10:00:00 GMT"
	var full, notModified atomic.Int32
	var gotUA, gotAuth string
	srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
		gotUA, gotAuth = r.Header.Get("User-Agent"), r.Header.Get("Authorization")
		if r.Header.Get("If-None-Match") == etag && r.Header.Get("If-Modified-Since") == lastMod {
			notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
		full.Add(1)
		w.Header().Set("ETag", etag)
		w.Header().Set("Last-Modified", lastMod)
		w.Header().Set("Cache-Control", "public, max-age=900")
		w.Header().Set("Content-Type", "application/rss+xml; charset=utf-8")
		io.WriteString(w, rssDoc(3))
	})
	c := newTestClient(t, Options{UserAgent: "wiredesk-test/1 (+https://example.org/contact)"})
	f := testFeed(srv.URL + "/feed.xml")
	f.Headers = map[string]string{"Authorization": "Bearer t"}

	res, err := c.Fetch(context.Background(), f, Validators{})
	if err != nil {
		t.Fatal(err)
	}
	if res.NotModified || len(res.Articles) != 3 {
		t.Fatalf("first fetch: NotModified=%v articles=%d", res.NotModified, len(res.Articles))
	}
	if res.Validators != (Validators{ETag: etag, LastModified: lastMod}) {
		t.Errorf("validators = %+v", res.Validators)
	}
	if res.Hints.MaxAge != 15*time.Minute || res.Hints.TTL != 30*time.Minute {
		t.Errorf("hints = %+v", res.Hints)
	}
	if res.Bytes == 0 || res.StatusCode != 200 {
		t.Errorf("bytes=%d status=%d", res.Bytes, res.StatusCode)
	}
	if gotUA != "wiredesk-test/1 (+https://example.org/contact)" || gotAuth != "Bearer t" {
		t.Errorf("request headers: UA %q, Authorization %q", gotUA, gotAuth)
	}
	a := res.Articles[0]
	if a.Source != "test" || a.FeedURL != f.URL || a.URL != "https://news.example.org/a/0" || a.ID == "" || a.Revision == "" {
		t.Errorf("article = %+v", a)
	}

	res2, err := c.Fetch(context.Background(), f, res.Validators)
	if err != nil {
		t.Fatal(err)
	}
	if !res2.NotModified || len(res2.Articles) != 0 || res2.Validators != res.Validators {
		t.Fatalf("second fetch: %+v", res2)
	}
	if full.Load() != 1 || notModified.Load() != 1 {
		t.Errorf("server saw %d full and %d conditional responses", full.Load(), notModified.Load())
	}
}

func TestFetchContentEncodings(t *testing.T) {
	doc := []byte(rssDoc(5))
	encode := map[string]func(io.Writer) io.WriteCloser{
		"gzip":         func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) },
		"deflate":      func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) },
		"deflate-raw":  func(w io.Writer) io.WriteCloser { fw, _ := flate.NewWriter(w, 5); return fw },
		"identity":     nil,
		"x-gzip-upper": func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) },
	}
	header := map[string]string{"gzip": "gzip", "deflate": "deflate", "deflate-raw": "deflate", "identity": "", "x-gzip-upper": "X-GZIP"}
	for name, enc := range encode {
		t.Run(name, func(t *testing.T) {
			var accept string
			srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
				accept = r.Header.Get("Accept-Encoding")
				if enc == nil {
					w.Write(doc)
					return
				}
				w.Header().Set("Content-Encoding", header[name])
				zw := enc(w)
				zw.Write(doc)
				zw.Close()
			})
			c := newTestClient(t, Options{})
			res, err := c.Fetch(context.Background(), testFeed(srv.URL), Validators{})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Articles) != 5 || res.Bytes != int64(len(doc)) {
				t.Errorf("articles=%d bytes=%d (want %d)", len(res.Articles), res.Bytes, len(doc))
			}
			if !strings.Contains(accept, "gzip") || !strings.Contains(accept, "deflate") {
				t.Errorf("Accept-Encoding = %q", accept)
			}
		})
	}
}

func TestFetchTooLarge(t *testing.T) {
	const limit = 64 << 10
	big := bytes.Repeat([]byte("<!-- padding -->"), 2*limit/16)
	// A gzip bomb: 1 GiB of zeros as 1024 concatenated gzip members of
	// 1 MiB each (about 1 MiB compressed); gzip.Reader reads multistream.
	var member, bomb bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&member, gzip.BestCompression)
	zw.Write(make([]byte, 1<<20))
	zw.Close()
	for range 1024 {
		bomb.Write(member.Bytes())
	}
	cases := map[string]http.HandlerFunc{
		"content-length": func(w http.ResponseWriter, r *http.Request) { w.Write(big) },
		"chunked": func(w http.ResponseWriter, r *http.Request) {
			for i := 0; i < len(big); i += 4096 {
				w.Write(big[i : i+4096])
				w.(http.Flusher).Flush()
			}
		},
		"endless": func(w http.ResponseWriter, r *http.Request) {
			for r.Context().Err() == nil {
				if _, err := w.Write(big[:4096]); err != nil {
					return
				}
			}
		},
		"gzip-bomb": func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Encoding", "gzip")
			w.Write(bomb.Bytes())
		},
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			srv := serve(t, h)
			c := newTestClient(t, Options{MaxBodyBytes: limit})
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			_, err := c.Fetch(context.Background(), testFeed(srv.URL), Validators{})
			runtime.ReadMemStats(&after)
			wantClass(t, err, ClassTooLarge)
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
				t.Errorf("allocated %d bytes reading a body capped at %d", alloc, limit)
			}
		})
	}
}

func TestFetchTimeouts(t *testing.T) {
	t.Run("slow body", func(t *testing.T) {
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/rss+xml")
			w.WriteHeader(200)
			for _, b := range []byte(rssDoc(1)) {
				if _, err := w.Write([]byte{b}); err != nil {
					return
				}
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(time.Second):
				}
			}
		})
		c := newTestClient(t, Options{Timeout: 1500 * time.Millisecond})
		_, err := c.Fetch(context.Background(), testFeed(srv.URL), Validators{})
		wantClass(t, err, ClassTimeout)
	})
	t.Run("slow headers", func(t *testing.T) {
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		})
		c := newTestClient(t, Options{ResponseHeaderTimeout: 200 * time.Millisecond})
		_, err := c.Fetch(context.Background(), testFeed(srv.URL), Validators{})
		wantClass(t, err, ClassTimeout)
	})
	t.Run("caller deadline", func(t *testing.T) {
		srv := serve(t, func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		})
		c := newTestClient(t, Options{})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := c.Fetch(ctx, testFeed(srv.URL), Validators{})
		wantClass(t, err, ClassTimeout)
	})
}

func TestFetchRedirects(t *testing.T) {
	var hits atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("/loop-a", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "/loop-b", http.StatusFound)
	})
	mux.HandleFunc("/loop-b", func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		http.Redirect(w, r, "/loop-a", http.StatusFound)
	})
	mux.HandleFunc("/chain/{n}", func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscan(r.PathValue("n"), &n)
		if n == 0 {
			io.WriteString(w, rssDoc(1))
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/chain/%d", n-1), http.StatusMovedPermanently)
	})
	mux.HandleFunc("/to-file", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "file:///etc/passwd", http.StatusFound)
	})
	srv := serve(t, mux.ServeHTTP)
	c := newTestClient(t, Options{})

	_, err := c.Fetch(context.Background(), testFeed(srv.URL+"/loop-a"), Validators{})
	if !errors.Is(err, ErrTooManyRedirects) {
		t.Fatalf("loop: %v", err)
	}
	wantClass(t, err, ClassOther)
	if hits.Load() > 6 {
		t.Errorf("loop followed %d times", hits.Load())
	}

	res, err := c.Fetch(context.Background(), testFeed(srv.URL+"/chain/5"), Validators{})
	if err != nil || len(res.Articles) != 1 || !strings.HasSuffix(res.FinalURL, "/chain/0") {
		t.Fatalf("5 redirects should be followed: %v %+v", err, res)
	}
	_, err = c.Fetch(context.Background(), testFeed(srv.URL+"/chain/6"), Validators{})
	if !errors.Is(err, ErrTooManyRedirects) {
		t.Fatalf("6 redirects: %v", err)
	}
	_, err = c.Fetch(context.Background(), testFeed(srv.URL+"/to-file"), Validators{})
	wantClass(t, err, ClassBlockedAddress)
}

// countingListener counts accepted connections.
type countingListener struct {
	net.Listener
	n atomic.Int32
}

func (l *countingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err == nil {
		l.n.Add(1)
	}
	return c, err
}

// newTarget starts a server on loopback whose listener counts connections.
func newTarget(t *testing.T) (*httptest.Server, *countingListener) {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, rssDoc(1))
	}))
	cl := &countingListener{Listener: srv.Listener}
	srv.Listener = cl
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, cl
}

func TestFetchSSRFGuard(t *testing.T) {
	target, tl := newTarget(t)
	_, port, _ := net.SplitHostPort(target.Listener.Addr().String())

	// The redirector is reached by the allow-listed name "localhost"; the
	// target only by IP, which the guard refuses.
	redirector := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/feed", http.StatusFound)
	}))
	redirector.Start()
	t.Cleanup(redirector.Close)
	_, rport, _ := net.SplitHostPort(redirector.Listener.Addr().String())

	guarded := newTestClient(t, Options{Allow: []string{}})
	hostOnly := newTestClient(t, Options{Allow: []string{"localhost"}})
	cases := []struct {
		name string
		c    *Client
		url  string
	}{
		{"loopback literal", guarded, target.URL + "/feed"},
		{"name resolving to loopback", guarded, "http://localhost:" + port + "/feed"},
		{"ipv4-mapped ipv6", guarded, "http://[::ffff:127.0.0.1]:" + port + "/feed"},
		{"redirect to loopback", hostOnly, "http://localhost:" + rport + "/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.c.Fetch(context.Background(), testFeed(tc.url), Validators{})
			if ErrorClass(err) != ClassBlockedAddress && ErrorClass(err) != ClassDNS {
				t.Fatalf("ErrorClass = %s: %v", ErrorClass(err), err)
			}
		})
	}
	for _, u := range []string{"file:///etc/passwd", "ftp://127.0.0.1/feed", "gopher://127.0.0.1:" + port + "/"} {
		_, err := guarded.Fetch(context.Background(), testFeed(u), Validators{})
		wantClass(t, err, ClassBlockedAddress)
	}
	if n := tl.n.Load(); n != 0 {
		t.Fatalf("target accepted %d connections despite the guard", n)
	}

	// The allow-list opens exactly what it names.
	for _, allow := range [][]string{{"127.0.0.1"}, {"127.0.0.0/8"}, {"localhost"}} {
		c := newTestClient(t, Options{Allow: allow})
		u := target.URL + "/feed"
		if allow[0] == "localhost" {
			u = "http://localhost:" + port + "/feed"
		}
		if _, err := c.Fetch(context.Background(), testFeed(u), Validators{}); err != nil {
			t.Errorf("allow %v: %v", allow, err)
		}
	}
	if tl.n.Load() == 0 {
		t.Error("allowed fetches never reached the target")
	}
}

func TestGuardRanges(t *testing.T) {
	g, err := newGuard(false, nil)
	if err != nil {
		t.Fatal(err)
	}
	blocked := []string{
		"127.0.0.1", "127.1.2.3", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
		"169.254.169.254", "169.254.1.1", "100.64.0.1", "100.127.255.255", "0.0.0.0", "0.1.2.3",
		"::", "::1", "fe80::1", "fc00::1", "fd00:ec2::254", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
		"64:ff9b::a9fe:a9fe", "2002:7f00:1::1", "224.0.0.1", "255.255.255.255", "198.18.0.1",
	}
	allowed := []string{"8.8.8.8", "1.1.1.1", "100.128.0.1", "172.32.0.1", "2606:4700::1111", "93.184.216.34"}
	for _, s := range blocked {
		if !g.blocked(mustAddr(t, s)) {
			t.Errorf("%s not blocked", s)
		}
	}
	for _, s := range allowed {
		if g.blocked(mustAddr(t, s)) {
			t.Errorf("%s blocked", s)
		}
	}
	if err := g.control("tcp", "169.254.169.254:80", nil); !errors.Is(err, ErrBlockedAddress) {
		t.Errorf("control on metadata address: %v", err)
	}
	if err := ValidateOptions(Options{Allow: []string{"10.0.0.0/33"}}); err == nil {
		t.Error("bad CIDR accepted")
	}
	open, _ := newGuard(true, nil)
	if open.blocked(mustAddr(t, "127.0.0.1")) {
		t.Error("AllowPrivate still blocks")
	}
}

func TestFetchErrorClasses(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("/404", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) })
	mux.HandleFunc("/500", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", 500) })
	mux.HandleFunc("/429", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "120")
		http.Error(w, "slow down", 429)
	})
	mux.HandleFunc("/503-date", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", "Sun, 01 Mar 2026 12:00:00 GMT")
		w.Header().Set("Retry-After", "Sun, 01 Mar 2026 12:30:00 GMT")
		http.Error(w, "maintenance", 503)
	})
	mux.HandleFunc("/cf", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cf-Mitigated", "challenge")
		http.Error(w, "", 403)
	})
	mux.HandleFunc("/ddg", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(200)
		io.WriteString(w, "<!DOCTYPE html><html><head><title>DDoS-Guard</title></head><body>Checking your browser</body></html>")
	})
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<!DOCTYPE html><html><head><title>Home</title></head><body><a href=/feed>feed</a></body></html>")
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/truncated", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, rssDoc(3)[:300])
	})
	srv := serve(t, mux.ServeHTTP)
	c := newTestClient(t, Options{})
	cases := map[string]string{
		"/404": ClassHTTP4xx, "/500": ClassHTTP5xx, "/429": ClassHTTP429, "/503-date": ClassHTTP5xx,
		"/cf": ClassBotChallenge, "/ddg": ClassBotChallenge, "/html": ClassParse, "/empty": ClassParse,
	}
	for path, class := range cases {
		t.Run(path, func(t *testing.T) {
			res, err := c.Fetch(context.Background(), testFeed(srv.URL+path), Validators{})
			wantClass(t, err, class)
			switch path {
			case "/429":
				var he *HTTPError
				if !errors.As(err, &he) || he.RetryAfter != 2*time.Minute || res.Hints.RetryAfter != 2*time.Minute {
					t.Errorf("Retry-After not reported: %v %+v", err, res.Hints)
				}
			case "/503-date":
				if res.Hints.RetryAfter != 30*time.Minute {
					t.Errorf("Retry-After date: %+v", res.Hints)
				}
			case "/html":
				if !strings.Contains(err.Error(), "HTML") {
					t.Errorf("error does not say HTML: %v", err)
				}
			}
		})
	}
	// A truncated feed either errors as parse or yields what it could; it
	// must not hang or panic.
	if _, err := c.Fetch(context.Background(), testFeed(srv.URL+"/truncated"), Validators{}); err != nil {
		wantClass(t, err, ClassParse)
	}

	// Connection refused.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close()
	_, err := c.Fetch(context.Background(), testFeed("http://"+addr+"/"), Validators{})
	wantClass(t, err, ClassConnection)

	// TLS with an untrusted certificate.
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the failed handshake is expected
	tlsSrv.StartTLS()
	defer tlsSrv.Close()
	_, err = c.Fetch(context.Background(), testFeed(tlsSrv.URL), Validators{})
	wantClass(t, err, ClassTLS)
	// ... and trusted.
	tc := newTestClient(t, Options{TLSConfig: tlsSrv.Client().Transport.(*http.Transport).TLSClientConfig})
	if _, err := tc.Fetch(context.Background(), testFeed(tlsSrv.URL), Validators{}); ErrorClass(err) != ClassParse {
		t.Errorf("trusted TLS: %v", err)
	}
}

func TestErrorClassSynthetic(t *testing.T) {
	cases := map[error]string{
		nil: "",
		fmt.Errorf("x: %w", &net.DNSError{Err: "no such host", Name: "nowhere.invalid", IsNotFound: true}): ClassDNS,
		fmt.Errorf("x: %w", context.DeadlineExceeded):                                                      ClassTimeout,
		fmt.Errorf("x: %w", io.ErrUnexpectedEOF):                                                           ClassConnection,
		errors.New("something else"):                                                                       ClassOther,
		fmt.Errorf("x: %w", &HTTPError{StatusCode: 410, Status: "410 Gone"}):                               ClassHTTP4xx,
		fmt.Errorf("%w: %w", ErrBotChallenge, &HTTPError{StatusCode: 503}):                                 ClassBotChallenge,
	}
	for err, want := range cases {
		if got := ErrorClass(err); got != want {
			t.Errorf("ErrorClass(%v) = %q, want %q", err, got, want)
		}
	}
}
