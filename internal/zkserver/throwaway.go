package zkserver

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/conf"
)

// ThrowawayTickTime is the tickTime of a throwaway server: it grants session
// timeouts of 1 s to 10 s (2 to 20 ticks).
const ThrowawayTickTime = 500 * time.Millisecond

// Throwaway is a standalone server started for one run of a demo or a benchmark.
type Throwaway struct {
	*Started
	runDir string
}

// StartThrowaway starts a standalone server under dir, as `yarn-session zookeeper
// start --free-port` would from a zoo.cfg of its own: dir/zoo.cfg (tickTime
// ThrowawayTickTime, no client connection limit), its data in dir/zk-data and its
// run directory dir/zk, serving on a free loopback port. Stop it with Stop; dir
// stays for the caller to remove.
func StartThrowaway(ctx context.Context, dir string, log zerolog.Logger) (*Throwaway, error) {
	zoo := filepath.Join(dir, "zoo.cfg")
	cfg := fmt.Sprintf("tickTime=%d\ninitLimit=10\nsyncLimit=5\nmaxClientCnxns=0\nclientPort=0\ndataDir=%s\n",
		ThrowawayTickTime.Milliseconds(), filepath.Join(dir, "zk-data"))
	if err := os.WriteFile(zoo, []byte(cfg), 0o600); err != nil {
		return nil, fmt.Errorf("start a throwaway ZooKeeper: %w", err)
	}
	zc, err := conf.ParseZooCfg(zoo)
	if err != nil {
		return nil, fmt.Errorf("start a throwaway ZooKeeper: %w", err)
	}
	runDir := filepath.Join(dir, "zk")
	started, err := Start(ctx, zc, Options{RunDir: runDir, FreePort: true, Logger: log})
	if err != nil {
		return nil, fmt.Errorf("start a throwaway ZooKeeper: %w", err)
	}
	return &Throwaway{Started: started, runDir: runDir}, nil
}

// Stop stops the server. It does not depend on the context StartThrowaway ran
// under, so it can run after that ended (an interrupted demo).
func (t *Throwaway) Stop() error {
	_, err := Stop(context.Background(), t.runDir, StopOptions{})
	return err
}
