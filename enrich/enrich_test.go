package enrich

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/wiredesk/wiredesk/ingest/article"
)

var (
	testOnce     sync.Once
	testEnricher *Enricher
	testErr      error
)

// loadTest loads the real rule files from configs/.
func loadTest(t testing.TB) *Enricher {
	t.Helper()
	testOnce.Do(func() {
		testEnricher, testErr = Load(os.DirFS("../configs"), "taxonomy.yaml", "gazetteer.yaml")
	})
	if testErr != nil {
		t.Fatalf("loading rules: %v", testErr)
	}
	return testEnricher
}

// readFixture reads testdata/articles/name: the first line is the title,
// the rest the body.
func readFixture(t testing.TB, name string) article.Raw {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "articles", name))
	if err != nil {
		t.Fatal(err)
	}
	title, body, _ := strings.Cut(string(b), "\n")
	if strings.HasSuffix(name, ".html") {
		title, body = "", string(b)
	}
	return article.Raw{SchemaVersion: article.RawSchemaVersion, ID: name, Title: title, Body: body}
}

func entityIDs(out article.Enriched) []string {
	var ids []string
	for _, e := range out.Entities {
		ids = append(ids, e.ID)
	}
	return ids
}

func topicIDs(out article.Enriched) []string {
	var ids []string
	for _, t := range out.Topics {
		ids = append(ids, t.ID)
	}
	return ids
}

func TestFixtures(t *testing.T) {
	e := loadTest(t)
	tests := []struct {
		file      string
		relevant  bool
		conflicts []string
		topics    []string // must be present
		noTopics  []string // must be absent
		entities  []string // must be present
		noEnts    []string // must be absent
		lang      string
	}{
		{file: "khankendi-mine.html", relevant: true, conflicts: []string{"armenia-azerbaijan"},
			topics: []string{"landmines"}, entities: []string{"stepanakert", "anama"}, lang: "en"},
		{file: "stepanakerte-ru.txt", relevant: true, conflicts: []string{"armenia-azerbaijan"},
			topics: []string{"displacement-and-return"}, entities: []string{"stepanakert", "karabakh", "yerevan", "armenia"}, lang: "ru"},
		{file: "coal-mine.txt", relevant: false, noTopics: []string{"landmines"}, lang: "en"},
		{file: "gaza-ceasefire.txt", relevant: false, noTopics: []string{"ceasefire"}, lang: "en"},
		{file: "baku-f1.txt", relevant: false, entities: []string{"baku", "azerbaijan"}, lang: "en"},
		{file: "georgia-us.txt", relevant: false, entities: []string{"georgia-us-state", "atlanta"}, noEnts: []string{"georgia"}, lang: "en"},
		{file: "georgia-country.txt", relevant: true, conflicts: []string{"georgia-russia"},
			topics: []string{"peacekeeping-and-monitoring"}, entities: []string{"georgia", "south-ossetia", "khurvaleti", "eumm-georgia"},
			noEnts: []string{"georgia-us-state"}, lang: "en"},
		{file: "fuzuli-reconstruction.txt", relevant: true, conflicts: []string{"armenia-azerbaijan"},
			topics: []string{"reconstruction", "displacement-and-return"}, entities: []string{"fuzuli", "ilham-aliyev", "jabrayil", "zangilan"}, lang: "en"},
		{file: "shusha-heritage.txt", relevant: true, conflicts: []string{"armenia-azerbaijan"},
			topics: []string{"cultural-heritage"}, entities: []string{"shusha", "ghazanchetsots", "baku"}, lang: "en"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			out, err := e.Enrich(context.Background(), readFixture(t, tt.file))
			if err != nil {
				t.Fatal(err)
			}
			if out.Relevant != tt.relevant {
				t.Errorf("relevant = %v (relevance %.3f), want %v", out.Relevant, out.Relevance, tt.relevant)
			}
			if tt.conflicts != nil && !slices.Equal(out.Conflicts, tt.conflicts) {
				t.Errorf("conflicts = %v, want %v", out.Conflicts, tt.conflicts)
			}
			if !tt.relevant && (len(out.Conflicts) > 0 || len(out.Topics) > 0) {
				t.Errorf("irrelevant story tagged: conflicts %v topics %v", out.Conflicts, topicIDs(out))
			}
			for _, id := range tt.topics {
				if !slices.Contains(topicIDs(out), id) {
					t.Errorf("topic %s missing; got %v", id, topicIDs(out))
				}
			}
			for _, id := range tt.noTopics {
				if slices.Contains(topicIDs(out), id) {
					t.Errorf("topic %s must not be tagged", id)
				}
			}
			for _, id := range tt.entities {
				if !slices.Contains(entityIDs(out), id) {
					t.Errorf("entity %s missing; got %v", id, entityIDs(out))
				}
			}
			for _, id := range tt.noEnts {
				if slices.Contains(entityIDs(out), id) {
					t.Errorf("entity %s must not be linked", id)
				}
			}
			if out.Language != tt.lang {
				t.Errorf("language = %q, want %q", out.Language, tt.lang)
			}
			checkEvidence(t, out)
		})
	}
}

// checkEvidence asserts that every evidence span slices its field of the
// enriched article to exactly the reported text.
func checkEvidence(t *testing.T, out article.Enriched) {
	t.Helper()
	field := map[string]string{"title": out.Title, "summary": out.Summary, "text": out.Text}
	check := func(what string, evs []article.Evidence) {
		if len(evs) == 0 {
			t.Errorf("%s has no evidence", what)
		}
		for _, ev := range evs {
			s, ok := field[ev.Field]
			if !ok || ev.Start < 0 || ev.End > len(s) || ev.Start >= ev.End {
				t.Errorf("%s: evidence %+v out of range of field %q", what, ev, ev.Field)
				continue
			}
			if s[ev.Start:ev.End] != ev.Text || ev.Rule == "" {
				t.Errorf("%s: evidence %+v slices to %q", what, ev, s[ev.Start:ev.End])
			}
		}
	}
	for _, tp := range out.Topics {
		check("topic "+tp.ID, tp.Evidence)
		if tp.Score <= 0 || tp.Score > 1 {
			t.Errorf("topic %s score %v out of (0,1]", tp.ID, tp.Score)
		}
	}
	for _, en := range out.Entities {
		check("entity "+en.ID, en.Evidence)
	}
}

func TestSameEntityAcrossNamesAndScripts(t *testing.T) {
	e := loadTest(t)
	for _, title := range []string{
		"Protest in Stepanakert", "Protest in Khankendi", "Protest in Xankəndi",
		"Акция в Степанакерте", "Новости Степанакерта", "Ханкенди сегодня", "Ցույց Ստեփանակերտ",
		"PROTEST IN STEPANAKERT", "Protest in Xankendi",
	} {
		out, err := e.Enrich(context.Background(), article.Raw{ID: "t", Title: title})
		if err != nil {
			t.Fatal(err)
		}
		if ids := entityIDs(out); !slices.Equal(ids, []string{"stepanakert"}) {
			t.Errorf("%q: entities %v, want [stepanakert]", title, ids)
			continue
		}
		en := out.Entities[0]
		if en.Name != "Stepanakert/Khankendi" || en.Location == nil || !slices.Contains(en.Aliases, "Khankendi") || !slices.Contains(en.Aliases, "Stepanakert") {
			t.Errorf("%q: entity %+v lacks the neutral name, location or aliases", title, en)
		}
		checkEvidence(t, out)
	}
}

func TestAmbiguity(t *testing.T) {
	e := loadTest(t)
	tests := []struct {
		text string
		want []string
	}{
		{"Georgia is lovely in spring.", nil}, // no context either way: unresolved
		{"Georgia and Armenia signed a deal.", []string{"georgia", "armenia"}},
		{"Storms hit Atlanta, Georgia on Monday.", []string{"atlanta", "georgia-us-state"}},
		{"Fans of Georgia Tech celebrated.", nil},
		{"Grigoryan said the talks went well.", nil}, // two Grigoryans in the gazetteer
		{"Mher Grigoryan met Shahin Mustafayev; Grigoryan said the commission would meet again.", []string{"mher-grigoryan", "shahin-mustafayev"}},
		{"Java developers gathered in Berlin.", nil},
		{"Ararat Mirzoyan spoke in Yerevan.", []string{"ararat-mirzoyan", "yerevan"}},
	}
	for _, tt := range tests {
		out, err := e.Enrich(context.Background(), article.Raw{ID: "t", Title: tt.text})
		if err != nil {
			t.Fatal(err)
		}
		if got := entityIDs(out); !slices.Equal(got, tt.want) {
			t.Errorf("%q: entities %v, want %v", tt.text, got, tt.want)
		}
	}
}

func TestJSONShape(t *testing.T) {
	e := loadTest(t)
	out, err := e.Enrich(context.Background(), article.Raw{SchemaVersion: "1.0", ID: "a", Title: "Nothing to see", URL: "https://example.com/a", Source: "s"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, k := range []string{`"conflicts":[]`, `"topics":[]`, `"entities":[]`, `"schema_version":"1.0"`, `"url":"https://example.com/a"`, `"taxonomy":"`} {
		if !strings.Contains(s, k) {
			t.Errorf("JSON lacks %s: %s", k, s)
		}
	}
	if strings.Contains(s, "null") {
		t.Errorf("JSON contains null: %s", s)
	}
	if out.Versions != e.Versions() || out.Versions.Taxonomy == "" || out.Versions.Gazetteer == "" {
		t.Errorf("versions %+v", out.Versions)
	}
}

func TestBadInput(t *testing.T) {
	e := loadTest(t)
	deep := strings.Repeat("<div><span>", 100000) + "Stepanakert landmine" + strings.Repeat("</span></div>", 100000)
	huge := strings.Repeat("<p>Shepherd killed by a landmine near Aghdam. "+strings.Repeat("filler words ", 200)+"</p>", 2000)
	tests := []struct {
		name    string
		raw     article.Raw
		wantErr error
	}{
		{"empty", article.Raw{ID: "e"}, ErrNoText},
		{"blank", article.Raw{ID: "e", Title: "  ", Body: "<p> </p><script>x</script>"}, ErrNoText},
		{"invalid utf-8", article.Raw{ID: "u", Title: "Mine \xff\xfe near Füzuli\xc3", Body: "<p>\xed\xa0\x80 anti-tank mine in Fizuli</p>"}, nil},
		{"deeply nested", article.Raw{ID: "d", Title: "t", Body: deep}, nil},
		{"huge", article.Raw{ID: "h", Title: "t", Body: huge}, nil},
		{"unclosed tags", article.Raw{ID: "c", Title: "t", Body: "<p><b>Lachin <script>alert(1)"}, nil},
		{"binary", article.Raw{ID: "b", Title: "\x00\x01\x02", Body: "\x00<\x00p>\x00"}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := e.Enrich(context.Background(), tt.raw)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(out.Text) > maxTextBytes {
				t.Errorf("text is %d bytes, cap is %d", len(out.Text), maxTextBytes)
			}
			checkEvidence(t, out)
			if _, err := json.Marshal(out); err != nil {
				t.Fatal(err)
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := e.Enrich(ctx, article.Raw{ID: "x", Title: "t"}); !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled context: err = %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	e := loadTest(t)
	raw := readFixture(t, "khankendi-mine.html")
	want, _ := e.Enrich(context.Background(), raw)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				got, err := e.Enrich(context.Background(), raw)
				if err != nil || !slices.Equal(entityIDs(got), entityIDs(want)) || !slices.Equal(topicIDs(got), topicIDs(want)) {
					t.Errorf("concurrent result differs: %v %v", entityIDs(got), err)
					return
				}
			}
		})
	}
	wg.Wait()
}

var qidFormat = regexp.MustCompile(`^Q[1-9][0-9]*$`)

func TestGazetteerData(t *testing.T) {
	var g Gazetteer
	if err := readYAML(os.DirFS("../configs"), "gazetteer.yaml", &g); err != nil {
		t.Fatal(err)
	}
	qids := map[string]string{}
	places, real := 0, 0
	for _, en := range g.Entities {
		if en.Wikidata != "" {
			if !qidFormat.MatchString(en.Wikidata) {
				t.Errorf("%s: malformed QID %q", en.ID, en.Wikidata)
			}
			if other, ok := qids[en.Wikidata]; ok {
				t.Errorf("%s: QID %s also used by %s", en.ID, en.Wikidata, other)
			}
			qids[en.Wikidata] = en.ID
		}
		if en.Type == "place" {
			places++
		}
		if en.Type != typeNone {
			real++
		}
		// Places that weigh heavily for Armenia–Azerbaijan lie in and
		// around Karabakh, Armenia and Nakhchivan: a swapped lat/lon or a
		// typo in a degree shows up here.
		if en.Type == "place" && en.Weight != nil && *en.Weight >= 1.5 && slices.Contains(en.Conflicts, "armenia-azerbaijan") {
			if *en.Lat < 38.5 || *en.Lat > 41.5 || *en.Lon < 44.0 || *en.Lon > 47.8 {
				t.Errorf("%s: %.3f,%.3f is outside the South Caucasus box", en.ID, *en.Lat, *en.Lon)
			}
		}
		if en.Type == "place" && en.Weight != nil && *en.Weight >= 1.5 && slices.Contains(en.Conflicts, "georgia-russia") {
			if *en.Lat < 41.0 || *en.Lat > 43.7 || *en.Lon < 39.8 || *en.Lon > 46.8 {
				t.Errorf("%s: %.3f,%.3f is outside Georgia", en.ID, *en.Lat, *en.Lon)
			}
		}
		if strings.Contains(en.Name, "/") && en.Type != "place" {
			t.Errorf("%s: only contested places get a two-name label", en.ID)
		}
	}
	t.Logf("%d entities (%d places), %d with QIDs", real, places, len(qids))
	if real < 400 {
		t.Errorf("gazetteer has %d entities, want at least 400 (issue 4)", real)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"unknown-key.bad.yaml", `unknown field "colour"`},
		{"bad-qid.bad.yaml", `malformed wikidata id "Q12x"`},
		{"dup-qid.bad.yaml", `wikidata id Q399 already used`},
		{"no-coords.bad.yaml", `place "nowhere" has no coordinates`},
		{"alias-key.bad.yaml", `unknown field "case_sensitiv"`},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			fsys := os.DirFS("testdata/config")
			_, err := Load(fsys, "taxonomy.good.yaml", tt.file)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
	if _, err := Load(os.DirFS("testdata/config"), "taxonomy.good.yaml", "gazetteer.good.yaml"); err != nil {
		t.Fatalf("good config: %v", err)
	}
	if _, err := Load(os.DirFS("testdata/config"), "taxonomy.bad.yaml", "gazetteer.good.yaml"); err == nil || !strings.Contains(err.Error(), "[4:") {
		t.Fatalf("bad taxonomy: err = %v, want a line number", err)
	}
}
