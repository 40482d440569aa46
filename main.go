// Command pitstop drives a low-downtime upgrade of an application behind nginx: it switches users to a
// backup side, upgrades production over SSH, switches back, and re-syncs the backup, with a gate
// before every change and one-key rollback. The command line lives in internal/cli.
package main

import (
	"os"

	"github.com/pitstop-ops/pitstop/internal/cli"
)

func main() {
	os.Exit(cli.Run(os.Args[1:], os.Stdout, os.Stderr))
}
