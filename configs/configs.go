// Package configs embeds wiredesk's default configuration files, so that a
// binary runs with its built-in taxonomy, gazetteer and demo feeds when no
// files are given. Operators edit the files in this folder and point the
// services at their copies.
package configs

import (
	"embed"
	"io/fs"
	"path"
	"strings"
)

// FS holds taxonomy.yaml, gazetteer.yaml, feeds.yaml and the demo feeds
// under demo/feeds.
//
//go:embed *.yaml demo/feeds
var FS embed.FS

// DemoFeed is one of the built-in demo feeds.
type DemoFeed struct {
	Name string // file name, e.g. "caucasus-wire.xml"
	ID   string // feed id: the name without its extension
	Body []byte
}

// DemoFeeds returns the demo feeds in configs/demo/feeds (every file but
// its README), in name order.
func DemoFeeds() ([]DemoFeed, error) {
	entries, err := fs.ReadDir(FS, "demo/feeds")
	if err != nil {
		return nil, err
	}
	var out []DemoFeed
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".md") {
			continue
		}
		body, err := fs.ReadFile(FS, "demo/feeds/"+name)
		if err != nil {
			return nil, err
		}
		out = append(out, DemoFeed{Name: name, ID: strings.TrimSuffix(name, path.Ext(name)), Body: body})
	}
	return out, nil
}

// DemoFeedsFS is the demo feed folder, for serving over HTTP.
func DemoFeedsFS() fs.FS {
	sub, err := fs.Sub(FS, "demo/feeds")
	if err != nil {
		panic("configs: demo/feeds missing from the embedded files: " + err.Error())
	}
	return sub
}
