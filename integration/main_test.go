package integration_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/amkeeper/amkeeper/integration/zktest"
)

var (
	zkc *zktest.Cluster
	// bin is the yarn-session binary built for this run; the processes under test
	// are real processes of it.
	bin string
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "amkeeper-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "yarn-session")
	build := exec.Command("go", "build", "-o", bin, "github.com/amkeeper/amkeeper/cmd/yarn-session")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "integration: build yarn-session:", err)
		os.Exit(1)
	}
	code := zktest.Main(m, func(c *zktest.Cluster) { zkc = c })
	os.RemoveAll(dir)
	os.Exit(code)
}
