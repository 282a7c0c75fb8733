package embedded_test

import (
	"errors"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/embedded"
	"github.com/amkeeper/amkeeper/recovery/recoverytest"
)

// embeddedBackend is the embedded backend of the conformance suites: one Backend
// in a fresh directory, shared by every instance (locks are per process), and a
// leadership whose loss is a flag.
type embeddedBackend struct {
	dir   string
	b     *embedded.Backend
	guard *recoverytest.FlagGuard
}

func newEmbeddedBackend(t testing.TB) *embeddedBackend {
	dir := t.TempDir()
	b, err := embedded.Open(dir, recoverytest.Logger(t))
	require.NoError(t, err)
	return &embeddedBackend{dir: dir, b: b, guard: recoverytest.NewFlagGuard()}
}

func (b *embeddedBackend) Instance(testing.TB) recovery.Backend   { return b.b }
func (b *embeddedBackend) Inspecting(testing.TB) recovery.Backend { return b.b }
func (b *embeddedBackend) SessionLocks() bool                     { return false }
func (b *embeddedBackend) Guard() recovery.Guard                  { return b.guard }
func (b *embeddedBackend) Depose(testing.TB)                      { b.guard.Depose() }
func (b *embeddedBackend) GuardLatches() int                      { return 0 }
func (b *embeddedBackend) ReportPath(rel string) string           { return rel }

func (b *embeddedBackend) PointerExists(t testing.TB, dir, key string) bool {
	_, err := os.Stat(filepath.Join(b.dir, dir, key))
	if errors.Is(err, fs.ErrNotExist) {
		return false
	}
	require.NoError(t, err)
	return true
}

// WritePointer writes the pointer file through a file:// store, as the stores do.
func (b *embeddedBackend) WritePointer(t testing.TB, dir, key string, data []byte) {
	ctx := recoverytest.Context(t)
	ptrs, err := hdfsstore.Open(ctx, "file://"+b.dir)
	require.NoError(t, err)
	defer ptrs.Close()
	_, err = hdfsstore.PutBytes(ctx, ptrs, strings.TrimPrefix(path.Join(dir, key), "/"), data)
	require.NoError(t, err)
}

// Snapshot captures every file (path and content) in the directory.
func (b *embeddedBackend) Snapshot(t testing.TB) map[string]string {
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(b.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		out["file:"+p] = string(data)
		return err
	}))
	return out
}

// TestConformance runs the recovery conformance suites on the embedded backend.
func TestConformance(t *testing.T) {
	t.Run("embedded", func(t *testing.T) {
		recoverytest.Run(t, func(t *testing.T) *recoverytest.Env {
			return recoverytest.NewEnv(t, newEmbeddedBackend(t), recoverytest.FileStorage(t))
		})
	})
}

func TestInspectRejectsBadTarget(t *testing.T) {
	st := recoverytest.FileStorage(t).Store
	_, err := (&recovery.Inspector{Storage: st}).Inspect(t.Context())
	require.Error(t, err)
	b, err := embedded.Open(t.TempDir(), recoverytest.Logger(t))
	require.NoError(t, err)
	_, err = (&recovery.Inspector{Backend: b, Storage: st, ClusterPath: "../x"}).Inspect(t.Context())
	require.ErrorIs(t, err, hdfsstore.ErrInvalidName)
}
