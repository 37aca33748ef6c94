// Package schemas is wiredesk's schema registry: the JSON Schema of every
// CloudEvents type wiredesk publishes, stored in the NATS KV bucket Bucket
// under its ce-type, so that a consumer in any language can fetch the
// schema of a message it receives:
//
//	nats kv get wiredesk_schemas org.wiredesk.article.enriched.v1 --raw
//
// Every service writes the registry at start (Ensure); the bucket keeps a
// short history per key, so earlier minor versions stay readable.
package schemas

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/nats-io/nats.go/jetstream"
)

// Bucket is the KV bucket of the registry. Keys are ce-types, values the
// JSON Schema documents as published in the repository.
const Bucket = "wiredesk_schemas"

var (
	// ErrIncompatible is returned by Ensure when the registry holds a schema
	// of the same ce-type that neither extends nor is extended by the one
	// being registered: a breaking change that kept its ce-type.
	ErrIncompatible = errors.New("schemas: incompatible schema for the same ce-type")
	// ErrNotFound is returned by Fetch for a ce-type nobody registered.
	ErrNotFound = errors.New("schemas: no schema registered for this ce-type")
)

// Schema is the JSON Schema of one ce-type.
type Schema struct {
	Type string // ce-type, e.g. "org.wiredesk.article.enriched.v1"
	Doc  []byte // the JSON Schema document
}

// Ensure creates the bucket if needed and registers each schema. It is
// idempotent and safe to run from several services at once.
//
// Within a ce-type only additive changes are allowed, so of two versions
// of a schema the newer lists every property of the older one. Ensure
// writes a schema only when it extends what is stored; when the stored one
// extends it (an older build starting during a rolling upgrade or after a
// rollback) the stored one stays. When neither extends the other it returns
// ErrIncompatible and leaves the stored schema as it is.
//
// replicas is the bucket's replication factor (0 or 1 on a single server).
func Ensure(ctx context.Context, js jetstream.JetStream, replicas int, list []Schema) error {
	kv, err := js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Replicas:     max(1, replicas),
		Bucket:       Bucket,
		Description:  "wiredesk: JSON Schema of each published ce-type",
		History:      16,
		MaxValueSize: 1 << 20,
		Storage:      jetstream.FileStorage,
	})
	if err != nil {
		return fmt.Errorf("creating schema registry %s: %w", Bucket, err)
	}
	for _, s := range list {
		if err := register(ctx, kv, s); err != nil {
			return fmt.Errorf("registering schema of %s: %w", s.Type, err)
		}
	}
	return nil
}

func register(ctx context.Context, kv jetstream.KeyValue, s Schema) error {
	if _, err := Properties(s.Doc); err != nil {
		return err
	}
	// A concurrent writer can win a race between read and write; the
	// revision check then fails and the decision is made again.
	for attempt := 0; ; attempt++ {
		e, err := kv.Get(ctx, s.Type)
		if errors.Is(err, jetstream.ErrKeyNotFound) {
			if _, err = kv.Create(ctx, s.Type, s.Doc); err == nil || !errors.Is(err, jetstream.ErrKeyExists) || attempt >= 3 {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		stored := e.Value()
		if bytes.Equal(stored, s.Doc) {
			return nil
		}
		lost, err := Breaks(stored, s.Doc)
		if err != nil {
			return fmt.Errorf("reading the registered schema: %w", err)
		}
		if len(lost) > 0 {
			if gained, err := Breaks(s.Doc, stored); err == nil && len(gained) == 0 {
				return nil // the registered schema is newer
			}
			return fmt.Errorf("%w: this build drops or changes %s", ErrIncompatible, strings.Join(lost, ", "))
		}
		if _, err = kv.Update(ctx, s.Type, s.Doc, e.Revision()); err == nil || attempt >= 3 {
			return err
		}
	}
}

// Fetch returns the registered schema of ceType.
func Fetch(ctx context.Context, js jetstream.JetStream, ceType string) ([]byte, error) {
	kv, err := js.KeyValue(ctx, Bucket)
	if err != nil {
		return nil, fmt.Errorf("opening schema registry %s: %w", Bucket, err)
	}
	e, err := kv.Get(ctx, ceType)
	if errors.Is(err, jetstream.ErrKeyNotFound) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ceType)
	}
	if err != nil {
		return nil, fmt.Errorf("fetching schema of %s: %w", ceType, err)
	}
	return e.Value(), nil
}

// shape is what compatibility is judged on: the properties a schema
// declares (as JSON pointers) and which of them it requires.
type shape struct {
	nodes    map[string]bool // every schema object, by pointer
	props    map[string]bool // every declared property, by pointer
	required map[string]bool // pointer of a required property
}

// Properties returns the JSON pointers of every property doc declares, at
// any depth, sorted.
func Properties(doc []byte) ([]string, error) {
	sh, err := shapeOf(doc)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(sh.props))
	for p := range sh.props {
		out = append(out, p)
	}
	sort.Strings(out)
	return out, nil
}

// Breaks lists what makes newer an incompatible successor of older under
// the rule that a ce-type only ever gains optional properties: a property
// older declares and newer does not, or a property whose required-ness
// changed, or a property newer adds as required to an object older knew.
// Nil means newer extends older.
func Breaks(older, newer []byte) ([]string, error) {
	o, err := shapeOf(older)
	if err != nil {
		return nil, err
	}
	n, err := shapeOf(newer)
	if err != nil {
		return nil, err
	}
	var out []string
	for p := range o.props {
		if !n.props[p] {
			out = append(out, p+" (removed)")
		}
	}
	for p := range o.required {
		if n.props[p] && !n.required[p] {
			out = append(out, p+" (no longer required)")
		}
	}
	for p := range n.required {
		if !o.required[p] && o.nodes[parent(p)] {
			out = append(out, p+" (newly required)")
		}
	}
	slices.Sort(out)
	return out, nil
}

// parent returns the pointer of the object schema that declares the
// property at p: "/properties/topics/items/properties/id" → "/properties/topics/items".
func parent(p string) string {
	i := strings.LastIndex(p, "/properties/")
	if i < 0 {
		return ""
	}
	return p[:i]
}

func shapeOf(doc []byte) (*shape, error) {
	var v any
	if err := json.Unmarshal(doc, &v); err != nil {
		return nil, fmt.Errorf("schemas: parsing schema: %w", err)
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, errors.New("schemas: a schema must be a JSON object")
	}
	sh := &shape{nodes: map[string]bool{}, props: map[string]bool{}, required: map[string]bool{}}
	sh.walk(root, "")
	return sh, nil
}

func (sh *shape) walk(v any, at string) {
	switch v := v.(type) {
	case map[string]any:
		sh.nodes[at] = true
		if props, ok := v["properties"].(map[string]any); ok {
			for name, sub := range props {
				p := at + "/properties/" + name
				sh.props[p] = true
				sh.walk(sub, p)
			}
		}
		if req, ok := v["required"].([]any); ok {
			for _, r := range req {
				if name, ok := r.(string); ok {
					sh.required[at+"/properties/"+name] = true
				}
			}
		}
		for k, sub := range v {
			if k != "properties" {
				sh.walk(sub, at+"/"+k)
			}
		}
	case []any:
		for i, sub := range v {
			sh.walk(sub, fmt.Sprintf("%s/%d", at, i))
		}
	}
}
