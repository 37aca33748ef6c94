// Package configs embeds wiredesk's default configuration files, so that a
// binary runs with its built-in taxonomy, gazetteer and demo feeds when no
// files are given. Operators edit the files in this folder and point the
// services at their copies.
package configs

import "embed"

// FS holds taxonomy.yaml, gazetteer.yaml, feeds.yaml and the demo feeds
// under demo/feeds.
//
//go:embed *.yaml demo/feeds
var FS embed.FS
