package enrich

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/wiredesk/wiredesk/ingest/article"
)

func TestFoldText(t *testing.T) {
	tests := []struct {
		in   string
		want string // folded words joined by spaces
	}{
		{"Nagorno-Karabakh", "nagorno karabakh"},
		{"XANKƏNDİ", "xankendi"},
		{"Füzuli, Fizuli", "fuzuli fizuli"},
		{"Ёлка СТЕПАНАКЕРТ", "елка степанакерт"},
		{"Cafe\u0301 de\u0301ja\u0300", "cafe deja"}, // decomposed accents
		{"Ｓｈｕｓｈａ", "shusha"},                         // full-width NFKC
		{"Երևան", "երեւան"},
		{"ᲡᲐᲥᲐᲠᲗᲕᲔᲚᲝ", "საქართველო"}, // Georgian Mtavruli folds to Mkhedruli
		{"Straße", "strasse"},
		{"bad\xffbyte", "bad byte"},
		{"", ""},
		{"  ,,, ", ""},
	}
	for _, tt := range tests {
		var f folded
		foldText(tt.in, &f)
		if got := string(f.buf); got != tt.want {
			t.Errorf("foldText(%q) = %q, want %q", tt.in, got, tt.want)
		}
		for _, tok := range f.toks {
			if tok.start < 0 || int(tok.end) > len(tt.in) || tok.start >= tok.end {
				t.Errorf("foldText(%q): token offsets %d..%d out of range", tt.in, tok.start, tok.end)
			}
		}
	}
}

func TestFoldOffsets(t *testing.T) {
	s := "«Cafe\u0301» in ХАНКЕНДИ—Xankəndi's"
	var f folded
	foldText(s, &f)
	var orig []string
	for _, tok := range f.toks {
		orig = append(orig, s[tok.start:tok.end])
	}
	want := []string{"Cafe\u0301", "in", "ХАНКЕНДИ", "Xankəndi", "s"}
	if !slices.Equal(orig, want) {
		t.Errorf("original words %q, want %q", orig, want)
	}
	if !f.toks[3].hard || f.toks[4].hard {
		t.Errorf("an em dash is a hard separator, an apostrophe a soft one")
	}
}

// bruteForce is the reference: at each word, the longest pattern of words
// that matches; then continue after it.
func bruteForce(patterns []string, f *folded) [][2]int {
	var out [][2]int
	for i := 0; i < len(f.toks); {
		best := -1
		for j := i; j < len(f.toks); j++ {
			if j > i && f.toks[j].hard {
				break
			}
			if slices.Contains(patterns, f.key(i, j)) {
				best = j
			}
		}
		if best < 0 {
			i++
			continue
		}
		out = append(out, [2]int{i, best})
		i = best + 1
	}
	return out
}

func TestDictMatchesBruteForce(t *testing.T) {
	vocab := []string{"a", "b", "c", "mine", "coal", "land", "ab"}
	rng := rand.New(rand.NewPCG(1, 2))
	for round := 0; round < 500; round++ {
		var patterns []string
		d := newDict()
		for k := 0; k < 1+rng.IntN(8); k++ {
			n := 1 + rng.IntN(3)
			ws := make([]string, n)
			for i := range ws {
				ws[i] = vocab[rng.IntN(len(vocab))]
			}
			p := strings.Join(ws, " ")
			patterns = append(patterns, p)
			d.add(p, int32(k))
		}
		var words []string
		for k := 0; k < rng.IntN(30); k++ {
			sep := []string{" ", "-", ". "}[rng.IntN(3)]
			words = append(words, vocab[rng.IntN(len(vocab))]+sep)
		}
		text := strings.Join(words, "")
		var f folded
		foldText(text, &f)
		var got [][2]int
		for _, h := range d.scan(&f, nil) {
			got = append(got, [2]int{h.i, h.j})
			if !slices.Contains(patterns, f.key(h.i, h.j)) {
				t.Fatalf("hit %q is not a pattern", f.key(h.i, h.j))
			}
		}
		if want := bruteForce(patterns, &f); !slices.Equal(got, want) {
			t.Fatalf("text %q patterns %q: got %v, want %v", text, patterns, got, want)
		}
	}
}

func TestWholeWordsOnly(t *testing.T) {
	d := newDict()
	d.add(foldKey("mine"), 0)
	d.add(foldKey("Baku"), 1)
	var f folded
	foldText("Landmines determined Bakuriani; mine. Baku's", &f)
	var got []string
	for _, h := range d.scan(&f, nil) {
		got = append(got, f.key(h.i, h.j))
	}
	if !slices.Equal(got, []string{"mine", "baku"}) {
		t.Errorf("got %q", got)
	}
}

func TestInflections(t *testing.T) {
	tests := []struct {
		word string
		want []string
	}{
		{"степанакерт", []string{"степанакерта", "степанакерте", "степанакертом"}},
		{"мина", []string{"мины", "мин", "мину", "миной", "минах"}},
		{"южная осетия", []string{"южной осетии", "южную осетию"}},
		{"нагорный карабах", []string{"нагорного карабаха", "нагорном карабахе"}},
		{"пашинян", []string{"пашиняна", "пашиняну", "пашиняном"}},
		{"алиев", []string{"алиева", "алиеву", "алиевым"}},
		{"грузия", []string{"грузии", "грузию", "грузией"}},
	}
	for _, tt := range tests {
		got := inflections(tt.word)
		for _, w := range tt.want {
			if !slices.Contains(got, w) {
				t.Errorf("inflections(%q) lacks %q: %q", tt.word, w, got)
			}
		}
	}
	if got := inflections("baku"); !slices.Equal(got, []string{"baku"}) {
		t.Errorf("Latin words are not inflected: %q", got)
	}
	if got := inflections("баку"); !slices.Equal(got, []string{"баку"}) {
		t.Errorf("indeclinable words stay as they are: %q", got)
	}
}

func TestCleanText(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"plain", "First para\nstill first.\n\n\n Second  para ", "First para still first.\n\nSecond para"},
		{"html", "<html><head><title>T</title><style>p{}</style></head><body><nav>Menu</nav><h1>Head</h1><p>One <b>bold</b>&nbsp;word.</p><p>Two<br>Three</p><footer>foot</footer></body></html>",
			"Head\n\nOne bold word.\n\nTwo\n\nThree"},
		{"inline joins", "<p>Ste<i>pan</i>akert</p>", "Stepanakert"},
		{"script dropped", "<p>a</p><script>if (a<b) { mine() }</script><p>b</p>", "a\n\nb"},
		{"entities", "Tom &amp; Jerry", "Tom & Jerry"},
		{"less-than in text", "3 < 4 and 5 > 2", "3 < 4 and 5 > 2"},
		{"aside dropped", "<p>x</p><aside><p>related</p></aside><p>y</p>", "x\n\ny"},
	}
	for _, tt := range tests {
		got, _ := cleanText(tt.in)
		if got != tt.want {
			t.Errorf("%s: cleanText = %q, want %q", tt.name, got, tt.want)
		}
	}
	got, cut := cleanText(strings.Repeat("word ", maxBodyBytes))
	if !cut || len(got) > maxTextBytes || !utf8.ValidString(got) {
		t.Errorf("huge body: %d bytes, truncated %v", len(got), cut)
	}
}

func TestDetectLanguage(t *testing.T) {
	tests := []struct{ text, want string }{
		{"The ministers met in Washington on Monday to discuss the peace treaty.", "en"},
		{"Министры встретились в Вашингтоне, чтобы обсудить мирный договор.", "ru"},
		{"Мина", "ru"},
		{"Նախարարները հանդիպեցին Վաշինգտոնում", "hy"},
		{"მინისტრები შეხვდნენ ვაშინგტონში", "ka"},
		{"Nazirlər Vaşinqtonda görüşüb və sülh müqaviləsini müzakirə ediblər.", "az"},
		{"Bakanlar barış anlaşmasını görüşmek için bir araya geldi ve açıklama yaptı.", "tr"},
		{"Les ministres se sont réunis à Washington pour discuter du traité de paix.", "fr"},
		{"", ""},
		{"12 34", ""},
	}
	for _, tt := range tests {
		if got := detectLanguage(tt.text); got != tt.want {
			t.Errorf("detectLanguage(%q) = %q, want %q", tt.text, got, tt.want)
		}
	}
}

// FuzzEnrich checks that no input makes Enrich panic, return malformed
// evidence, or produce invalid UTF-8.
func FuzzEnrich(f *testing.F) {
	f.Add("Mine near Stepanakert", "<p>anti-tank mine in Khankendi</p>")
	f.Add("\xff", "<div><div><p>\xc3")
	f.Add("Степанакерте", "<script>x</script>Ханкенди &amp; мины")
	f.Add("", "<![CDATA[ x ]]><!-- c --><p>Georgia, Atlanta")
	e := loadTest(f)
	f.Fuzz(func(t *testing.T, title, body string) {
		out, err := e.Enrich(context.Background(), article.Raw{ID: "f", Title: title, Body: body})
		if err != nil {
			if !strings.Contains(err.Error(), ErrNoText.Error()) {
				t.Fatalf("unexpected error: %v", err)
			}
			return
		}
		if !utf8.ValidString(out.Title) || !utf8.ValidString(out.Text) {
			t.Fatal("invalid UTF-8 in output")
		}
		checkEvidence(t, out)
	})
}
