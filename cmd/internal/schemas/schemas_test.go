package schemas_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/wiredesk/wiredesk/cmd/internal/bus"
	"github.com/wiredesk/wiredesk/cmd/internal/schemas"
	"github.com/wiredesk/wiredesk/cmd/internal/stagetest"
)

const (
	v10 = `{"type":"object","required":["id"],"properties":{"id":{"type":"string"}}}`
	// v11 adds an optional property: a compatible successor of v10.
	v11 = `{"type":"object","required":["id"],"properties":{"id":{"type":"string"},"lang":{"type":"string"}}}`
	// renamed drops id: a breaking change under the same ce-type.
	renamed = `{"type":"object","required":["uid"],"properties":{"uid":{"type":"string"}}}`
)

func TestBreaks(t *testing.T) {
	for _, tc := range []struct {
		name, older, newer string
		want               []string
	}{
		{"same", v10, v10, nil},
		{"optional property added", v10, v11, nil},
		{"property removed", v11, v10, []string{"/properties/lang (removed)"}},
		{"renamed", v10, renamed, []string{"/properties/id (removed)", "/properties/uid (newly required)"}},
		{"made optional", v10, `{"type":"object","properties":{"id":{"type":"string"}}}`, []string{"/properties/id (no longer required)"}},
		{"required property added", v10, `{"type":"object","required":["id","x"],"properties":{"id":{},"x":{}}}`, []string{"/properties/x (newly required)"}},
		{"nested property removed",
			`{"properties":{"topics":{"type":"array","items":{"properties":{"id":{},"score":{}}}}}}`,
			`{"properties":{"topics":{"type":"array","items":{"properties":{"id":{}}}}}}`,
			[]string{"/properties/topics/items/properties/score (removed)"}},
		{"new optional object with required fields", v10,
			`{"type":"object","required":["id"],"properties":{"id":{"type":"string"},"geo":{"type":"object","required":["lat"],"properties":{"lat":{}}}}}`, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := schemas.Breaks([]byte(tc.older), []byte(tc.newer))
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("Breaks = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestCompatibleWithReleased is the compatibility rule as a test: the
// schema this build publishes for a ce-type must extend every schema ever
// released under that ce-type (testdata/released/<ce-type>.json, copied in
// when a version ships). A breaking change fails here; it needs a new
// ce-type (…v2) instead, published beside the old one during a transition.
func TestCompatibleWithReleased(t *testing.T) {
	current, err := bus.Schemas()
	if err != nil {
		t.Fatal(err)
	}
	byType := map[string][]byte{}
	for _, s := range current {
		byType[s.Type] = s.Doc
	}
	files, err := filepath.Glob("testdata/released/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no released schemas in testdata/released: %v", err)
	}
	for _, f := range files {
		ceType := strings.TrimSuffix(filepath.Base(f), ".json")
		t.Run(ceType, func(t *testing.T) {
			released, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			doc, ok := byType[ceType]
			if !ok {
				t.Fatalf("%s was released but is no longer published; keep publishing it until consumers have moved", ceType)
			}
			lost, err := schemas.Breaks(released, doc)
			if err != nil {
				t.Fatal(err)
			}
			if len(lost) > 0 {
				t.Errorf("the schema of %s breaks its released version: %s", ceType, strings.Join(lost, ", "))
			}
		})
	}
	for ceType := range byType {
		if _, err := os.Stat(filepath.Join("testdata/released", ceType+".json")); err != nil {
			t.Errorf("%s is published but has no released copy in testdata/released", ceType)
		}
	}
}

func get(t *testing.T, js jetstream.JetStream, ceType string) (string, uint64) {
	t.Helper()
	kv, err := js.KeyValue(context.Background(), schemas.Bucket)
	if err != nil {
		t.Fatal(err)
	}
	e, err := kv.Get(context.Background(), ceType)
	if err != nil {
		t.Fatal(err)
	}
	return string(e.Value()), e.Revision()
}

// TestRegistry: the streams' setup registers every published schema under
// its ce-type; registering again writes nothing; an older build does not
// overwrite a newer schema; a newer one does; a breaking one is refused.
func TestRegistry(t *testing.T) {
	ctx := context.Background()
	_, js := stagetest.JetStream(t) // runs bus.EnsureStreams

	published, err := bus.Schemas()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range published {
		doc, err := schemas.Fetch(ctx, js, s.Type)
		if err != nil {
			t.Fatal(err)
		}
		if string(doc) != string(s.Doc) {
			t.Errorf("registry holds a different schema for %s", s.Type)
		}
	}
	_, rev := get(t, js, bus.TypeEnriched)
	if err := bus.EnsureStreams(ctx, js, bus.DefaultTopology()); err != nil {
		t.Fatal(err)
	}
	if _, again := get(t, js, bus.TypeEnriched); again != rev {
		t.Errorf("registering the same schema again wrote revision %d over %d", again, rev)
	}
	if _, err := schemas.Fetch(ctx, js, "org.wiredesk.unknown.v1"); !errors.Is(err, schemas.ErrNotFound) {
		t.Errorf("Fetch of an unknown type = %v, want ErrNotFound", err)
	}

	const typ = "org.wiredesk.test.v1"
	steps := []struct {
		name, doc, want string
		err             error
	}{
		{"first registration", v10, v10, nil},
		{"additive change", v11, v11, nil},
		{"older build starts later", v10, v11, nil},
		{"breaking change under the same type", renamed, v11, schemas.ErrIncompatible},
	}
	for _, st := range steps {
		err := schemas.Ensure(ctx, js, 1, []schemas.Schema{{Type: typ, Doc: []byte(st.doc)}})
		if !errors.Is(err, st.err) {
			t.Errorf("%s: Ensure = %v, want %v", st.name, err, st.err)
		}
		if got, _ := get(t, js, typ); got != st.want {
			t.Errorf("%s: registry holds %s, want %s", st.name, got, st.want)
		}
	}
}
