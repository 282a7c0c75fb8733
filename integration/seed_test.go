package integration_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/integration/hdfspeer"
	"github.com/amkeeper/amkeeper/internal/netaddr/netaddrtest"
	"github.com/amkeeper/amkeeper/job"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/supervisor"
	"github.com/amkeeper/amkeeper/taskmanager"
)

// seedConf copies the seeds' YARN example (testdata/seed-yarn) into a fresh
// configuration directory and a HADOOP_CONF_DIR, changing only what would collide
// on a shared machine: ZooKeeper's ports and its dataDir. fs.defaultFS names the
// HDFS peer, so the seed's hdfs:///flink/... paths resolve to it.
func seedConf(t *testing.T, peer *hdfspeer.Peer) (confDir, hadoopDir string, zkPort int) {
	t.Helper()
	ports := netaddrtest.FreePorts(t, 3)
	replace := strings.NewReplacer("2181", strconv.Itoa(ports[0]), "2888", strconv.Itoa(ports[1]), "3888", strconv.Itoa(ports[2]),
		"/tmp/zookeeper", filepath.Join(t.TempDir(), "zookeeper"))
	confDir, hadoopDir = t.TempDir(), t.TempDir()
	for _, f := range []struct{ name, dir string }{{"flink-conf.yaml", confDir}, {"zoo.cfg", confDir}, {"yarn-site.xml", hadoopDir}} {
		b, err := os.ReadFile(filepath.Join("testdata", "seed-yarn", f.name))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(f.dir, f.name), []byte(replace.Replace(string(b))), 0o644))
	}
	core := `<?xml version="1.0"?>
<configuration>
<property><name>fs.defaultFS</name><value>hdfs://` + peer.Addr() + `</value></property>
</configuration>
`
	require.NoError(t, os.WriteFile(filepath.Join(hadoopDir, "core-site.xml"), []byte(core), 0o644))
	return confDir, hadoopDir, ports[0]
}

// TestSeedYarnExample runs the seeds' "Highly Available YARN Session" as written:
// its flink-conf.yaml (recovery.* keys, state in hdfs:///flink/checkpoints, HA data
// in hdfs:///flink/recovery, 10 application attempts), Flink's zoo.cfg template
// (tickTime 2000), yarn-site.xml capping AM attempts at 4, `zookeeper start`, then
// `yarn-session -n 2`. The session starts (Flink's default 60 s session timeout is
// clamped by the server to 40 s: a warning), runs a job through an AM kill, keeps
// task state under state.checkpoints.dir, writes plain output parts and a plain
// history.json, and no log line of any of its processes repeats a JSON key.
func TestSeedYarnExample(t *testing.T) {
	peer := hdfspeer.Start(t)
	confDir, hadoopDir, zkPort := seedConf(t, peer)

	// bin/start-zookeeper-quorum.sh
	runDir := filepath.Join(t.TempDir(), "zk")
	zk := newCLI(t)
	t.Cleanup(func() { _, _ = zk.run("", "zookeeper", "stop", "--run-dir", runDir) })
	out, err := zk.run("", "zookeeper", "start", "--conf-dir", confDir, "--run-dir", runDir)
	require.NoError(t, err, out)
	require.Contains(t, out, "127.0.0.1:"+strconv.Itoa(zkPort), "the seed's clientPort, as zoo.cfg says")

	// bin/yarn-session.sh -n 2 (rest.port=0: 8081 is taken on a shared machine)
	c := newCLI(t)
	c.env = append(c.env, "HADOOP_CONF_DIR="+hadoopDir, "HADOOP_USER_NAME=flink")
	out, err = c.run("", "-n", "2", "-d", "--conf-dir", confDir, "-D", "rest.port=0", "--log-format", "json")
	require.NoError(t, err, "the seed's example starts")
	assert.Contains(t, out, `"key":"high-availability.zookeeper.client.session-timeout"`)
	assert.Contains(t, out, "60000 ms is outside [4 s, 40 s]")
	assert.Contains(t, out, "the server clamps it to 40 s")
	id := appIDPattern.FindString(out)
	require.NotEmpty(t, id, out)
	dir := appDirFor(c, id)
	t.Cleanup(func() { dumpLogs(t, dir) })
	client := supervisor.NewControlClient(dir)
	require.Eventually(t, func() bool { return leaderOf(client) != "" }, 60*time.Second, 20*time.Millisecond)
	st, err := client.Status(context.Background())
	require.NoError(t, err)
	assert.Equal(t, 4, st.MaxAttempts, "yarn.application-attempts 10, capped by yarn-site.xml's yarn.resourcemanager.am.max-attempts 4")
	// The leader asks for its containers once it leads: they come a moment later.
	require.Eventually(t, func() bool {
		st, err := client.Status(context.Background())
		return err == nil && len(st.Containers) == 2
	}, 60*time.Second, 20*time.Millisecond, "-n 2")

	f := filepath.Join(t.TempDir(), "job.yaml")
	require.NoError(t, os.WriteFile(f, []byte(fastCounting), 0o600))
	out, err = c.run("", "run", "-id", id, f)
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	jobID := lines[len(lines)-1]

	checkpoints := func() jobmanager.CheckpointInfo { _, info := checkpointsUnder(client, jobID); return info }
	require.Eventually(t, func() bool { return checkpoints().LatestID() >= 2 }, 60*time.Second, 20*time.Millisecond)
	_, err = client.KillAM(context.Background())
	require.NoError(t, err)
	// The job's tasks kept running on the TaskManagers: the next attempt adopts
	// them and checkpoints on (issue 18).
	require.Eventually(t, func() bool {
		i := checkpoints()
		return i.Adopted && i.Latest.Completed != nil && i.LatestID() >= 3
	}, 90*time.Second, 20*time.Millisecond, "the next attempt adopts the job and checkpoints it")

	ctx := context.Background()
	recoveryStore, err := hdfsstore.Open(ctx, peer.URI("/flink/recovery"))
	require.NoError(t, err)
	t.Cleanup(func() { recoveryStore.Close() })
	stateStore, err := hdfsstore.Open(ctx, peer.URI("/flink/checkpoints"))
	require.NoError(t, err)
	t.Cleanup(func() { stateStore.Close() })

	// state.checkpoints.dir (the seed's state.backend.fs.checkpointdir) holds the
	// task state; the HA storage dir holds none.
	stateFiles, err := stateStore.List(ctx, id+"/state/"+jobID+"/")
	require.NoError(t, err)
	assert.NotEmpty(t, stateFiles, "task state under hdfs:///flink/checkpoints")
	misplaced, err := recoveryStore.List(ctx, id+"/state/")
	require.NoError(t, err)
	assert.Empty(t, misplaced, "no task state under the HA storage dir")

	// Output parts are plain: the records, one a line, as cat shows them.
	outDir := job.OutputDir(taskmanager.OutputRoot, "counts")
	parts, err := job.CommittedParts(ctx, recoveryStore, outDir)
	require.NoError(t, err)
	require.NotEmpty(t, parts)
	var plain []int64
	for _, p := range parts {
		raw, err := hdfsstore.GetPlainBytes(ctx, recoveryStore, p.Name, nil)
		require.NoError(t, err)
		require.True(t, bytes.HasSuffix(raw, []byte("\n")), "%s ends with its last record", p.Name)
		for _, line := range strings.Split(strings.TrimSuffix(string(raw), "\n"), "\n") {
			v, err := strconv.ParseInt(line, 10, 64)
			require.NoError(t, err, "%s holds records only", p.Name)
			plain = append(plain, v)
		}
	}
	requireExactCounts(t, plain, 3)
	verified, err := job.ReadCommitted(ctx, recoveryStore, outDir)
	require.NoError(t, err)
	assert.Equal(t, plain, verified[:len(plain)], "read plainly or verified, the same records")

	// history.json is one JSON value (json.load reads it).
	raw, err := hdfsstore.GetPlainBytes(ctx, recoveryStore, attempts.HistoryName(id), nil)
	require.NoError(t, err)
	var history struct {
		Version  int              `json:"version"`
		Attempts []map[string]any `json:"attempts"`
	}
	require.NoError(t, json.Unmarshal(raw, &history), "history.json:\n%s", raw)
	require.Len(t, history.Attempts, 1)
	assert.Equal(t, "failed", history.Attempts[0]["exit"], "the killed AM, a counted failure")

	_, err = c.run("", "stop", "-id", id)
	require.NoError(t, err)

	// No log line of the supervisor, the AMs or the TaskManagers repeats a key.
	scanned, dups := scanLogsForDuplicateKeys(t, dir)
	assert.Empty(t, dups)
	for _, role := range []string{"supervisor", "am", "taskmanager"} {
		assert.Positive(t, scanned[role], "log lines of role %s scanned", role)
	}
}

// scanLogsForDuplicateKeys reads every *.log file under dir and returns, per role,
// how many JSON lines it scanned, and each line (file:line: keys) in which an object
// repeats a key.
func scanLogsForDuplicateKeys(t *testing.T, dir string) (map[string]int, []string) {
	t.Helper()
	scanned := map[string]int{}
	var dups []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".log") {
			return err
		}
		f, err := os.Open(path)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for n := 1; sc.Scan(); n++ {
			line := sc.Bytes()
			if !bytes.HasPrefix(line, []byte("{")) {
				continue
			}
			keys, err := duplicateKeys(line)
			require.NoError(t, err, "%s:%d: %s", path, n, line)
			var role struct {
				Role string `json:"role"`
			}
			_ = json.Unmarshal(line, &role)
			scanned[role.Role]++
			if len(keys) > 0 {
				dups = append(dups, path+":"+strconv.Itoa(n)+": "+strings.Join(keys, ",")+": "+string(line))
			}
		}
		return sc.Err()
	})
	require.NoError(t, err)
	return scanned, dups
}

// duplicateKeys returns the keys that an object of the JSON value in b repeats.
func duplicateKeys(b []byte) ([]string, error) {
	type frame struct {
		object    bool
		keys      map[string]bool
		expectKey bool
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	var stack []*frame
	var dups []string
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			return dups, nil
		}
		if err != nil {
			return dups, err
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if d, ok := tok.(json.Delim); ok && (d == '}' || d == ']') {
			stack = stack[:len(stack)-1]
			continue
		}
		if top != nil && top.object {
			if top.expectKey {
				k := tok.(string)
				if top.keys[k] {
					dups = append(dups, k)
				}
				top.keys[k], top.expectKey = true, false
				continue
			}
			top.expectKey = true // this token is a value; a key comes next
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{object: true, keys: map[string]bool{}, expectKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		}
	}
}

// TestDuplicateKeyScan: the scanner finds a repeated key at any depth and nothing
// in a line without one.
func TestDuplicateKeyScan(t *testing.T) {
	for line, want := range map[string][]string{
		`{"role":"yarn-session","app":"a","role":"supervisor","app":"a"}`: {"role", "app"},
		`{"a":{"b":1,"b":2},"c":[{"d":1},{"d":2}]}`:                       {"b"},
		`{"a":1,"b":{"a":1},"c":[1,{"a":2}],"d":"x"}`:                     nil,
	} {
		got, err := duplicateKeys([]byte(line))
		require.NoError(t, err)
		assert.Equal(t, want, got, line)
	}
}
