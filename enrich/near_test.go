package enrich

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/wiredesk/wiredesk/ingest/article"
)

func enrichText(t *testing.T, title, body string) article.Enriched {
	t.Helper()
	out, err := loadTest(t).Enrich(context.Background(), article.Raw{ID: "t", Title: title, Body: body})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func entityRule(out article.Enriched, id string) (string, bool) {
	for _, en := range out.Entities {
		if en.ID == id {
			return en.Evidence[0].Rule, true
		}
	}
	return "", false
}

func TestNearMiss(t *testing.T) {
	tests := []struct {
		name, title, body string
		entity            string // gazetteer id
		want              bool
		rule              string // wanted evidence rule, when want
	}{
		{name: "deletion, confirmed by country", title: "Armenia and Azerbaijan resume talks",
			body:   "Foreign Minister Mirzoya said the text was nearly agreed in Yerevan.",
			entity: "ararat-mirzoyan", want: true, rule: "near-miss:Mirzoyan"},
		{name: "transposition", title: "Pashinyna visits Syunik",
			body:   "The Armenian prime minister toured border villages in Syunik.",
			entity: "nikol-pashinyan", want: true, rule: "near-miss:Pashinyan"},
		{name: "substitution, confirmed by own mention", title: "Bayramov meets Blinken",
			body:   "Jeyhun Bayramov and Antony Blinken met in Washington. Bayramow said talks were useful.",
			entity: "jeyhun-bayramov", want: true},
		{name: "Cyrillic", title: "Переговоры в Ереване",
			body:   "Министр иностранных дел Армении Мирзоан заявил, что текст согласован.",
			entity: "ararat-mirzoyan", want: true, rule: "near-miss:Мирзоян"},
		{name: "lower case", title: "Armenia and Azerbaijan resume talks",
			body: "A mirzoya is not a name. Talks continued in Yerevan.", entity: "ararat-mirzoyan"},
		{name: "no confirming context", title: "Mirzoya opens a bakery",
			body: "The new shop in Lyon sells croissants.", entity: "ararat-mirzoyan"},
		{name: "common word, no context", title: "Dallas police arrest suspect",
			body: "Police in Dallas, Texas, said the suspect was detained on Monday.", entity: "kaja-kallas"},
		{name: "English inflection", title: "US officials in Washington",
			body: "Blinked, the reporter looked again at the statement from Washington.", entity: "antony-blinken"},
		{name: "too short", title: "Armenia talks",
			body: "Putn said in Yerevan and Moscow that talks went well.", entity: "vladimir-putin"},
		{name: "two edits", title: "Armenia and Azerbaijan resume talks",
			body: "Foreign Minister Mirzoy said the text was agreed in Yerevan.", entity: "ararat-mirzoyan"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := enrichText(t, tt.title, tt.body)
			rule, got := entityRule(out, tt.entity)
			if got != tt.want {
				t.Fatalf("linked %s = %v, want %v (entities %v)", tt.entity, got, tt.want, entityIDs(out))
			}
			if tt.want && tt.rule != "" && rule != tt.rule {
				t.Errorf("rule = %q, want %q", rule, tt.rule)
			}
			if tt.want && !strings.HasPrefix(rule, "near-miss:") && tt.entity != "jeyhun-bayramov" {
				t.Errorf("rule = %q, want a near-miss rule", rule)
			}
		})
	}
}

// TestNearMissEvidence checks that a near-miss mention carries its own
// evidence span next to the exact mention.
func TestNearMissEvidence(t *testing.T) {
	body := "Jeyhun Bayramov and Antony Blinken met in Washington. Bayramow said talks were useful."
	out := enrichText(t, "Talks in Washington", body)
	for _, en := range out.Entities {
		if en.ID != "jeyhun-bayramov" {
			continue
		}
		var rules []string
		for _, ev := range en.Evidence {
			rules = append(rules, ev.Rule)
			if body[ev.Start:ev.End] != ev.Text {
				t.Errorf("evidence %q does not match offsets %d:%d", ev.Text, ev.Start, ev.End)
			}
		}
		if !slices.Contains(rules, "near-miss:Bayramov") {
			t.Errorf("rules = %q, want near-miss:Bayramov", rules)
		}
		return
	}
	t.Fatalf("jeyhun-bayramov not linked: %v", entityIDs(out))
}

func TestWithinOneEdit(t *testing.T) {
	tests := []struct {
		a, b string
		want bool
	}{
		{"mirzoya", "mirzoyan", true}, {"mirzoyann", "mirzoyan", true}, {"mirzoyen", "mirzoyan", true},
		{"mirzoyna", "mirzoyan", true}, {"imrzoyan", "mirzoyan", true}, {"mirzoyan", "mirzoyan", false},
		{"mirzoy", "mirzoyan", false}, {"amirzoyn", "mirzoyan", false}, {"zoyanmir", "mirzoyan", false},
		{"пашинян", "пашинян", false}, {"пашинан", "пашинян", true},
	}
	for _, tt := range tests {
		if got := withinOneEdit([]rune(tt.a), tt.b); got != tt.want {
			t.Errorf("withinOneEdit(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestCaseSensitiveAliases(t *testing.T) {
	tests := []struct {
		name, body string
		entity     string
		want       bool
	}{
		{"UN in capitals", "The UN said aid reached Stepanakert.", "united-nations", true},
		{"un in French", "Selon un responsable, la route est fermée.", "united-nations", false},
		{"US in capitals", "US envoys met in Baku to discuss the treaty.", "united-states", true},
		{"us as a pronoun", "The minister told us that Baku was ready.", "united-states", false},
		{"PACE in capitals", "PACE adopted a resolution on Karabakh.", "council-of-europe", true},
		{"pace as a word", "Talks in Baku moved at a slow pace.", "council-of-europe", false},
		{"HALO in capitals", "HALO deminers cleared fields in Karabakh.", "halo-trust", true},
		{"halo as a word", "A halo of smoke hung over Karabakh.", "halo-trust", false},
		{"EU in capitals", "EU foreign ministers discussed Armenia in Brussels.", "european-union", true},
		{"eu in Portuguese", "Eu acho que Baku vai assinar.", "european-union", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := enrichText(t, "", tt.body)
			if _, got := entityRule(out, tt.entity); got != tt.want {
				t.Errorf("linked %s = %v, want %v (entities %v)", tt.entity, got, tt.want, entityIDs(out))
			}
		})
	}
}

func TestArmenianGeorgianCaseForms(t *testing.T) {
	tests := []struct{ body, entity string }{
		{"Ստեփանակերտում լույս չկա։", "stepanakert"},
		{"Երևանից ժամանեց պատվիրակություն։", "yerevan"},
		{"Սյունիքի սահմանին կրակոցներ են լսվել։", "syunik"},
		{"თბილისში შეხვედრა გაიმართა.", "tbilisi"},
		{"ცხინვალის რეგიონში ბორდერიზაცია გრძელდება.", "south-ossetia"},
		{"აფხაზეთიდან დაბრუნდნენ.", "abkhazia"},
		{"ბაქოში მოლაპარაკებები გაიმართა.", "baku"},
	}
	for _, tt := range tests {
		out := enrichText(t, "", tt.body)
		if !slices.Contains(entityIDs(out), tt.entity) {
			t.Errorf("%q: entities %v, want %s", tt.body, entityIDs(out), tt.entity)
		}
	}
}

func TestTruncatedFlag(t *testing.T) {
	e := loadTest(t)
	small, err := e.Enrich(context.Background(), article.Raw{ID: "s", Title: "Mines near Aghdam", Body: "<p>Sappers cleared fields.</p>"})
	if err != nil {
		t.Fatal(err)
	}
	if small.Truncated {
		t.Error("short body marked truncated")
	}
	huge := strings.Repeat("<p>Sappers cleared fields near Aghdam.</p>\n", (maxBodyBytes/40)+10)
	big, err := e.Enrich(context.Background(), article.Raw{ID: "b", Title: "Mines near Aghdam", Body: huge})
	if err != nil {
		t.Fatal(err)
	}
	if !big.Truncated {
		t.Error("huge body not marked truncated")
	}
}
