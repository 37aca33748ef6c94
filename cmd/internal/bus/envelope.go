package bus

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io/fs"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/wiredesk/wiredesk/cmd/internal/schemas"
	"github.com/wiredesk/wiredesk/ingest/article"
)

// CloudEvents types of the article messages (binary content mode of the
// CloudEvents NATS binding: attributes in headers, the article as body).
//
// The major version is part of the type. A breaking change to a message
// gets a new type (…v2), and the producer publishes both types, on
// separate subjects, for a transition period; additive changes keep the
// type and bump only the minor schema_version in the body.
const (
	TypeRaw      = "org.wiredesk.article.raw.v1"
	TypeEnriched = "org.wiredesk.article.enriched.v1"
)

// schemaFiles names the JSON Schema of each type in article.Schemas.
var schemaFiles = map[string]string{
	TypeRaw:      "schema/raw.v1.json",
	TypeEnriched: "schema/enriched.v1.json",
}

// Schemas returns the JSON Schema of every type wiredesk publishes, as
// stored in the schema registry (schemas.Bucket, keyed by ce-type).
func Schemas() ([]schemas.Schema, error) {
	out := make([]schemas.Schema, 0, len(schemaFiles))
	for _, t := range []string{TypeRaw, TypeEnriched} {
		doc, err := fs.ReadFile(article.Schemas, schemaFiles[t])
		if err != nil {
			return nil, fmt.Errorf("reading schema of %s: %w", t, err)
		}
		out = append(out, schemas.Schema{Type: t, Doc: doc})
	}
	return out, nil
}

// Event describes one article message.
type Event struct {
	Subject string
	Type    string    // TypeRaw or TypeEnriched
	Source  string    // ce-source, e.g. "/wiredesk/fetcher/<feed>"
	ID      string    // ce-id: article id + revision (+ rule versions)
	Time    time.Time // ce-time
	// MsgID is the Nats-Msg-Id; empty means ID. One event published on
	// several subjects of one stream (the fan-out) keeps its ce-id on each
	// and needs a Nats-Msg-Id per subject, or JetStream would store only
	// the first copy.
	MsgID string
	// Parent carries the W3C trace context from the message this one was
	// made from; nil starts a new trace.
	Parent nats.Header
}

// NewMsg builds the NATS message of e with body data. Nats-Msg-Id is the
// event id (or e.MsgID), so JetStream stores a republished event once.
func NewMsg(e Event, data []byte) *nats.Msg {
	m := nats.NewMsg(e.Subject)
	m.Data = data
	m.Header.Set("ce-specversion", "1.0")
	m.Header.Set("ce-id", e.ID)
	m.Header.Set("ce-type", e.Type)
	m.Header.Set("ce-source", e.Source)
	m.Header.Set("ce-time", e.Time.UTC().Format(time.RFC3339Nano))
	m.Header.Set("content-type", "application/json")
	msgID := e.MsgID
	if msgID == "" {
		msgID = e.ID
	}
	m.Header.Set(jetstream.MsgIDHeader, msgID)
	m.Header.Set("traceparent", childTraceparent(e.Parent.Get("traceparent")))
	return m
}

// childTraceparent continues the trace of parent with a new span id, or
// starts a new sampled trace when parent is missing or malformed.
func childTraceparent(parent string) string {
	var span [8]byte
	_, _ = rand.Read(span[:])
	if len(parent) == 55 && parent[2] == '-' && parent[35] == '-' && parent[52] == '-' {
		return parent[:36] + hex.EncodeToString(span[:]) + parent[52:]
	}
	var trace [16]byte
	_, _ = rand.Read(trace[:])
	return "00-" + hex.EncodeToString(trace[:]) + "-" + hex.EncodeToString(span[:]) + "-01"
}
