package indextest

import (
	"context"
	"net/http"
	"os"
	"testing"
	"time"
)

// EngineEnv names the variable that points the tests at a real search
// engine; .ci/run sets it after starting one.
const EngineEnv = "WIREDESK_TEST_ELASTICSEARCH_URL"

// EngineURL returns the URL of a real Elasticsearch 8 or OpenSearch 2
// node, or skips the test loudly. When EngineEnv is set the engine must
// answer: CI sets it, and a silent skip there would let the tests rot.
func EngineURL(t testing.TB) string {
	t.Helper()
	u, explicit := os.LookupEnv(EngineEnv)
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
		t.Fatalf("%s=%s is set but the engine does not answer: %v", EngineEnv, u, err)
	}
	t.Skipf(`
*** SKIPPED: no search engine at %s (%v).
*** This test needs a real Elasticsearch 8 or OpenSearch 2 node. Start one on
*** loopback with .ci/search-engine/start (as .ci/run does), then run it with
***   %s=http://127.0.0.1:9200`, u, err, EngineEnv)
	return ""
}
