package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/haservices"
)

func TestHAInspectFindsAndCleansADanglingPointer(t *testing.T) {
	zkc := zktest.Start(t) // the only test of the package that needs ZooKeeper
	storage := t.TempDir()
	dyn := []string{
		"high-availability.type=zookeeper",
		"high-availability.zookeeper.quorum=" + zkc.ConnectString(),
		"high-availability.zookeeper.path.root=" + zkc.Root(t),
		"high-availability.cluster-id=application_1_0001",
		"high-availability.storageDir=file://" + storage,
	}
	cfg, err := conf.Load(conf.Options{Dynamic: dyn})
	require.NoError(t, err)

	// An AM stored a job graph and is gone.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	svc, err := haservices.Open(ctx, cfg, haservices.Options{Logger: logging.ForTest(t)})
	require.NoError(t, err)
	runCtx, stop := context.WithCancel(ctx)
	_ = svc.Election().Run(runCtx, func(g recovery.Grant) {
		graphs, err := svc.JobGraphStore(ctx)
		require.NoError(t, err)
		require.NoError(t, graphs.Put(ctx, g, "00000000000000000000000000000001", []byte("graph")))
		stop()
	})
	require.NoError(t, svc.Close())

	args := []string{"ha", "inspect"}
	for _, d := range dyn {
		args = append(args, "-D", d)
	}
	out, code := run(t, args...)
	require.Equal(t, 0, code, "a healthy cluster")
	require.Contains(t, out, "00000000000000000000000000000001")

	// Lose the payload: the pointer dangles.
	var payloads []string
	require.NoError(t, filepath.WalkDir(storage, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.Contains(p, "submittedJobGraph") {
			payloads = append(payloads, p)
		}
		return err
	}))
	require.Len(t, payloads, 1)
	require.NoError(t, os.Remove(payloads[0]))
	out, code = run(t, args...)
	require.Equal(t, exitFailure, code)
	require.Contains(t, out, "missing")

	out, code = run(t, append(args, "--clean", "--grace", "0s")...)
	require.Equal(t, 0, code, "clean leaves a healthy cluster")
	require.Contains(t, out, "Removed (1)")
	_, code = run(t, args...)
	require.Equal(t, 0, code)
}

func TestHAInspectEmbeddedNeedsLocalDir(t *testing.T) {
	_, code := run(t, "ha", "inspect", "-D", "high-availability.type=NONE")
	require.Equal(t, exitUsage, code)
}
