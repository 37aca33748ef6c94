// Package kibana embeds wiredesk's Kibana saved objects for the newsroom:
// the data view on the article alias, saved searches per conflict and per
// topic, the visualisations and the dashboard. `wiredesk setup` imports
// them through package index/kibana; operators can also import the
// .ndjson files in this folder by hand (Stack Management → Saved objects →
// Import, with "overwrite").
//
// Every object has a fixed id, so importing again replaces the objects
// instead of adding copies. The file is generated: edit objects_gen_test.go
// and run `go test ./deploy/kibana -update`.
package kibana

import (
	"bytes"
	"embed"
	"io/fs"
)

//go:embed *.ndjson
var files embed.FS

// DataViewID is the id of the data view on the article alias.
const DataViewID = "wiredesk-articles"

// Objects returns the saved objects as one NDJSON document: the embedded
// .ndjson files in name order, each line one object.
func Objects() []byte {
	var out bytes.Buffer
	names, _ := fs.Glob(files, "*.ndjson") // sorted
	for _, n := range names {
		b, _ := files.ReadFile(n)
		out.Write(bytes.TrimSpace(b))
		out.WriteByte('\n')
	}
	return out.Bytes()
}
