// Package embedded starts the in-process NATS server that the all-in-one
// binary and the tests use: the same server as production, with JetStream
// on disk, only without a separate process.
package embedded

import (
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// NATSOptions configure an embedded server. The zero value listens on a
// random loopback port with JetStream in a directory the caller must set.
type NATSOptions struct {
	Host     string // default 127.0.0.1
	Port     int    // 0 = random free port
	StoreDir string // JetStream data directory; required
	// SyncAlways makes JetStream fsync every write before acknowledging it,
	// as production does (see deploy/nats.conf).
	SyncAlways bool
}

// StartNATS starts a server and waits until it accepts connections. The
// caller owns it: Shutdown then WaitForShutdown.
func StartNATS(o NATSOptions) (*server.Server, error) {
	if o.StoreDir == "" {
		return nil, errors.New("embedded: NATS store directory is required")
	}
	host := o.Host
	if host == "" {
		host = "127.0.0.1"
	}
	port := o.Port
	if port == 0 {
		port = server.RANDOM_PORT
	}
	opts := &server.Options{
		ServerName: "wiredesk-embedded",
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   o.StoreDir,
		NoSigs:     true,
		MaxPayload: 8 << 20,
		SyncAlways: o.SyncAlways,
	}
	ns, err := server.NewServer(opts)
	if err != nil {
		return nil, fmt.Errorf("creating embedded NATS server: %w", err)
	}
	ns.Start()
	if !ns.ReadyForConnections(10 * time.Second) {
		ns.Shutdown()
		return nil, errors.New("embedded: NATS server did not become ready within 10s")
	}
	return ns, nil
}
