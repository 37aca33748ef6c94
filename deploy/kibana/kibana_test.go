package kibana_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/wiredesk/wiredesk/deploy/kibana"
	esstore "github.com/wiredesk/wiredesk/index/elastic"
)

type savedObject struct {
	ID                   string         `json:"id"`
	Type                 string         `json:"type"`
	Attributes           map[string]any `json:"attributes"`
	References           []ref          `json:"references"`
	CoreMigrationVersion string         `json:"coreMigrationVersion"`
	TypeMigrationVersion string         `json:"typeMigrationVersion"`
}

func parseObjects(t *testing.T) []savedObject {
	t.Helper()
	var objs []savedObject
	sc := bufio.NewScanner(bytes.NewReader(kibana.Objects()))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		var o savedObject
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		if err := dec.Decode(&o); err != nil {
			t.Fatalf("line %d is not a saved object: %v", n, err)
		}
		objs = append(objs, o)
	}
	if len(objs) == 0 {
		t.Fatal("no saved objects embedded")
	}
	return objs
}

// str decodes a JSON-in-a-string attribute such as searchSourceJSON.
func str(t *testing.T, o savedObject, s any, what string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(s.(string)), &m); err != nil {
		t.Fatalf("%s/%s: %s is not a JSON object: %v", o.Type, o.ID, what, err)
	}
	return m
}

var fixedID = regexp.MustCompile(`^wiredesk-[a-z0-9-]+$`)

// kql field in a saved search: `field : "value"` clauses joined by and/or.
var kqlField = regexp.MustCompile(`(?:^|\b(?:and|or|not)\s+)([a-z_.]+)\s*:`)

// TestSavedObjects checks what Kibana would only find out on import or in
// front of a reporter: ids are fixed and unique, every reference resolves
// inside the file, and every field an object names is in the index mapping
// with a type that can do what the object asks of it.
func TestSavedObjects(t *testing.T) {
	objs := parseObjects(t)
	fields := esstore.Fields()
	byKey := map[string]savedObject{}
	for _, o := range objs {
		if !fixedID.MatchString(o.ID) {
			t.Errorf("%s id %q is not a fixed wiredesk-… id", o.Type, o.ID)
		}
		key := o.Type + "/" + o.ID
		if _, dup := byKey[key]; dup {
			t.Errorf("%s appears twice", key)
		}
		byKey[key] = o
		if o.CoreMigrationVersion == "" || o.TypeMigrationVersion == "" {
			t.Errorf("%s has no migration versions: Kibana would migrate it from 7.x", key)
		}
	}

	// needField fails unless name is mapped with one of types.
	needField := func(o savedObject, name string, types ...string) {
		t.Helper()
		typ, ok := fields[name]
		switch {
		case !ok:
			t.Errorf("%s/%s uses field %q, which the mapping does not have", o.Type, o.ID, name)
		case len(types) > 0 && !slices.Contains(types, typ):
			t.Errorf("%s/%s uses field %q of type %s, want %v", o.Type, o.ID, name, typ, types)
		}
	}
	aggregatable := []string{"keyword", "boolean", "date", "long", "float"}
	checkKQL := func(o savedObject, q string) {
		for _, m := range kqlField.FindAllStringSubmatch(q, -1) {
			needField(o, m[1])
		}
	}
	refByName := func(o savedObject, name string) ref {
		t.Helper()
		for _, r := range o.References {
			if r.Name == name {
				return r
			}
		}
		t.Errorf("%s/%s names reference %q, which it does not carry", o.Type, o.ID, name)
		return ref{}
	}
	checkSearchSource := func(o savedObject) {
		meta, _ := o.Attributes["kibanaSavedObjectMeta"].(map[string]any)
		if meta == nil {
			t.Errorf("%s/%s has no kibanaSavedObjectMeta", o.Type, o.ID)
			return
		}
		ss := str(t, o, meta["searchSourceJSON"], "searchSourceJSON")
		if q, ok := ss["query"].(map[string]any); ok {
			if q["language"] != "kuery" {
				t.Errorf("%s/%s query language %v, want kuery", o.Type, o.ID, q["language"])
			}
			checkKQL(o, q["query"].(string))
		}
		if name, ok := ss["indexRefName"].(string); ok {
			if r := refByName(o, name); r.Type != "index-pattern" {
				t.Errorf("%s/%s: %s refers to a %s", o.Type, o.ID, name, r.Type)
			}
		} else if o.Type != "dashboard" {
			t.Errorf("%s/%s: searchSourceJSON has no indexRefName", o.Type, o.ID)
		}
	}

	for _, o := range objs {
		for _, r := range o.References {
			if _, ok := byKey[r.Type+"/"+r.ID]; !ok {
				t.Errorf("%s/%s refers to %s/%s, which is not in the file", o.Type, o.ID, r.Type, r.ID)
			}
		}
		switch o.Type {
		case "index-pattern":
			if o.Attributes["title"] != esstore.DefaultAlias {
				t.Errorf("data view on %v, want the alias %s", o.Attributes["title"], esstore.DefaultAlias)
			}
			needField(o, o.Attributes["timeFieldName"].(string), "date")
			for f, spec := range str(t, o, o.Attributes["fieldFormatMap"], "fieldFormatMap") {
				needField(o, f)
				if f == "url" && spec.(map[string]any)["id"] != "url" {
					t.Errorf("the url field is not formatted as a link: %v", spec)
				}
			}
			for f := range str(t, o, o.Attributes["fieldAttrs"], "fieldAttrs") {
				needField(o, f)
			}
		case "search":
			checkSearchSource(o)
			for _, c := range o.Attributes["columns"].([]any) {
				needField(o, c.(string))
			}
			for _, s := range o.Attributes["sort"].([]any) {
				needField(o, s.([]any)[0].(string), aggregatable...)
			}
		case "visualization":
			checkSearchSource(o)
			vis := str(t, o, o.Attributes["visState"], "visState")
			for _, a := range vis["aggs"].([]any) {
				p := a.(map[string]any)["params"].(map[string]any)
				if f, ok := p["field"].(string); ok {
					needField(o, f, aggregatable...)
				}
				if fs, ok := p["filters"].([]any); ok {
					for _, f := range fs {
						checkKQL(o, f.(map[string]any)["input"].(map[string]any)["query"].(string))
					}
				}
			}
		case "map":
			var layers []map[string]any
			if err := json.Unmarshal([]byte(o.Attributes["layerListJSON"].(string)), &layers); err != nil {
				t.Fatalf("map/%s: layerListJSON: %v", o.ID, err)
			}
			for _, l := range layers {
				sd := l["sourceDescriptor"].(map[string]any)
				if f, ok := sd["geoField"].(string); ok {
					needField(o, f, "geo_point")
				}
				if name, ok := sd["indexPatternRefName"].(string); ok {
					refByName(o, name)
				}
			}
		case "dashboard":
			checkSearchSource(o)
			var panels []map[string]any
			if err := json.Unmarshal([]byte(o.Attributes["panelsJSON"].(string)), &panels); err != nil {
				t.Fatalf("dashboard/%s: panelsJSON: %v", o.ID, err)
			}
			for _, p := range panels {
				r := refByName(o, p["panelIndex"].(string)+":"+p["panelRefName"].(string))
				if r.Type != p["type"] {
					t.Errorf("dashboard panel %v of type %v refers to a %s", p["panelIndex"], p["type"], r.Type)
				}
			}
		default:
			t.Errorf("unexpected saved object type %s", o.Type)
		}
	}

	// The newsroom's searches: one per conflict and per topic.
	tx := loadTaxonomy(t)
	want := []string{}
	for _, c := range tx.Conflicts {
		want = append(want, "search/wiredesk-conflict-"+c.ID)
	}
	for _, tp := range tx.Topics {
		want = append(want, "search/wiredesk-topic-"+tp.ID)
	}
	for _, k := range append(want, "index-pattern/"+kibana.DataViewID, "dashboard/wiredesk-newsroom", "map/wiredesk-map-places") {
		if _, ok := byKey[k]; !ok {
			t.Errorf("missing %s", k)
		}
	}
	if len(tx.Topics) != 15 || len(tx.Conflicts) != 3 {
		t.Logf("taxonomy has %d conflicts and %d topics", len(tx.Conflicts), len(tx.Topics))
	}
	for _, k := range want {
		q := str(t, byKey[k], byKey[k].Attributes["kibanaSavedObjectMeta"].(map[string]any)["searchSourceJSON"], "searchSourceJSON")["query"].(map[string]any)["query"].(string)
		id := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(k, "search/"), "wiredesk-conflict-"), "wiredesk-topic-")
		if !strings.Contains(q, `"`+id+`"`) {
			t.Errorf("%s queries %q, not its own id", k, q)
		}
	}
}
