package ingest

import (
	"runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/text/encoding/charmap"
)

func mustParse(t *testing.T, f Feed, doc, ct string) []parsedArticle {
	t.Helper()
	arts, err := Parse(f, []byte(doc), ct, testNow)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	out := make([]parsedArticle, len(arts))
	for i, a := range arts {
		out[i] = parsedArticle{a.Title, a.URL, a.PublishedFrom, a.PublishedAt, a.Summary, a.Lang, a.FutureDate}
	}
	return out
}

type parsedArticle struct {
	Title, URL, From string
	At               time.Time
	Summary, Lang    string
	Future           bool
}

func TestParseCharsets(t *testing.T) {
	const title = "Ереван: новости   дня - тест"
	enc := func(cm *charmap.Charmap, s string) string {
		b, err := cm.NewEncoder().String(s)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	rss := func(decl string) string {
		return `<?xml version="1.0"` + decl + `?><rss version="2.0"><channel><title>x</title>` +
			`<item><title>` + title + `</title><link>https://example.am/1</link></item></channel></rss>`
	}
	cases := []struct {
		name, body, ct string
	}{
		{"windows-1251 declared", enc(charmap.Windows1251, rss(` encoding="windows-1251"`)), ""},
		{"windows-1251 by header only", enc(charmap.Windows1251, rss("")), "application/rss+xml; charset=windows-1251"},
		{"koi8-r declared", enc(charmap.KOI8R, rss(` encoding="KOI8-R"`)), "text/xml"},
		{"koi8-r header wins over wrong declaration", enc(charmap.KOI8R, rss(` encoding="windows-1251"`)), "text/xml; charset=koi8-r"},
		{"utf-8 that declares windows-1251", rss(` encoding="windows-1251"`), ""},
		{"utf-8 with a header that says koi8-r", rss(""), "text/xml; charset=koi8-r"},
		{"utf-8 BOM", "\xEF\xBB\xBF" + rss(` encoding="utf-8"`), ""},
		{"utf-16le BOM", utf16le(rss(` encoding="utf-16"`), true), ""},
		{"utf-16le without BOM", utf16le(rss(` encoding="utf-16"`), false), ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := mustParse(t, testFeed("https://example.am/rss"), tc.body, tc.ct)
			if len(got) != 1 || got[0].Title != strings.Join(strings.Fields(title), " ") {
				t.Fatalf("got %+v", got)
			}
		})
	}
	t.Run("iso-8859-1", func(t *testing.T) {
		doc := enc(charmap.ISO8859_1, `<?xml version="1.0" encoding="ISO-8859-1"?><rss version="2.0"><channel><item><title>Café Zürich</title><link>https://e.x/1</link></item></channel></rss>`)
		got := mustParse(t, testFeed("https://e.x/rss"), doc, "")
		if got[0].Title != "Café Zürich" {
			t.Errorf("title %q", got[0].Title)
		}
	})
}

func utf16le(s string, bom bool) string {
	var b []byte
	if bom {
		b = append(b, 0xFF, 0xFE)
	}
	for _, r := range s {
		if r > 0xFFFF {
			panic("test helper handles the BMP only")
		}
		b = append(b, byte(r), byte(r>>8))
	}
	return string(b)
}

func TestParseIllegalCharacters(t *testing.T) {
	doc := "<?xml version=\"1.0\"?><rss version=\"2.0\"><channel><item><title>Bad\x01\x02 chars\x0b here\uFFFE</title><link>https://e.x/1</link></item></channel></rss>"
	got := mustParse(t, testFeed("https://e.x/rss"), doc, "")
	if got[0].Title != "Bad chars here" {
		t.Errorf("title %q", got[0].Title)
	}
}

func TestParseFormats(t *testing.T) {
	cases := map[string]string{
		"rss 0.91": `<?xml version="1.0"?><rss version="0.91"><channel><title>t</title><link>https://e.x/</link><item><title>A</title><link>https://e.x/a</link></item></channel></rss>`,
		"rss 1.0": `<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/" xmlns:dc="http://purl.org/dc/elements/1.1/">
<channel rdf:about="https://e.x/"><title>t</title><link>https://e.x/</link></channel>
<item rdf:about="https://e.x/a"><title>A</title><link>https://e.x/a</link><dc:date>2026-02-01T10:00:00Z</dc:date></item></rdf:RDF>`,
		"atom": `<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>
<entry><title type="html">&lt;b&gt;A&lt;/b&gt;</title><link href="https://e.x/a"/><id>urn:1</id><updated>2026-02-01T10:00:00Z</updated></entry></feed>`,
		"json feed": `{"version":"https://jsonfeed.org/version/1.1","title":"t","items":[{"id":"1","url":"https://e.x/a","title":"A","date_published":"2026-02-01T10:00:00Z"}]}`,
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			got := mustParse(t, testFeed("https://e.x/feed"), doc, "")
			if len(got) != 1 || got[0].Title != "A" || got[0].URL != "https://e.x/a" {
				t.Fatalf("got %+v", got)
			}
		})
	}
}

func TestParseRelativeLinks(t *testing.T) {
	cases := []struct{ name, doc, want string }{
		{"rss relative to site link", `<rss version="2.0"><channel><link>https://site.example/news/</link><item><title>A</title><link>/a/1</link></item></channel></rss>`, "https://site.example/a/1"},
		{"rss relative to feed url", `<rss version="2.0"><channel><item><title>A</title><link>a/1</link></item></channel></rss>`, "https://feeds.example/path/a/1"},
		{"rss relative site link", `<rss version="2.0"><channel><link>/home/</link><item><title>A</title><link>x</link></item></channel></rss>`, "https://feeds.example/home/x"},
		{"atom xml:base", `<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://base.example/dir/"><entry><title>A</title><id>1</id><link href="entry/1"/></entry></feed>`, "https://base.example/dir/entry/1"},
		{"guid permalink", `<rss version="2.0"><channel><item><title>A</title><guid>https://e.x/g/1#frag</guid></item></channel></rss>`, "https://e.x/g/1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := mustParse(t, testFeed("https://feeds.example/path/rss.xml"), tc.doc, "")
			if len(got) != 1 || got[0].URL != tc.want {
				t.Fatalf("got %+v, want URL %s", got, tc.want)
			}
		})
	}
}

func TestParseDatesAndFallbacks(t *testing.T) {
	doc := `<rss version="2.0"><channel><language>ru-RU</language>
<item><title>dated</title><link>https://e.x/1</link><pubDate>Sun, 01 Mar 2026 09:00:00 +0400</pubDate></item>
<item><title>undated</title><link>https://e.x/2</link></item>
<item><title>future</title><link>https://e.x/3</link><pubDate>Sun, 08 Mar 2026 09:00:00 GMT</pubDate></item>
<item><title>slightly ahead</title><link>https://e.x/4</link><pubDate>Sun, 01 Mar 2026 12:05:00 GMT</pubDate></item>
<item><title>garbage date</title><link>https://e.x/5</link><pubDate>yesterday-ish</pubDate></item>
<item><title>epoch</title><link>https://e.x/6</link><pubDate>Thu, 01 Jan 1970 00:00:00 GMT</pubDate></item>
<item><link>https://e.x/7</link><description>&lt;p&gt;No title, but a   summary that says something.&lt;/p&gt;</description></item>
<item><title>duplicate</title><link>https://e.x/1?utm_source=x</link></item>
<item></item>
<item><title>no link, no guid</title></item>
</channel></rss>`
	got := mustParse(t, testFeed("https://e.x/rss"), doc, "")
	want := []struct {
		title string
		from  string
		at    time.Time
	}{
		{"dated", PublishedFromFeed, time.Date(2026, 3, 1, 5, 0, 0, 0, time.UTC)},
		{"undated", PublishedFromFirstSeen, testNow},
		{"future", PublishedFromFirstSeen, testNow},
		{"slightly ahead", PublishedFromFeed, testNow.Add(5 * time.Minute)},
		{"garbage date", PublishedFromFirstSeen, testNow},
		{"epoch", PublishedFromFirstSeen, testNow},
		{"No title, but a summary that says something.", PublishedFromFirstSeen, testNow},
		{"no link, no guid", PublishedFromFirstSeen, testNow},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d articles: %+v", len(got), got)
	}
	for i, w := range want {
		g := got[i]
		if g.Title != w.title || g.From != w.from || !g.At.Equal(w.at) || g.At.Location() != time.UTC {
			t.Errorf("#%d: got %q %s %s, want %q %s %s", i, g.Title, g.From, g.At, w.title, w.from, w.at)
		}
		if g.Lang != "ru" {
			t.Errorf("#%d: lang %q", i, g.Lang)
		}
		if g.Future != (w.title == "future") {
			t.Errorf("#%d %q: future_date %t", i, g.Title, g.Future)
		}
	}
	// The registry's language hint wins over the feed's.
	f := testFeed("https://e.x/rss")
	f.Lang = "hy"
	if got := mustParse(t, f, doc, ""); got[0].Lang != "hy" {
		t.Errorf("lang %q, want the registry's hy", got[0].Lang)
	}
}

func TestParseIdentity(t *testing.T) {
	f := testFeed("https://e.x/rss")
	doc := func(title string) string {
		return `<rss version="2.0"><channel><item><title>` + title + `</title><link>https://E.X/a?b=2&amp;a=1&amp;fbclid=z#top</link></item></channel></rss>`
	}
	a1, _ := Parse(f, []byte(doc("First")), "", testNow)
	a2, _ := Parse(f, []byte(doc("First, edited")), "", testNow.Add(time.Hour))
	if a1[0].ID != a2[0].ID {
		t.Error("an edit changed the ID")
	}
	if a1[0].Revision == a2[0].Revision {
		t.Error("an edit kept the revision")
	}
	if a1[0].URL != "https://e.x/a?a=1&b=2" {
		t.Errorf("canonical URL %q", a1[0].URL)
	}
	if a1[0].MsgID() == a2[0].MsgID() {
		t.Error("msg ids collide")
	}
}

func TestParseNotAFeed(t *testing.T) {
	cases := map[string]string{
		"html":       "<!DOCTYPE html><html><body>hello</body></html>",
		"empty":      "   \n",
		"plain text": "Service temporarily unavailable",
		"json":       `{"error":"nope"}`,
		"other xml":  `<?xml version="1.0"?><sitemap><url>x</url></sitemap>`,
		"binary":     "\x89PNG\r\n\x1a\n\x00\x00\x00",
	}
	for name, doc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse(testFeed("https://e.x/rss"), []byte(doc), "", testNow)
			wantClass(t, err, ClassParse)
		})
	}
}

// TestParseEntityBomb: encoding/xml does not expand entities declared in
// a DTD, so "billion laughs" costs nothing; this test keeps it that way.
func TestParseEntityBomb(t *testing.T) {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY lol "lol">`)
	prev := "lol"
	for i := 1; i <= 9; i++ {
		name := "lol" + string(rune('0'+i))
		b.WriteString(`<!ENTITY ` + name + ` "` + strings.Repeat("&"+prev+";", 10) + `">`)
		prev = name
	}
	b.WriteString(`]><rss version="2.0"><channel><item><title>&lol9;</title><link>https://e.x/1</link><description>&lol9;&lol9;</description></item></channel></rss>`)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	arts, err := Parse(testFeed("https://e.x/rss"), []byte(b.String()), "", testNow)
	runtime.ReadMemStats(&after)
	if err != nil {
		wantClass(t, err, ClassParse)
	}
	for _, a := range arts {
		if len(a.Title)+len(a.Summary)+len(a.Body) > 1000 {
			t.Errorf("entities expanded: %d bytes", len(a.Title)+len(a.Summary))
		}
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
		t.Errorf("parsing the bomb allocated %d bytes", alloc)
	}
}

func TestParseUndeclaredLegacyCharsets(t *testing.T) {
	const title = "Правительство Армении обсудило новые меры поддержки"
	doc := `<rss version="2.0"><channel><item><title>` + title + `</title><link>https://e.x/1</link></item></channel></rss>`
	for name, cm := range map[string]*charmap.Charmap{"windows-1251": charmap.Windows1251, "koi8-r": charmap.KOI8R} {
		t.Run(name, func(t *testing.T) {
			b, err := cm.NewEncoder().String(doc)
			if err != nil {
				t.Fatal(err)
			}
			got := mustParse(t, testFeed("https://e.x/rss"), b, "")
			if got[0].Title != title {
				t.Errorf("title %q", got[0].Title)
			}
		})
	}
	t.Run("latin-1 stays latin-1", func(t *testing.T) {
		const latin = "Ça coûte très cher à Zürich, déjà"
		b, _ := charmap.ISO8859_1.NewEncoder().String(`<rss version="2.0"><channel><item><title>` + latin + `</title><link>https://e.x/1</link></item></channel></rss>`)
		got := mustParse(t, testFeed("https://e.x/rss"), b, "")
		if got[0].Title != latin {
			t.Errorf("title %q", got[0].Title)
		}
	})
}
