package minicluster

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// Package is the import path of the binary a cluster runs.
const Package = "github.com/amkeeper/amkeeper/cmd/yarn-session"

const binaryDirPrefix = "amkeeper-minicluster-"

// Binary returns the path of the yarn-session binary for this test process,
// building it with `go build` on the first call: into
// os.TempDir()/amkeeper-minicluster-<pid>, under a file lock, so that parallel
// tests of one process build it once and later calls reuse it. Directories left by
// test processes that are gone are removed. A TestMain that builds the binary
// itself passes it to Start with WithBinary instead.
func Binary(t testing.TB) string {
	t.Helper()
	removeStale()
	dir := filepath.Join(os.TempDir(), binaryDirPrefix+strconv.Itoa(os.Getpid()))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatalf("minicluster: %v", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		t.Fatalf("minicluster: %v", err)
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("minicluster: lock %s: %v", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	bin := filepath.Join(dir, "yarn-session")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	tmp := bin + ".building"
	out, err := exec.Command("go", "build", "-o", tmp, Package).CombinedOutput()
	if err != nil {
		t.Fatalf("minicluster: go build %s: %v\n%s", Package, err, out)
	}
	if err := os.Rename(tmp, bin); err != nil {
		t.Fatalf("minicluster: %v", err)
	}
	return bin
}

// removeStale removes the binary directories of test processes that are gone.
func removeStale() {
	dirs, _ := filepath.Glob(filepath.Join(os.TempDir(), binaryDirPrefix+"*"))
	for _, d := range dirs {
		pid, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), binaryDirPrefix))
		if err != nil || pid == os.Getpid() {
			continue
		}
		if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
			_ = os.RemoveAll(d)
		}
	}
}
