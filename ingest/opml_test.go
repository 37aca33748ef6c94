package ingest

import (
	"strings"
	"testing"
)

func TestParseOPML(t *testing.T) {
	const doc = `<?xml version="1.0" encoding="UTF-8"?>
<opml version="2.0"><head><title>subs</title></head><body>
  <outline text="Caucasus">
    <outline type="rss" text="OC Media" xmlUrl="https://oc-media.org/feed/" language="en-GB" category="/news,analysis"/>
    <outline type="rss" text="Кавказский узел" xmlUrl="https://www.kavkaz-uzel.eu/articles.rss"/>
    <outline type="rss" text="OC Media" xmlUrl="https://oc-media.org/ru/feed/"/>
  </outline>
  <outline type="rss" title="Duplicate" xmlUrl="https://oc-media.org/feed/"/>
  <outline type="rss" title="Bad scheme" xmlUrl="file:///etc/passwd"/>
  <outline type="rss" xmlUrl="https://eurasianet.org/rss"/>
</body></opml>`
	feeds, err := ParseOPML(strings.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	type row struct{ id, name, lang, tags string }
	want := []row{
		{"oc-media", "OC Media", "en", "Caucasus,news,analysis"},
		{"kavkaz-uzel-eu-articles-rss", "Кавказский узел", "", "Caucasus"},
		{"oc-media-2", "OC Media", "", "Caucasus"},
		{"eurasianet-org", "eurasianet.org", "", ""},
	}
	if len(feeds) != len(want) {
		t.Fatalf("got %d feeds: %+v", len(feeds), feeds)
	}
	for i, w := range want {
		f := feeds[i]
		got := row{f.ID, f.Name, f.Lang, strings.Join(f.Tags, ",")}
		if got != w {
			t.Errorf("#%d: got %+v, want %+v", i, got, w)
		}
		if err := f.Validate(); err != nil {
			t.Errorf("#%d: %v", i, err)
		}
	}
	if _, err := ParseOPML(strings.NewReader("<opml><body></body></opml>")); err == nil {
		t.Error("empty OPML accepted")
	}
}
