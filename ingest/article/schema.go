package article

import "embed"

// Schemas holds the JSON Schemas of the messages, for consumers in other
// languages: schema/raw.v1.json and schema/enriched.v1.json.
//
//go:embed schema/*.json
var Schemas embed.FS
