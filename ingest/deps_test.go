package ingest

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies holds the line of STYLE.md: the ingest stage knows
// nothing about NATS, the search engine or the other stages.
func TestDependencies(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	out, err := exec.Command(goBin, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/nats-io/", "github.com/elastic/", "github.com/blevesearch/", "github.com/wiredesk/wiredesk/enrich", "github.com/wiredesk/wiredesk/index", "github.com/wiredesk/wiredesk/cmd"} {
			if strings.HasPrefix(dep, banned) {
				t.Errorf("ingest depends on %s", dep)
			}
		}
	}
}
