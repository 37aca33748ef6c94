package blevestore_test

import (
	"errors"
	"testing"

	blevestore "github.com/wiredesk/wiredesk/index/bleve"
)

// A second Open of an index in use fails with ErrLocked instead of
// blocking forever (`wiredesk search` while `wiredesk run` holds it).
func TestOpenLockedIndexFails(t *testing.T) {
	dir := t.TempDir()
	s, err := blevestore.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s2, err := blevestore.Open(dir); !errors.Is(err, blevestore.ErrLocked) {
		if s2 != nil {
			s2.Close()
		}
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
}
