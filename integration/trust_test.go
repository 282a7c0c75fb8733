package integration_test

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/privdir/privdirtest"
	"github.com/amkeeper/amkeeper/internal/sessionctl"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/supervisor"
)

// squatCLI is a cli whose sessions home is the default one, $TMPDIR/amkeeper-<user>,
// with TMPDIR a shared sticky directory where nobody may create entries (a /tmp
// of its own).
func squatCLI(t *testing.T) (c *cli, home string) {
	tmp := privdirtest.SharedDir(t)
	var env []string
	for _, e := range os.Environ() {
		if !strings.HasPrefix(e, "AMKEEPER_HOME=") && !strings.HasPrefix(e, "XDG_RUNTIME_DIR=") && !strings.HasPrefix(e, "TMPDIR=") {
			env = append(env, e)
		}
	}
	c = &cli{t: t, tmp: tmp, env: append(env, "TMPDIR="+tmp), ha: haArgs(t)}
	c.home = filepath.Join(tmp, "amkeeper-"+currentUser())
	return c, c.home
}

// TestSquattedSessionDirectoryRefused: nobody made the sessions home before us —
// world-writable, closed but theirs, or a symlink to a directory of theirs — and
// planted an application's sockets in it. Neither a new session nor a command
// on the planted application uses it: each refuses naming the path and what is
// wrong, and the planted sockets see no connection.
func TestSquattedSessionDirectoryRefused(t *testing.T) {
	const planted = "application_1_0001"
	for _, tc := range []struct {
		name    string
		squat   func(t *testing.T, home string) // as nobody
		problem string
	}{
		{"world-writable", func(t *testing.T, home string) {
			privdirtest.AsNobody(t, "mkdir", "-m", "0777", home)
		}, "it is owned by uid 65534, not by you (uid 0)"},
		{"owned-by-nobody", func(t *testing.T, home string) {
			privdirtest.AsNobody(t, "mkdir", "-m", "0700", home)
		}, "it is owned by uid 65534, not by you (uid 0)"},
		{"symlink", func(t *testing.T, home string) {
			theirs := home + "-theirs"
			privdirtest.AsNobody(t, "mkdir", "-m", "0777", theirs)
			privdirtest.AsNobody(t, "ln", "-s", theirs, home)
		}, "it is a symlink (to %s-theirs, owned by uid 65534), not a directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, home := squatCLI(t)
			tc.squat(t, home)
			privdirtest.AsNobody(t, "mkdir", "-m", "0777", filepath.Join(home, planted))
			rm := privdirtest.Plant(t, filepath.Join(home, planted, "rm.sock"))
			control := privdirtest.Plant(t, filepath.Join(home, planted, "control.sock"))
			problem := tc.problem
			if strings.Contains(problem, "%s") {
				problem = strings.ReplaceAll(problem, "%s", home)
			}
			want := "refusing the session directory: " + home + " is not private to this user: " + problem

			out, err := c.run("", append([]string{"-n", "1", "-d"}, c.ha...)...)
			require.Error(t, err)
			require.Contains(t, out, want)
			require.Contains(t, out, "(or set AMKEEPER_HOME to a directory of your own)")
			entries, err := os.ReadDir(home)
			require.NoError(t, err)
			require.Len(t, entries, 1, "nothing was created in the squatted home")
			require.Equal(t, planted, entries[0].Name())

			for _, cmd := range [][]string{{"status", "-id", planted}, {"stop", "-id", planted}, {"kill-am", "-id", planted}, {"-id", planted}} {
				out, err = c.run("", cmd...)
				require.Error(t, err, "%v", cmd)
				require.Contains(t, out, want, "%v", cmd)
			}
			require.Zero(t, rm.Connections(), "nothing was sent to the planted rm.sock")
			require.Zero(t, control.Connections(), "nothing was sent to the planted control.sock")
		})
	}
}

// TestSquattedSocketFallbackRefused: an application directory too long for a
// socket path puts its sockets in /tmp/amk-<uid>-<hash>, a name anyone can
// compute. nobody made that directory first and planted control.sock in it: the
// CLI refuses to connect, naming the directory, and the socket sees nothing.
func TestSquattedSocketFallbackRefused(t *testing.T) {
	c := newCLI(t)
	long := filepath.Join(c.home, strings.Repeat("h", 100))
	require.NoError(t, os.Mkdir(long, 0o700))
	c.env = append(c.env, "AMKEEPER_HOME="+long) // the later entry wins
	const id = "application_1_0001"
	require.NoError(t, os.Mkdir(filepath.Join(long, id), 0o700))
	sockDir := supervisor.SocketDir(filepath.Join(long, id))
	require.True(t, strings.HasPrefix(sockDir, "/tmp/amk-0-"), sockDir)
	privdirtest.AsNobody(t, "mkdir", "-m", "0777", sockDir)
	t.Cleanup(func() { _ = os.RemoveAll(sockDir) })
	control := privdirtest.Plant(t, filepath.Join(sockDir, "control.sock"))

	out, err := c.run("", "status", "-id", id)
	require.Error(t, err)
	require.Contains(t, out, "refusing to connect to "+filepath.Join(sockDir, "control.sock")+": "+sockDir+
		" is not private to this user: it is owned by uid 65534, not by you (uid 0)")
	require.Zero(t, control.Connections())
}

// TestApplicationIDsValidated: -id and the .yarn-properties file name an
// application directory, so anything but an application ID is refused with the
// valid form; a properties file another user planted is refused whatever it says.
func TestApplicationIDsValidated(t *testing.T) {
	c := newCLI(t)
	const form = "want application_<clusterTimestamp>_<seq>"
	for _, cmd := range [][]string{{"status", "-id", "../../etc"}, {"-id", "../../etc"}, {"stop", "-id", "../../etc"},
		{"list", "-id", "../../etc"}, {"config", "-id", "../../etc"}} {
		out, err := c.run("", cmd...)
		require.Error(t, err, "%v", cmd)
		require.Contains(t, out, `application ID "../../etc": does not start with "application_"; `+form, "%v", cmd)
	}

	props := propertiesFile(c)
	require.NoError(t, os.WriteFile(props, []byte("applicationID=application_1_0001/../../../etc\n"), 0o600))
	out, err := c.run("", "status")
	require.Error(t, err)
	require.Contains(t, out, props+`: containers: malformed ID: ID "application_1_0001/../../../etc": seq "0001/../../../etc" is not a decimal number; `+form)

	// Planted by nobody in the shared temp directory: refused before it is read.
	shared := privdirtest.SharedDir(t)
	c.env = append(c.env, "TMPDIR="+shared)
	props = filepath.Join(shared, ".yarn-properties-"+currentUser())
	privdirtest.AsNobody(t, "sh", "-c", "echo applicationID=application_1_0001 > "+props)
	out, err = c.run("", "status")
	require.Error(t, err)
	require.Contains(t, out, props+" is owned by uid 65534, not by you (uid 0): another user planted it")
}

// TestFailedStartKeepsAnotherSessionsProperties: a start that fails (its
// storage is unreachable, so its supervisor exits at once) neither overwrites
// nor deletes the .yarn-properties file of the session before it.
func TestFailedStartKeepsAnotherSessionsProperties(t *testing.T) {
	c := newCLI(t)
	props := propertiesFile(c)
	before := "#Generated YARN properties file\napplicationID=application_1_0001\nparallelism=1\ndynamicPropertiesString=\n"
	require.NoError(t, os.WriteFile(props, []byte(before), 0o600))
	out, err := c.run("", "-n", "1", "-d", "-D", "high-availability.type=NONE", "-D", "high-availability.storageDir=hdfs://127.0.0.1:1/x")
	require.Error(t, err)
	require.Regexp(t, `: its supervisor exited \(exit status 1\) before it answered; last error in \S+/supervisor\.log: yarn-session: supervise application_\d+_0001: `+
		`supervisor: attempt history: high-availability\.storageDir hdfs://127\.0\.0\.1:1/x: `, out, "the start names the supervisor's own error")
	got, err := os.ReadFile(props)
	require.NoError(t, err)
	require.Equal(t, before, string(got))
}

// TestSessionLimits: in a session capped at one job, with its REST endpoint
// bound to every interface, a second job is refused (409, naming the key), a
// submission over the body limit gets 413, the AM goes on serving, and the REST
// endpoint answers on another local address while it advertises rest.address.
func TestSessionLimits(t *testing.T) {
	c, id, client, jobs, _ := jobSessionWith(t, 1, func(c *cli) {
		c.ha = append(c.ha, "-D", "amkeeper.session.max-jobs=1", "-D", "rest.bind-address=0.0.0.0")
	}, fastCounting)
	require.Len(t, jobs, 1)
	rest := leaderOf(client)
	require.True(t, strings.HasPrefix(rest, "http://127.0.0.1:"), "advertised: rest.address (%s)", rest)

	second := filepath.Join(t.TempDir(), "second.yaml")
	require.NoError(t, os.WriteFile(second, []byte(strings.Replace(fastCounting, "path: counts", "path: counts-b", 1)), 0o600))
	out, err := c.run("", "run", "-id", id, second)
	require.Error(t, err)
	require.Contains(t, out, "the session runs 1 jobs, the most amkeeper.session.max-jobs (1) allows")

	big := append([]byte(`{"jobId":"`), bytes.Repeat([]byte("x"), 2<<20)...)
	secret, err := sessionctl.SessionSecret(appDirFor(c, id))
	require.NoError(t, err)
	resp, err := secret.Client(nil).Post(rest+"/jobs", "application/json", bytes.NewReader(append(big, `"}`...)))
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, "%s", body)
	require.Contains(t, string(body), "body too large: over 1048576 bytes")

	// Still up, with its one job; and reachable on another loopback address,
	// which only a bind to every interface serves.
	other := strings.Replace(rest, "127.0.0.1", "127.0.0.2", 1)
	for _, base := range []string{rest, other} {
		var list struct {
			Jobs []jobmanager.JobStatus `json:"jobs"`
		}
		require.NoError(t, getJSON(base+"/jobs", &list), base)
		require.Len(t, list.Jobs, 1, base)
	}
}
