package ingest

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
	"golang.org/x/text/encoding/charmap"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// rssDoc builds an RSS 2.0 document with n items.
func rssDoc(n int) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Test</title><link>https://news.example.org/</link><ttl>30</ttl>
`)
	for i := range n {
		fmt.Fprintf(&b, `<item><title>Item %d</title><link>https://news.example.org/a/%d?utm_source=rss</link>
<guid isPermaLink="false">guid-%d</guid><pubDate>Mon, 02 Jan 2006 15:04:05 GMT</pubDate>
<description>Summary of item %d with &lt;b&gt;markup&lt;/b&gt;.</description></item>
`, i, i, i, i)
	}
	b.WriteString("</channel></rss>\n")
	return b.String()
}

var testNow = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func testFeed(url string) Feed {
	return Feed{ID: "test", URL: url, Name: "Test", MinInterval: 10 * time.Minute, MaxInterval: time.Hour}
}

func mustAddr(t *testing.T, s string) netip.Addr {
	t.Helper()
	a, err := netip.ParseAddr(s)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func win1251(s string) ([]byte, error) {
	s = strings.Replace(s, `encoding="utf-8"`, `encoding="windows-1251"`, 1)
	return charmap.Windows1251.NewEncoder().Bytes([]byte(s))
}
