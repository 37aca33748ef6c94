package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"

	"github.com/nats-io/nats-server/v2/server"

	"github.com/wiredesk/wiredesk/cmd/internal/app"
	"github.com/wiredesk/wiredesk/cmd/internal/embedded"
)

func runAll(ctx context.Context, args []string, stderr io.Writer) error {
	fs := newFlagSet("run", stderr, "wiredesk run: fetcher, enricher and indexer in one process around an embedded NATS server.")
	var c common
	c.register(fs, 4222)
	listen := fs.String("listen", "127.0.0.1:9100", "address for /metrics, /healthz and /readyz")
	if _, err := parseInterleaved(fs, args); err != nil {
		return err
	}
	cfg, err := c.load()
	if err != nil {
		return err
	}
	log := c.logger(stderr)
	ns, err := startNATS(c)
	if err != nil {
		return err
	}
	defer shutdownNATS(ns)
	cfg.NATS.URL = ns.ClientURL()
	log.Info("Embedded NATS server started.", slog.String("url", ns.ClientURL()))
	p := &app.Process{Config: cfg, Logger: log, Services: []string{"fetcher", "enricher", "indexer"}, Listen: *listen}
	return p.Run(ctx)
}

func startNATS(c common) (*server.Server, error) {
	ns, err := embedded.StartNATS(embedded.NATSOptions{Port: c.natsPort, StoreDir: filepath.Join(c.dataDir, "nats")})
	if err != nil {
		return nil, fmt.Errorf("starting embedded NATS: %w", err)
	}
	return ns, nil
}

func shutdownNATS(ns *server.Server) {
	ns.Shutdown()
	ns.WaitForShutdown()
}
