// Package privdirtest helps tests play another local user against amkeeper's
// private directories: it runs commands as the real user nobody (through
// setpriv, so the test must run as root) and plants unix sockets that record
// every connection made to them.
package privdirtest

import (
	"net"
	"os"
	"os/exec"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
)

// NobodyUID and NobodyGID are Debian's nobody and nogroup.
const (
	NobodyUID = 65534
	NobodyGID = 65534
)

// AsNobody runs name args as nobody (setpriv, no supplementary groups) and
// fails the test unless it succeeds.
func AsNobody(t *testing.T, name string, args ...string) {
	t.Helper()
	require.Zero(t, os.Getuid(), "playing another user needs root")
	cmd := exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--", name}, args...)...)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "as nobody: %s %v: %s", name, args, out)
}

// SharedDir returns a new directory every user may create entries in, with the
// sticky bit (a private /tmp): what nobody makes there, only nobody (or root)
// may change.
func SharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "privdirtest-")
	require.NoError(t, err)
	require.NoError(t, os.Chmod(dir, 0o777|os.ModeSticky))
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	return dir
}

// Planted is a unix socket listener another user left behind; it accepts and
// counts every connection.
type Planted struct {
	l     net.Listener
	mu    sync.Mutex
	conns int
}

// Plant listens at path, owned by nobody (the directory must exist), and
// accepts connections until the test ends.
func Plant(t *testing.T, path string) *Planted {
	t.Helper()
	l, err := net.Listen("unix", path)
	require.NoError(t, err)
	require.NoError(t, os.Chmod(path, 0o777))
	require.NoError(t, os.Lchown(path, NobodyUID, NobodyGID))
	p := &Planted{l: l}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			p.conns++
			p.mu.Unlock()
			c.Close()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return p
}

// Connections is how many connections the socket has accepted.
func (p *Planted) Connections() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.conns
}
