package enricher_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the enricher service starts must be gone when it stops.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
