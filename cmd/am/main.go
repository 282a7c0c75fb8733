// Command am runs one application master attempt. The supervisor normally starts
// it as `yarn-session am …`; this binary is for deployments that configure
// separate binaries.
package main

import (
	"os"

	"github.com/amkeeper/amkeeper/internal/entry"
)

func main() { os.Exit(entry.Main(entry.AMCommand())) }
