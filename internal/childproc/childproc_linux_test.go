package childproc_test

import (
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/childproc"
)

func TestLinuxChildrenGetAParentDeathSignal(t *testing.T) {
	for _, g := range []childproc.Group{childproc.SameGroup, childproc.OwnGroup} {
		require.Equal(t, syscall.SIGKILL, childproc.SysProcAttr(g).Pdeathsig)
	}
}

func TestOutlivingChildrenGetNoParentDeathSignal(t *testing.T) {
	for _, g := range []childproc.Group{childproc.SameGroup, childproc.OwnGroup} {
		attr := childproc.Outliving(g)
		require.Zero(t, attr.Pdeathsig)
		require.Equal(t, bool(g), attr.Setpgid)
	}
}
