package esstore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// DefaultAlias is the read alias over the monthly indices, and the name of
// the index template and the ILM policy.
const DefaultAlias = "wiredesk-articles"

// textFields are analysed with the standard analyzer and, in sub-fields,
// with each language analyzer Elasticsearch and OpenSearch ship for the
// region's languages.
var (
	textFields = []string{"title", "summary", "text"}
	subFields  = []string{"english", "russian", "armenian"}
	// searchFields are the fields free text is matched against; bleve's
	// store uses the same list minus the Armenian sub-fields.
	searchFields = func() []string {
		var fs []string
		for _, f := range textFields {
			fs = append(fs, f)
			for _, s := range subFields {
				fs = append(fs, f+"."+s)
			}
		}
		return append(fs, "aliases")
	}()
	sourceFields = []string{"title", "url", "source", "language", "published", "topics", "conflicts", "entity_names", "summary", "text"}
)

func keyword() map[string]any { return map[string]any{"type": "keyword"} }

// mappings is the strict mapping of index.Doc: a document with any other
// field is rejected (400), so the mapping never grows by accident.
func mappings() map[string]any {
	props := map[string]any{}
	for _, f := range textFields {
		subs := map[string]any{}
		for _, s := range subFields {
			subs[s] = map[string]any{"type": "text", "analyzer": s}
		}
		props[f] = map[string]any{"type": "text", "analyzer": "standard", "fields": subs}
	}
	for _, f := range []string{
		"id", "revision", "source", "language", "published_from", "conflicts", "topics",
		"entity_ids", "entity_qids", "entity_names", "people", "places", "orgs",
		"authors", "categories", "taxonomy_version", "gazetteer_version",
	} {
		props[f] = keyword()
	}
	props["feed_url"] = map[string]any{"type": "keyword", "index": false}
	props["url"] = map[string]any{"type": "keyword", "index": false}
	props["entity_keys"] = map[string]any{"type": "keyword", "normalizer": "wiredesk_lowercase"}
	props["aliases"] = map[string]any{"type": "text", "analyzer": "standard"}
	props["version"] = map[string]any{"type": "long"}
	props["relevant"] = map[string]any{"type": "boolean"}
	props["relevance"] = map[string]any{"type": "float"}
	for _, f := range []string{"published", "fetched", "enriched"} {
		props[f] = map[string]any{"type": "date"}
	}
	props["locations"] = map[string]any{"type": "geo_point"}
	// Stored in _source for display, never parsed or indexed.
	props["evidence"] = map[string]any{"type": "object", "enabled": false}
	return map[string]any{
		"dynamic":    "strict",
		"_source":    map[string]any{"enabled": true},
		"properties": props,
	}
}

func indexSettings(replicas int, ilmPolicy string) map[string]any {
	s := map[string]any{
		"number_of_shards":   1,
		"number_of_replicas": replicas,
		"analysis": map[string]any{
			"normalizer": map[string]any{
				"wiredesk_lowercase": map[string]any{"type": "custom", "filter": []string{"lowercase"}},
			},
		},
	}
	if ilmPolicy != "" {
		s["index.lifecycle.name"] = ilmPolicy
	}
	return s
}

// template is the composable index template for the monthly indices. Its
// _meta carries a hash of the rest, so Setup can tell whether the
// installed template is already this one.
func template(alias string, replicas int, ilmPolicy string) (body map[string]any, hash string) {
	t := map[string]any{
		"index_patterns": []string{alias + "-*"},
		"priority":       200,
		"template": map[string]any{
			"settings": indexSettings(replicas, ilmPolicy),
			"mappings": mappings(),
			"aliases":  map[string]any{alias: map[string]any{}},
		},
	}
	hash = hashOf(t)
	t["_meta"] = map[string]any{"managed_by": "wiredesk", "hash": hash}
	return t, hash
}

// ilmPolicy keeps articles indefinitely by default: a month's index moves
// to the warm phase (lower recovery priority, merged to few segments) two
// months after it was created, and is deleted after retentionDays when
// that is positive. There is no rollover: indices are named by month.
func ilmPolicy(retentionDays int) (body map[string]any, hash string) {
	phases := map[string]any{
		"hot": map[string]any{"min_age": "0ms", "actions": map[string]any{
			"set_priority": map[string]any{"priority": 100},
		}},
		"warm": map[string]any{"min_age": "60d", "actions": map[string]any{
			"set_priority": map[string]any{"priority": 50},
			"forcemerge":   map[string]any{"max_num_segments": 1},
		}},
	}
	if retentionDays > 0 {
		phases["delete"] = map[string]any{
			"min_age": itoa(retentionDays) + "d",
			"actions": map[string]any{"delete": map[string]any{}},
		}
	}
	p := map[string]any{"phases": phases}
	hash = hashOf(p)
	p["_meta"] = map[string]any{"managed_by": "wiredesk", "hash": hash}
	return map[string]any{"policy": p}, hash
}

func hashOf(v any) string {
	b, err := json.Marshal(v) // map keys are sorted: stable
	if err != nil {
		panic(err)
	}
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:8])
}

// Fields returns every field of the article mapping with its type, sub-
// fields named "field.sub" (e.g. "title.english": "text"). Tools that
// refer to fields by name, such as the Kibana saved objects in
// deploy/kibana, check against it.
func Fields() map[string]string {
	out := map[string]string{}
	var walk func(prefix string, props map[string]any)
	walk = func(prefix string, props map[string]any) {
		for name, v := range props {
			m := v.(map[string]any)
			typ, _ := m["type"].(string)
			out[prefix+name] = typ
			if subs, ok := m["fields"].(map[string]any); ok {
				walk(prefix+name+".", subs)
			}
			if p, ok := m["properties"].(map[string]any); ok {
				walk(prefix+name+".", p)
			}
		}
	}
	walk("", mappings()["properties"].(map[string]any))
	return out
}
