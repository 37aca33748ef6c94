// Command enricher runs wiredesk's enricher service against an external NATS server.
// See the README for its configuration.
package main

import (
	"os"

	"github.com/wiredesk/wiredesk/cmd/internal/app"
)

func main() {
	os.Exit(app.ServiceMain("enricher", os.Args[1:], os.Stdout, os.Stderr))
}
