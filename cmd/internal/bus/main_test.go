package bus_test

import (
	"testing"

	"go.uber.org/goleak"
)

// Every goroutine the consume loop starts must be gone when it returns.
func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }
