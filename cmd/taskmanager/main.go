// Command taskmanager runs one TaskManager container. The supervisor normally
// starts it as `yarn-session taskmanager …`; this binary is for deployments that
// configure separate binaries.
package main

import (
	"os"

	"github.com/amkeeper/amkeeper/internal/entry"
)

func main() { os.Exit(entry.Main(entry.TaskManagerCommand())) }
