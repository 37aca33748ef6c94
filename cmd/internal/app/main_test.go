package app_test

import (
	"runtime/debug"
	"testing"

	"github.com/wiredesk/wiredesk/cmd/internal/app"
	"github.com/wiredesk/wiredesk/cmd/internal/config"
)

func TestApplyMemoryLimit(t *testing.T) {
	// debug.SetMemoryLimit(-1) reads the limit without changing it.
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })

	for _, tc := range []struct {
		name   string
		limit  int64
		env    string
		want   int64 // returned
		wantGo int64 // the runtime's limit afterwards
	}{
		{name: "zero leaves the runtime alone", limit: 0, want: 0, wantGo: prev},
		{name: "applied", limit: 100 << 20, want: 100 << 20, wantGo: 100 << 20},
		{name: "GOMEMLIMIT wins", limit: 100 << 20, env: "200MiB", want: 0, wantGo: prev},
		{name: "GOMEMLIMIT=off wins too", limit: 100 << 20, env: "off", want: 0, wantGo: prev},
	} {
		t.Run(tc.name, func(t *testing.T) {
			debug.SetMemoryLimit(prev)
			t.Setenv("GOMEMLIMIT", tc.env)
			cfg := config.Default()
			cfg.Indexer.MemoryLimit = tc.limit
			if got := app.ApplyMemoryLimit(cfg); got != tc.want {
				t.Errorf("ApplyMemoryLimit = %d, want %d", got, tc.want)
			}
			if got := debug.SetMemoryLimit(-1); got != tc.wantGo {
				t.Errorf("runtime memory limit = %d, want %d", got, tc.wantGo)
			}
		})
	}
}
