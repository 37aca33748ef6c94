package app_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLayers holds the import rules: the contract uses only the standard
// library, and the stages know nothing about NATS, the wiring, or each
// other.
func TestLayers(t *testing.T) {
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("go command not found")
	}
	const mod = "github.com/wiredesk/wiredesk/"
	for _, tc := range []struct {
		pkg       string
		forbidden []string
		stdOnly   bool
	}{
		{pkg: "ingest/article", stdOnly: true},
		{pkg: "ingest/...", forbidden: []string{"github.com/nats-io/", mod + "cmd/", mod + "enrich", mod + "index"}},
		{pkg: "enrich/...", forbidden: []string{"github.com/nats-io/", mod + "cmd/", mod + "index", mod + "ingest/internal"}},
		{pkg: "index/...", forbidden: []string{"github.com/nats-io/", mod + "cmd/", mod + "enrich"}},
	} {
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", mod+tc.pkg).CombinedOutput()
		if err != nil {
			t.Fatalf("go list %s: %v\n%s", tc.pkg, err, out)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			path, std, _ := strings.Cut(line, " ")
			if tc.stdOnly && std != "true" && path != mod+tc.pkg {
				t.Errorf("%s imports %s; the contract must use only the standard library", tc.pkg, path)
			}
			for _, f := range tc.forbidden {
				if strings.HasPrefix(path, f) && !strings.HasPrefix(path, mod+strings.TrimSuffix(tc.pkg, "/...")) {
					t.Errorf("%s imports %s", tc.pkg, path)
				}
			}
		}
	}
}
