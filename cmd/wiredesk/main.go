// Command wiredesk runs the whole pipeline in one process on an embedded
// NATS server and index (run, demo), and searches the index (search).
package main

import (
	"os"

	"github.com/wiredesk/wiredesk/cmd/internal/cli"
)

func main() {
	os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
