package indexer_test

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"testing"
)

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
