// Command landmines is an example downstream consumer: it prints the
// stories wiredesk tags with the landmines topic as they arrive, replaying
// from a start time or stream sequence first when asked to.
//
//	go run ./cmd/examples/landmines -nats nats://127.0.0.1:4222 -since 24h
//
// It depends only on the NATS client and the public article contract
// (ingest/article), as a consumer outside this repository would.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil:
	case errors.Is(err, errUsage):
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "landmines:", err)
		os.Exit(1)
	}
}
