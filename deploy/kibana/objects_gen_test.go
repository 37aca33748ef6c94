package kibana_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
	"testing"

	"github.com/goccy/go-yaml"

	"github.com/wiredesk/wiredesk/configs"
)

var update = flag.Bool("update", false, "rewrite wiredesk.ndjson from the definitions in this file")

// The saved objects are written here in Go and checked in as
// wiredesk.ndjson; TestGenerated fails when the two disagree. The nested
// JSON strings Kibana wants (searchSourceJSON, visState, panelsJSON…) are
// easy to get wrong by hand and easy to get right with json.Marshal.

const (
	dataView  = "wiredesk-articles" // = kibana.DataViewID, and the alias
	timeField = "published"

	// Migration versions: the format each object is written in. Kibana
	// migrates objects from these versions up to its own on import; an
	// object claiming a newer version than Kibana knows is refused, so
	// these stay at the oldest 8.x format the objects are valid in.
	coreVersion = "8.8.0"
)

var typeVersion = map[string]string{
	"index-pattern": "8.0.0",
	"search":        "8.0.0",
	"visualization": "8.5.0",
	"map":           "8.4.0",
	"dashboard":     "8.7.0",
}

type ref struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	Type string `json:"type"`
}

type object struct {
	ID                   string         `json:"id"`
	Type                 string         `json:"type"`
	Attributes           map[string]any `json:"attributes"`
	References           []ref          `json:"references"`
	CoreMigrationVersion string         `json:"coreMigrationVersion"`
	TypeMigrationVersion string         `json:"typeMigrationVersion"`
	Managed              bool           `json:"managed"`
}

func js(v any) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		panic(err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

const indexRefName = "kibanaSavedObjectMeta.searchSourceJSON.index"

func dataViewRef() []ref {
	return []ref{{ID: dataView, Name: indexRefName, Type: "index-pattern"}}
}

// searchSource is a kuery query on the data view.
func searchSource(kql string) map[string]any {
	return map[string]any{"searchSourceJSON": js(map[string]any{
		"query":        map[string]any{"query": kql, "language": "kuery"},
		"filter":       []any{},
		"indexRefName": indexRefName,
	})}
}

func newObject(typ, id string, attrs map[string]any, refs []ref) object {
	if refs == nil {
		refs = []ref{}
	}
	return object{ID: id, Type: typ, Attributes: attrs, References: refs,
		CoreMigrationVersion: coreVersion, TypeMigrationVersion: typeVersion[typ]}
}

func dataViewObject() object {
	return newObject("index-pattern", dataView, map[string]any{
		"title":           dataView,
		"name":            "wiredesk articles",
		"timeFieldName":   timeField,
		"allowNoIndex":    true,
		"fields":          "[]",
		"runtimeFieldMap": "{}",
		"typeMeta":        "{}",
		// The evidence is stored for display in the API, not for reading
		// in Discover.
		"sourceFilters": js([]map[string]string{{"value": "evidence"}, {"value": "entity_keys"}}),
		"fieldFormatMap": js(map[string]any{
			"url": map[string]any{"id": "url", "params": map[string]any{
				"type": "a", "urlTemplate": "{{value}}", "labelTemplate": "{{value}}", "openLinkInNewTab": true,
			}},
			"relevance": map[string]any{"id": "percent", "params": map[string]any{"pattern": "0.[0]%"}},
		}),
		"fieldAttrs": js(map[string]any{
			"published":    map[string]string{"customLabel": "Published"},
			"url":          map[string]string{"customLabel": "Story link"},
			"entity_names": map[string]string{"customLabel": "Entities"},
			"relevance":    map[string]string{"customLabel": "Relevance"},
		}),
	}, nil)
}

var searchColumns = []string{"title", "source", "conflicts", "topics", "url"}

func savedSearch(id, title, description, kql string) object {
	return newObject("search", id, map[string]any{
		"title":                 title,
		"description":           description,
		"columns":               searchColumns,
		"sort":                  [][]string{{timeField, "desc"}},
		"grid":                  map[string]any{},
		"hideChart":             false,
		"isTextBasedQuery":      false,
		"kibanaSavedObjectMeta": searchSource(kql),
	}, dataViewRef())
}

func visualization(id, title, visType string, aggs []map[string]any, params map[string]any) object {
	params["type"] = visType
	return newObject("visualization", id, map[string]any{
		"title":                 title,
		"description":           "",
		"uiStateJSON":           "{}",
		"version":               1,
		"visState":              js(map[string]any{"title": title, "type": visType, "aggs": aggs, "params": params}),
		"kibanaSavedObjectMeta": searchSource(""),
	}, dataViewRef())
}

func agg(id, typ, schema string, params map[string]any) map[string]any {
	if params == nil {
		params = map[string]any{}
	}
	return map[string]any{"id": id, "enabled": true, "type": typ, "schema": schema, "params": params}
}

func terms(field string, size int, label string) map[string]any {
	return map[string]any{
		"field": field, "size": size, "order": "desc", "orderBy": "1",
		"otherBucket": false, "otherBucketLabel": "Other", "missingBucket": false, "missingBucketLabel": "Missing",
		"customLabel": label,
	}
}

func tableParams() map[string]any {
	return map[string]any{"perPage": 25, "showPartialRows": false, "showMetricsAtAllLevels": false,
		"showTotal": false, "totalFunc": "sum", "percentageCol": "", "autoFitRowToContent": false}
}

func storiesByTopic() object {
	return visualization("wiredesk-vis-stories-by-topic", "Stories over time by topic", "histogram",
		[]map[string]any{
			agg("1", "count", "metric", map[string]any{"customLabel": "Stories"}),
			agg("2", "date_histogram", "segment", map[string]any{
				"field": timeField, "interval": "auto", "min_doc_count": 1, "extended_bounds": map[string]any{},
				"useNormalizedEsInterval": true, "drop_partials": false, "customLabel": "Published",
			}),
			agg("3", "terms", "group", terms("topics", 15, "Topic")),
		},
		map[string]any{
			"addTooltip": true, "addLegend": true, "legendPosition": "right", "times": []any{}, "addTimeMarker": false,
			"categoryAxes": []any{map[string]any{
				"id": "CategoryAxis-1", "type": "category", "position": "bottom", "show": true,
				"scale": map[string]any{"type": "linear"}, "labels": map[string]any{"show": true, "filter": true, "truncate": 100},
				"title": map[string]any{},
			}},
			"valueAxes": []any{map[string]any{
				"id": "ValueAxis-1", "name": "LeftAxis-1", "type": "value", "position": "left", "show": true,
				"scale":  map[string]any{"type": "linear", "mode": "normal"},
				"labels": map[string]any{"show": true, "rotate": 0, "filter": false, "truncate": 100},
				"title":  map[string]any{"text": "Stories"},
			}},
			"seriesParams": []any{map[string]any{
				"show": true, "type": "histogram", "mode": "stacked", "data": map[string]any{"label": "Stories", "id": "1"},
				"valueAxis": "ValueAxis-1", "drawLinesBetweenPoints": true, "lineWidth": 2, "showCircles": true,
			}},
			"grid":          map[string]any{"categoryLines": false},
			"labels":        map[string]any{"show": false},
			"thresholdLine": map[string]any{"show": false, "value": 10, "width": 1, "style": "full", "color": "#E7664C"},
			"palette":       map[string]any{"type": "palette", "name": "default"},
		})
}

func topTable(id, title, field, label string, size int) object {
	return visualization(id, title, "table", []map[string]any{
		agg("1", "count", "metric", map[string]any{"customLabel": "Stories"}),
		agg("2", "terms", "bucket", terms(field, size, label)),
	}, tableParams())
}

func relevanceShare() object {
	return visualization("wiredesk-vis-relevance-share", "Relevance share", "pie", []map[string]any{
		agg("1", "count", "metric", map[string]any{"customLabel": "Stories"}),
		agg("2", "filters", "segment", map[string]any{"filters": []any{
			map[string]any{"input": map[string]any{"query": "relevant : true", "language": "kuery"}, "label": "About a Caucasus conflict"},
			map[string]any{"input": map[string]any{"query": "relevant : false", "language": "kuery"}, "label": "Other stories"},
		}}),
	}, map[string]any{
		"addTooltip": true, "legendDisplay": "show", "legendPosition": "right", "isDonut": true, "emptySizeRatio": 0.3,
		"nestedLegend": false, "truncateLegend": true, "maxLegendLines": 1, "distinctColors": false,
		"palette": map[string]any{"type": "palette", "name": "default"},
		"labels": map[string]any{"show": true, "values": true, "last_level": true, "truncate": 100,
			"valuesFormat": "percent", "percentDecimals": 1, "position": "default"},
	})
}

// placesMap is a Maps object (the legacy coordinate-map visualisation is
// gone in 8.x): counts of stories per grid cell of the places they name.
func placesMap() object {
	const refName = "layer_1_source_index_pattern"
	layers := []any{
		map[string]any{
			"id": "wiredesk-basemap", "label": "Basemap", "type": "EMS_VECTOR_TILE",
			"sourceDescriptor": map[string]any{"type": "EMS_TMS", "isAutoSelect": true, "lightModeDefault": "road_map_desaturated"},
			"minZoom":          0, "maxZoom": 24, "alpha": 1, "visible": true, "includeInFitToBounds": true,
			"style": map[string]any{"type": "EMS_VECTOR_TILE", "color": ""},
		},
		map[string]any{
			"id": "wiredesk-places", "label": "Places named in stories", "type": "GEOJSON_VECTOR",
			"sourceDescriptor": map[string]any{
				"type": "ES_GEO_GRID", "id": "wiredesk-places-source", "geoField": "locations",
				"requestType": "point", "resolution": "FINE", "metrics": []any{map[string]any{"type": "count", "label": "Stories"}},
				"applyGlobalQuery": true, "applyGlobalTime": true, "applyForceRefresh": true,
				"indexPatternRefName": refName,
			},
			"minZoom": 0, "maxZoom": 24, "alpha": 0.75, "visible": true, "includeInFitToBounds": true, "joins": []any{},
			"style": map[string]any{"type": "VECTOR", "isTimeAware": true, "properties": map[string]any{
				"fillColor": map[string]any{"type": "DYNAMIC", "options": map[string]any{
					"color": "Blues", "colorCategory": "palette_0", "type": "ORDINAL",
					"field":            map[string]any{"name": "doc_count", "origin": "source"},
					"fieldMetaOptions": map[string]any{"isEnabled": true, "sigma": 3},
				}},
				"lineColor": map[string]any{"type": "STATIC", "options": map[string]any{"color": "#FFFFFF"}},
				"lineWidth": map[string]any{"type": "STATIC", "options": map[string]any{"size": 1}},
				"iconSize": map[string]any{"type": "DYNAMIC", "options": map[string]any{
					"minSize": 6, "maxSize": 30,
					"field":            map[string]any{"name": "doc_count", "origin": "source"},
					"fieldMetaOptions": map[string]any{"isEnabled": true, "sigma": 3},
				}},
				"symbolizeAs":     map[string]any{"options": map[string]any{"value": "circle"}},
				"icon":            map[string]any{"type": "STATIC", "options": map[string]any{"value": "marker"}},
				"iconOrientation": map[string]any{"type": "STATIC", "options": map[string]any{"orientation": 0}},
				"labelText": map[string]any{"type": "DYNAMIC", "options": map[string]any{
					"field": map[string]any{"name": "doc_count", "origin": "source"}}},
				"labelColor":       map[string]any{"type": "STATIC", "options": map[string]any{"color": "#000000"}},
				"labelSize":        map[string]any{"type": "STATIC", "options": map[string]any{"size": 12}},
				"labelBorderColor": map[string]any{"type": "STATIC", "options": map[string]any{"color": "#FFFFFF"}},
				"labelBorderSize":  map[string]any{"options": map[string]any{"size": "SMALL"}},
			}},
		},
	}
	return newObject("map", "wiredesk-map-places", map[string]any{
		"title":         "Places named in stories",
		"description":   "Stories per place they name (article locations and place entities).",
		"layerListJSON": js(layers),
		"mapStateJSON": js(map[string]any{
			// The South Caucasus and the North Caucasus republics.
			"zoom": 5.3, "center": map[string]any{"lon": 44.5, "lat": 42.0},
			"timeFilters":   map[string]any{"from": "now-30d", "to": "now"},
			"refreshConfig": map[string]any{"isPaused": true, "interval": 0},
			"query":         map[string]any{"query": "", "language": "kuery"},
			"filters":       []any{},
			"settings":      map[string]any{"autoFitToDataBounds": false, "initialLocation": "LAST_SAVED_LOCATION"},
		}),
		"uiStateJSON": js(map[string]any{"isLayerTOCOpen": true, "openTOCDetails": []any{}}),
	}, []ref{{ID: dataView, Name: refName, Type: "index-pattern"}})
}

type panel struct {
	typ, id, title string
	x, y, w, h     int
}

func dashboard(panels []panel) object {
	var pj []any
	var refs []ref
	for i, p := range panels {
		idx := "p" + string(rune('1'+i))
		pj = append(pj, map[string]any{
			"version":          coreVersion,
			"type":             p.typ,
			"gridData":         map[string]any{"x": p.x, "y": p.y, "w": p.w, "h": p.h, "i": idx},
			"panelIndex":       idx,
			"embeddableConfig": map[string]any{"enhancements": map[string]any{}},
			"title":            p.title,
			"panelRefName":     "panel_" + idx,
		})
		refs = append(refs, ref{ID: p.id, Name: idx + ":panel_" + idx, Type: p.typ})
	}
	return newObject("dashboard", "wiredesk-newsroom", map[string]any{
		"title":           "wiredesk newsroom",
		"description":     "Caucasus conflict coverage: stories over time by topic, top entities and sources, relevance share, places named, latest stories.",
		"hits":            0,
		"version":         1,
		"timeRestore":     true,
		"timeFrom":        "now-30d",
		"timeTo":          "now",
		"refreshInterval": map[string]any{"pause": false, "value": 300000},
		"optionsJSON":     js(map[string]any{"useMargins": true, "syncColors": false, "syncCursor": true, "syncTooltips": false, "hidePanelTitles": false}),
		"panelsJSON":      js(pj),
		"kibanaSavedObjectMeta": map[string]any{"searchSourceJSON": js(map[string]any{
			"query": map[string]any{"query": "", "language": "kuery"}, "filter": []any{},
		})},
	}, refs)
}

type taxonomy struct {
	Conflicts []struct {
		ID   string `yaml:"id"`
		Name string `yaml:"name"`
	} `yaml:"conflicts"`
	Topics []struct {
		ID         string `yaml:"id"`
		Definition string `yaml:"definition"`
	} `yaml:"topics"`
}

func loadTaxonomy(t testing.TB) taxonomy {
	t.Helper()
	b, err := configs.FS.ReadFile("taxonomy.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tx taxonomy
	if err := yaml.Unmarshal(b, &tx); err != nil {
		t.Fatalf("reading taxonomy.yaml: %v", err)
	}
	return tx
}

// humanize turns "prisoners-and-missing" into "Prisoners and missing".
func humanize(id string) string {
	s := strings.ReplaceAll(id, "-", " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

func generate(t testing.TB) []object {
	tx := loadTaxonomy(t)
	objs := []object{dataViewObject(),
		savedSearch("wiredesk-search-all", "All stories", "Every indexed story, newest first.", ""),
		savedSearch("wiredesk-search-relevant", "Caucasus conflict stories", "Stories about a Caucasus conflict, newest first.", "relevant : true"),
	}
	for _, c := range tx.Conflicts {
		objs = append(objs, savedSearch("wiredesk-conflict-"+c.ID, "Conflict: "+c.Name,
			"Stories tagged with the conflict "+c.ID+".", `conflicts : "`+c.ID+`"`))
	}
	for _, tp := range tx.Topics {
		objs = append(objs, savedSearch("wiredesk-topic-"+tp.ID, "Topic: "+humanize(tp.ID),
			tp.Definition, `topics : "`+tp.ID+`"`))
	}
	objs = append(objs,
		storiesByTopic(),
		topTable("wiredesk-vis-top-entities", "Top entities", "entity_names", "Entity", 25),
		topTable("wiredesk-vis-top-sources", "Top sources", "source", "Source", 25),
		relevanceShare(),
		placesMap(),
	)
	objs = append(objs, dashboard([]panel{
		{"visualization", "wiredesk-vis-stories-by-topic", "Stories over time by topic", 0, 0, 48, 15},
		{"visualization", "wiredesk-vis-top-entities", "Top entities", 0, 15, 16, 18},
		{"visualization", "wiredesk-vis-top-sources", "Top sources", 16, 15, 16, 18},
		{"visualization", "wiredesk-vis-relevance-share", "Relevance share", 32, 15, 16, 18},
		{"map", "wiredesk-map-places", "Places named in stories", 0, 33, 48, 22},
		{"search", "wiredesk-search-relevant", "Latest Caucasus conflict stories", 0, 55, 48, 20},
	}))
	return objs
}

// TestGenerated keeps wiredesk.ndjson equal to the definitions above.
func TestGenerated(t *testing.T) {
	var b bytes.Buffer
	for _, o := range generate(t) {
		b.WriteString(js(o))
		b.WriteByte('\n')
	}
	const file = "wiredesk.ndjson"
	if *update {
		if err := os.WriteFile(file, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, b.Bytes()) {
		t.Fatalf("%s is stale: run go test ./deploy/kibana -update", file)
	}
}
