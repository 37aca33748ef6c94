package indexer_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"os"
	"testing"
	"time"
)

const engineEnv = "WIREDESK_TEST_ELASTICSEARCH_URL"

// engineURL returns the URL of a real Elasticsearch 8 or OpenSearch 2
// node, or skips the test loudly. When the variable is set the engine must
// answer: CI sets it, and a silent skip there would let the test rot.
func engineURL(t testing.TB) string {
	t.Helper()
	u, explicit := os.LookupEnv(engineEnv)
	if u == "" {
		u, explicit = "http://127.0.0.1:9200", false
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	res, err := http.DefaultClient.Do(req)
	if err == nil {
		res.Body.Close()
		// Registered first, run last: the keep-alive connections of every
		// client on the default transport, which goleak would report.
		t.Cleanup(http.DefaultTransport.(*http.Transport).CloseIdleConnections)
		return u
	}
	if explicit {
		t.Fatalf("%s=%s is set but the engine does not answer: %v", engineEnv, u, err)
	}
	t.Skipf(`
*** SKIPPED: no search engine at %s (%v).
*** This test needs a real Elasticsearch 8 or OpenSearch 2 node. Start one on
*** loopback with .ci/search-engine/start (as .ci/run does), then run
***   %s=http://127.0.0.1:9200 go test ./cmd/internal/indexer/`, u, err, engineEnv)
	return ""
}

// testAlias returns a fresh alias and deletes its indices and template
// when the test ends.
func testAlias(t testing.TB, engine, prefix string) string {
	t.Helper()
	b := make([]byte, 4)
	rand.Read(b)
	alias := prefix + hex.EncodeToString(b)
	t.Cleanup(func() {
		for _, p := range []string{"/" + alias + "-*", "/_index_template/" + alias, "/_ilm/policy/" + alias} {
			req, _ := http.NewRequest(http.MethodDelete, engine+p, nil)
			if res, err := http.DefaultClient.Do(req); err == nil {
				res.Body.Close()
			}
		}
	})
	return alias
}
