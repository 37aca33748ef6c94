package enrich

import (
	"context"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var verboseEval = flag.Bool("eval.misses", false, "print every disagreement with the gold labels")

// Thresholds of issue 4, checked on the development set and on the held-out
// quarter that the rules were never tuned against.
const (
	minRelevanceF1 = 0.95
	minTopicF1     = 0.85
	minEntityF1    = 0.90
)

func TestEvaluate(t *testing.T) {
	e := loadTest(t)
	for _, name := range []string{"dev.jsonl", "holdout.jsonl"} {
		t.Run(name, func(t *testing.T) {
			f, err := os.Open(filepath.Join("testdata", "eval", name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rep, err := Evaluate(context.Background(), e, f)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			rep.Print(&b)
			t.Logf("%s\n%s", name, b.String())
			if *verboseEval {
				for _, m := range rep.Misses {
					kind := "missed"
					if m.Got {
						kind = "spurious"
					}
					t.Logf("%s %s %s %s", m.ID, kind, m.Kind, m.Label)
				}
			}
			if f1 := rep.Relevance.F1(); f1 < minRelevanceF1 {
				t.Errorf("relevance F1 %.3f < %.2f", f1, minRelevanceF1)
			}
			if f1 := rep.Topics.F1(); f1 < minTopicF1 {
				t.Errorf("topic micro-F1 %.3f < %.2f", f1, minTopicF1)
			}
			if f1 := rep.Entities.F1(); f1 < minEntityF1 {
				t.Errorf("entity micro-F1 %.3f < %.2f", f1, minEntityF1)
			}
		})
	}
}

func TestEvaluateBadInput(t *testing.T) {
	e := loadTest(t)
	for _, in := range []string{"not json\n", `{"id":"x","title":"t","gold":{"entities":["no-such-entity"]}}` + "\n", ""} {
		if _, err := Evaluate(context.Background(), e, strings.NewReader(in)); err == nil {
			t.Errorf("Evaluate(%q) succeeded", in)
		}
	}
}
