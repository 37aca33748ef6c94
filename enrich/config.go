package enrich

import (
	"errors"
	"fmt"
	"io/fs"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml"
)

// Taxonomy is the rule file (configs/taxonomy.yaml): conflicts, topics and
// the relevance threshold. Unknown keys are rejected with their line.
type Taxonomy struct {
	Version string `yaml:"version"`
	// Relevance holds the thresholds of the relevance decision; see score.go.
	Relevance RelevanceRules `yaml:"relevance"`
	// Positions are the weights of a match by where it occurs.
	Positions PositionWeights `yaml:"positions"`
	Conflicts []ConflictRule  `yaml:"conflicts"`
	Topics    []TopicRule     `yaml:"topics"`
	// Framing phrases say a story is about conflict at all ("war",
	// "shelling", "occupation"); they count toward relevance, not topics.
	Framing []Phrase `yaml:"framing"`
	// Off-topic phrases mark stories that share the vocabulary but not the
	// subject (Gaza, Donbas, a football derby); they count against relevance.
	OffTopic []Phrase `yaml:"off_topic"`
}

// RelevanceRules are the documented thresholds of the relevance decision.
type RelevanceRules struct {
	// Threshold: a story is relevant when its relevance score reaches it.
	Threshold float64 `yaml:"threshold"`
	// ConflictScale and FramingScale are the evidence totals at which the
	// conflict and framing components reach 1-1/e of their maximum.
	ConflictScale float64 `yaml:"conflict_scale"`
	FramingScale  float64 `yaml:"framing_scale"`
	// ConflictShare: a conflict is listed when its evidence is at least this
	// share of the strongest conflict's.
	ConflictShare float64 `yaml:"conflict_share"`
}

// PositionWeights multiply a match's weight by where it occurs.
type PositionWeights struct {
	Title   float64 `yaml:"title"`
	Summary float64 `yaml:"summary"`
	Lead    float64 `yaml:"lead"` // the first two paragraphs of the text
	Body    float64 `yaml:"body"`
}

// ConflictRule describes one conflict. Its evidence comes from gazetteer
// entities tagged with its id and from its own phrases.
type ConflictRule struct {
	ID         string   `yaml:"id"`
	Name       string   `yaml:"name"`
	Definition string   `yaml:"definition"`
	Phrases    []Phrase `yaml:"phrases"`
}

// TopicRule is the rule of one topic. A topic is tagged on a relevant story
// when the weighted sum of its phrases, minus its negative phrases, reaches
// MinScore, and, if Context is not empty, one of the context phrases or one
// of the Conflicts is present.
type TopicRule struct {
	ID         string   `yaml:"id"`
	Definition string   `yaml:"definition"`
	MinScore   float64  `yaml:"min_score"`
	Phrases    []Phrase `yaml:"phrases"`
	Context    []string `yaml:"context"`
	Conflicts  []string `yaml:"conflicts"`
	// Framing is how much the topic's evidence says that a story is about
	// conflict at all (default 1); generic topics such as diplomacy count
	// less, so that trade talks in Baku do not become a conflict story.
	Framing *float64 `yaml:"framing"`
	// Negative phrases subtract their weight (default 3) from the topic.
	// Being phrases in the same leftmost-longest scan, they also consume
	// the text they cover: "coal mine" hides the "mine" inside it.
	Negative []Phrase `yaml:"negative"`
}

// Phrase is a weighted phrase, written in YAML as "text" (weight 1) or
// "text | weight" to keep the rule files short.
type Phrase struct {
	Text   string
	Weight float64
}

// UnmarshalYAML accepts "text" or "text | weight".
func (p *Phrase) UnmarshalYAML(decode func(any) error) error {
	var s string
	if err := decode(&s); err != nil {
		return fmt.Errorf("decoding phrase: %w", err)
	}
	p.Text, p.Weight = s, 1
	if t, w, ok := strings.Cut(s, "|"); ok {
		p.Text = strings.TrimSpace(t)
		if _, err := fmt.Sscanf(strings.TrimSpace(w), "%g", &p.Weight); err != nil {
			return fmt.Errorf("parsing weight of phrase %q: %w", s, err)
		}
	}
	p.Text = strings.TrimSpace(p.Text)
	return nil
}

// Gazetteer is the entity file (configs/gazetteer.yaml).
type Gazetteer struct {
	Version  string        `yaml:"version"`
	Entities []EntityEntry `yaml:"entities"`
}

// EntityEntry is one gazetteer entity.
type EntityEntry struct {
	ID       string   `yaml:"id"`
	Name     string   `yaml:"name"` // canonical English name; both names for contested places
	Type     string   `yaml:"type"` // person, place or org
	Wikidata string   `yaml:"wikidata"`
	Lat      *float64 `yaml:"lat"`
	Lon      *float64 `yaml:"lon"`
	Country  string   `yaml:"country"` // ISO 3166 alpha-2, or a region code
	// Conflicts the entity signals, with Weight per mention (default 1).
	Conflicts []string `yaml:"conflicts"`
	Weight    *float64 `yaml:"weight"`
	Aliases   []Alias  `yaml:"aliases"`
	// Ambiguous aliases link only when the story confirms them: another
	// mention of the same entity, of an entity listed in Context, or of an
	// entity of the same country. When an alias belongs to several
	// entities, the one confirmed that way wins; otherwise none is linked.
	Ambiguous []Alias  `yaml:"ambiguous"`
	Context   []string `yaml:"context"`
	// NoInflect turns off generated Russian case forms for this entity's
	// aliases (for names whose forms collide with common words).
	NoInflect bool   `yaml:"no_inflect"`
	Note      string `yaml:"note"`
}

// Alias is one name of an entity, written in YAML as a plain string or,
// for a name that must keep its capitals, as {text: UN, case_sensitive: true}.
// A case-sensitive alias matches only where the text spells its letters
// with exactly the same case ("UN" but not "un", "US" but not "us"); it gets
// no generated case forms.
type Alias struct {
	Text          string `yaml:"text"`
	CaseSensitive bool   `yaml:"case_sensitive"`
}

// UnmarshalYAML accepts "text" or {text: ..., case_sensitive: true};
// unknown keys in the mapping form are rejected. It decodes through the
// decoder's own callback: the []byte form of goccy/go-yaml re-formats the
// whole document for every value, which made loading quadratic.
func (a *Alias) UnmarshalYAML(decode func(any) error) error {
	var s string
	if err := decode(&s); err == nil {
		*a = Alias{Text: strings.TrimSpace(s)}
		return nil
	}
	type plain Alias
	var p plain
	if err := decode(&p); err != nil {
		return fmt.Errorf("decoding alias: %w", err)
	}
	*a = Alias(p)
	a.Text = strings.TrimSpace(a.Text)
	return nil
}

// aliasTexts returns the texts of aliases.
func aliasTexts(aliases []Alias) []string {
	out := make([]string, len(aliases))
	for i, a := range aliases {
		out[i] = a.Text
	}
	return out
}

// Entities of type "none" are blockers: their aliases take part in
// leftmost-longest matching ("Georgia Tech", "Coal Mine Road") so that the
// shorter names inside them do not fire, and they are never reported.
const typeNone = "none"

var (
	qidRE = regexp.MustCompile(`^Q[1-9][0-9]*$`)
	idRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
)

func readYAML(fsys fs.FS, path string, v any) error {
	data, err := fs.ReadFile(fsys, path)
	if err != nil {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	if err := yaml.UnmarshalWithOptions(data, v, yaml.Strict()); err != nil {
		return fmt.Errorf("decoding %s: %w", path, err)
	}
	return nil
}

// Validate checks the taxonomy for missing fields and duplicate ids.
func (t *Taxonomy) Validate() error {
	var errs []error
	if t.Version == "" {
		errs = append(errs, errors.New("taxonomy has no version"))
	}
	if t.Relevance.Threshold <= 0 || t.Relevance.Threshold > 1 {
		errs = append(errs, errors.New("relevance.threshold must be in (0, 1]"))
	}
	if t.Relevance.ConflictScale <= 0 || t.Relevance.FramingScale <= 0 {
		errs = append(errs, errors.New("relevance.conflict_scale and framing_scale must be positive"))
	}
	seen := map[string]bool{}
	for i, c := range t.Conflicts {
		if !idRE.MatchString(c.ID) || seen[c.ID] {
			errs = append(errs, fmt.Errorf("conflict %d: bad or duplicate id %q", i, c.ID))
		}
		seen[c.ID] = true
		if c.Definition == "" {
			errs = append(errs, fmt.Errorf("conflict %q has no definition", c.ID))
		}
	}
	conflicts := seen
	seen = map[string]bool{}
	for i, tp := range t.Topics {
		if !idRE.MatchString(tp.ID) || seen[tp.ID] {
			errs = append(errs, fmt.Errorf("topic %d: bad or duplicate id %q", i, tp.ID))
		}
		seen[tp.ID] = true
		if tp.Definition == "" {
			errs = append(errs, fmt.Errorf("topic %q has no definition", tp.ID))
		}
		if len(tp.Phrases) == 0 {
			errs = append(errs, fmt.Errorf("topic %q has no phrases", tp.ID))
		}
		for _, c := range tp.Conflicts {
			if !conflicts[c] {
				errs = append(errs, fmt.Errorf("topic %q names unknown conflict %q", tp.ID, c))
			}
		}
	}
	return errors.Join(errs...)
}

// Validate checks the gazetteer: ids unique and well-formed, types known,
// QIDs well-formed and unique, coordinates present for places and in range.
func (g *Gazetteer) Validate(conflicts map[string]bool) error {
	var errs []error
	if g.Version == "" {
		errs = append(errs, errors.New("gazetteer has no version"))
	}
	ids := map[string]bool{}
	qids := map[string]string{}
	for i, e := range g.Entities {
		if !idRE.MatchString(e.ID) || ids[e.ID] {
			errs = append(errs, fmt.Errorf("entity %d: bad or duplicate id %q", i, e.ID))
		}
		ids[e.ID] = true
	}
	for _, e := range g.Entities {
		switch e.Type {
		case "person", "place", "org", typeNone:
		default:
			errs = append(errs, fmt.Errorf("entity %q: unknown type %q", e.ID, e.Type))
		}
		if e.Name == "" && e.Type != typeNone {
			errs = append(errs, fmt.Errorf("entity %q has no name", e.ID))
		}
		if e.Wikidata != "" {
			if !qidRE.MatchString(e.Wikidata) {
				errs = append(errs, fmt.Errorf("entity %q: malformed wikidata id %q", e.ID, e.Wikidata))
			} else if other, dup := qids[e.Wikidata]; dup {
				errs = append(errs, fmt.Errorf("entity %q: wikidata id %s already used by %q", e.ID, e.Wikidata, other))
			}
			qids[e.Wikidata] = e.ID
		}
		if (e.Lat == nil) != (e.Lon == nil) {
			errs = append(errs, fmt.Errorf("entity %q: lat and lon must be given together", e.ID))
		}
		if e.Lat != nil && (*e.Lat < -90 || *e.Lat > 90 || *e.Lon < -180 || *e.Lon > 180) {
			errs = append(errs, fmt.Errorf("entity %q: coordinates out of range", e.ID))
		}
		if e.Type == "place" && e.Lat == nil {
			errs = append(errs, fmt.Errorf("place %q has no coordinates", e.ID))
		}
		for _, c := range e.Conflicts {
			if conflicts != nil && !conflicts[c] {
				errs = append(errs, fmt.Errorf("entity %q names unknown conflict %q", e.ID, c))
			}
		}
		for _, c := range e.Context {
			if !ids[c] {
				errs = append(errs, fmt.Errorf("entity %q: context names unknown entity %q", e.ID, c))
			}
		}
		if len(e.Aliases)+len(e.Ambiguous) == 0 {
			errs = append(errs, fmt.Errorf("entity %q has no aliases", e.ID))
		}
		for _, a := range append(e.Aliases[:len(e.Aliases):len(e.Aliases)], e.Ambiguous...) {
			if foldKey(a.Text) == "" {
				errs = append(errs, fmt.Errorf("entity %q: alias %q has no letters or digits", e.ID, a.Text))
			}
		}
	}
	return errors.Join(errs...)
}
