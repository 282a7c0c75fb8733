package main

import (
	"context"
	"os"
	"os/exec"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestThisMachine(t *testing.T) {
	ctx := context.Background()
	host, err := os.Hostname()
	require.NoError(t, err)
	assert.True(t, thisMachine(ctx, "localhost"))
	assert.True(t, thisMachine(ctx, host))
	assert.True(t, thisMachine(ctx, "127.0.0.1"), "lo's own address")
	assert.False(t, thisMachine(ctx, "127.0.0.2"), "routed to lo but not its address: another host in the tests")
	assert.False(t, thisMachine(ctx, "192.0.2.1"), "TEST-NET-1")
	assert.False(t, thisMachine(ctx, "no-such-host.invalid"))
}

// TestShellQuoteSurvivesTheRemoteShell runs quoted words through sh, as ssh
// hands its command to the remote user's shell.
func TestShellQuoteSurvivesTheRemoteShell(t *testing.T) {
	words := []string{"/opt/amkeeper/bin/yarn-session", "--conf-dir", "/etc/my conf", "-D", "rest.address=127.0.0.2",
		"it's", "$HOME", "`id`", "a;b", "", "*"}
	var line string
	for i, w := range words {
		if i > 0 {
			line += " "
		}
		line += shellQuote(w)
	}
	got, err := exec.Command("sh", "-c", `printword() { for w in "$@"; do printf '[%s]\n' "$w"; done; }; printword `+line).Output()
	require.NoError(t, err)
	var want string
	for _, w := range words {
		want += "[" + w + "]\n"
	}
	assert.Equal(t, want, string(got))
	assert.Equal(t, "rest.address=127.0.0.2", shellQuote("rest.address=127.0.0.2"), "plain words stay readable")
}

func TestSafeName(t *testing.T) {
	assert.Equal(t, "cluster_one", safeName("/cluster_one"))
	assert.Equal(t, "a_b", safeName("a/b"))
	assert.Equal(t, "__1", safeName("::1"))
	assert.Equal(t, "host-1.example.com", safeName("host-1.example.com"))
}
