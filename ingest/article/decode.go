package article

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// ErrUnsupportedVersion reports a message whose major schema version this
// build does not understand. Redelivering such a message never helps.
var ErrUnsupportedVersion = errors.New("article: unsupported schema version")

// DecodeRaw parses a raw article message and checks that it carries a
// supported major schema version and the fields every stage relies on.
func DecodeRaw(data []byte) (Raw, error) {
	var r Raw
	if err := json.Unmarshal(data, &r); err != nil {
		return Raw{}, fmt.Errorf("decoding raw article: %w", err)
	}
	if err := checkVersion(r.SchemaVersion, RawSchemaVersion); err != nil {
		return Raw{}, err
	}
	if r.ID == "" {
		return Raw{}, errors.New("article: raw article has no id")
	}
	return r, nil
}

// DecodeEnriched is DecodeRaw for enriched articles.
func DecodeEnriched(data []byte) (Enriched, error) {
	var e Enriched
	if err := json.Unmarshal(data, &e); err != nil {
		return Enriched{}, fmt.Errorf("decoding enriched article: %w", err)
	}
	if err := checkVersion(e.SchemaVersion, EnrichedSchemaVersion); err != nil {
		return Enriched{}, err
	}
	if e.ID == "" {
		return Enriched{}, errors.New("article: enriched article has no id")
	}
	return e, nil
}

func checkVersion(got, want string) error {
	major := func(v string) string { m, _, _ := strings.Cut(v, "."); return m }
	if got == "" || major(got) != major(want) {
		return fmt.Errorf("%w: %q (this build reads %s.x)", ErrUnsupportedVersion, got, major(want))
	}
	return nil
}
