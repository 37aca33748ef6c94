package bus

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// CloudEvents types of the article messages (binary content mode of the
// CloudEvents NATS binding: attributes in headers, the article as body).
const (
	TypeRaw      = "org.wiredesk.article.raw.v1"
	TypeEnriched = "org.wiredesk.article.enriched.v1"
)

// Event describes one article message.
type Event struct {
	Subject string
	Type    string    // TypeRaw or TypeEnriched
	Source  string    // ce-source, e.g. "/wiredesk/fetcher/<feed>"
	ID      string    // ce-id and Nats-Msg-Id: article id + revision (+ rule versions)
	Time    time.Time // ce-time
	// Parent carries the W3C trace context from the message this one was
	// made from; nil starts a new trace.
	Parent nats.Header
}

// NewMsg builds the NATS message of e with body data. Nats-Msg-Id is the
// event id, so JetStream stores a republished event once.
func NewMsg(e Event, data []byte) *nats.Msg {
	m := nats.NewMsg(e.Subject)
	m.Data = data
	m.Header.Set("ce-specversion", "1.0")
	m.Header.Set("ce-id", e.ID)
	m.Header.Set("ce-type", e.Type)
	m.Header.Set("ce-source", e.Source)
	m.Header.Set("ce-time", e.Time.UTC().Format(time.RFC3339Nano))
	m.Header.Set("content-type", "application/json")
	m.Header.Set(jetstream.MsgIDHeader, e.ID)
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
