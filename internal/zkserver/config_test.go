package zkserver

import (
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/conf"
)

func loadZooCfgText(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "zoo.cfg")
	require.NoError(t, os.WriteFile(path, []byte(text), 0o644))
	return path
}

func TestZooCfgPlan(t *testing.T) {
	tests := []struct {
		name, cfg string
		free      bool
		want      []string // name@port, port 0 when picked at start
		skipped   int
		err       string
	}{
		{name: "standalone default port", cfg: "tickTime=500\n", want: []string{"standalone@2181"}},
		{name: "clientPort=0 is free", cfg: "clientPort=0\n", want: []string{"standalone@0"}},
		{name: "flag overrides clientPort", cfg: "clientPort=2222\n", free: true, want: []string{"standalone@0"}},
		{name: "seed single server", cfg: "server.0=localhost:2888:3888\nclientPort=2181\n", want: []string{"server.0@2181"}},
		{name: "remote servers skipped", cfg: "server.1=zk1.example:2888:3888\nserver.2=127.0.0.1:2889:3889\n", want: []string{"server.2@2181"}, skipped: 1},
		{name: "no local server", cfg: "server.1=zk1.example:2888:3888\n", err: "no server.X line names this machine"},
		{name: "shared fixed port", cfg: "clientPort=2181\nserver.1=127.0.0.1:2888:3888\nserver.2=127.0.0.1:2889:3889\n", err: "would both listen on client port 2181"},
		{name: "per-server ports", cfg: "server.1=127.0.0.1:2888:3888;2191\nserver.2=127.0.0.1:2889:3889;127.0.0.1:2192\n", want: []string{"server.1@2191", "server.2@2192"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := conf.ParseZooCfg(loadZooCfgText(t, tt.cfg))
			require.NoError(t, err)
			members, skipped, err := plan(cfg, "/run", tt.free, nil)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			var got []string
			for _, m := range members {
				got = append(got, m.name+"@"+strconv.Itoa(m.clientPort))
			}
			assert.Equal(t, tt.want, got)
			assert.Len(t, skipped, tt.skipped)
		})
	}
}

func TestZooCfgRenderKeepsUserSettings(t *testing.T) {
	cfg, err := conf.ParseZooCfg(loadZooCfgText(t, "tickTime=700\nclientPortAddress=0.0.0.0\ndataDir=data\n"+
		"admin.enableServer=true\n4lw.commands.whitelist=ruok\nserver.1=127.0.0.1:2888:3888:observer;2181\n"))
	require.NoError(t, err)
	members, _, err := plan(cfg, "/run", false, nil)
	require.NoError(t, err)
	m := members[0]
	out := render(cfg, m)
	for _, want := range []string{"tickTime=700", "clientPortAddress=0.0.0.0", "admin.enableServer=true",
		"4lw.commands.whitelist=ruok,srvr", "dataDir=" + filepath.Join(filepath.Dir(cfg.Path), "data"),
		"server.1=127.0.0.1:2888:3888:observer", "initLimit=10", "syncLimit=5", "clientPort=2181"} {
		assert.Contains(t, out, want+"\n")
	}
	assert.Equal(t, "127.0.0.1:2181", m.addr(), "an unspecified listen address is reached on loopback")
}

func TestZooCfgParseRejectsOtherProblems(t *testing.T) {
	_, err := conf.ParseZooCfg(loadZooCfgText(t, "clientPort=0\ntickTime=-1\n"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "tickTime")
	assert.NotContains(t, err.Error(), "clientPort")
}
