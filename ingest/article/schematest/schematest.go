// Package schematest compiles the article JSON Schemas for tests that
// validate messages against them. Only tests import it.
package schematest

import (
	"bytes"
	"io/fs"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/wiredesk/wiredesk/ingest/article"
)

// Compile compiles the schema at name in article.Schemas (e.g.
// "schema/raw.v1.json") with format assertions on, and returns it with
// its parsed document.
func Compile(t testing.TB, name string) (*jsonschema.Schema, map[string]any) {
	t.Helper()
	data, err := fs.ReadFile(article.Schemas, name)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(name, doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile(name)
	if err != nil {
		t.Fatal(err)
	}
	return s, doc.(map[string]any)
}

// Validate checks one JSON message against s.
func Validate(s *jsonschema.Schema, data []byte) error {
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	return s.Validate(inst)
}
