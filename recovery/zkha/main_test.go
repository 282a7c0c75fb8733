package zkha_test

import (
	"os"
	"testing"

	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/leakcheck"
)

// zkc is the ZooKeeper server shared by this package's tests; each test works
// under its own zkc.Root(t). Tests that stop, pause or kill a server start their own.
var zkc *zktest.Cluster

func TestMain(m *testing.M) {
	if os.Getenv(contenderEnv) != "" {
		os.Exit(runContender())
	}
	os.Exit(leakcheck.Code(zktest.Main(m, func(c *zktest.Cluster) { zkc = c })))
}
