package conf

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// zkBase turns ZooKeeper HA on with valid settings; cases append to it or override
// with -D.
const zkBase = "high-availability.type: zookeeper\n" +
	"high-availability.zookeeper.quorum: zk1:2181,zk2:2181\n" +
	"high-availability.storageDir: hdfs:///flink/recovery\n"

// TestValidationProblems covers every rule: each bad input yields exactly one problem
// that names the key, the origin (file:line, -D, env or default), the value and what
// is valid.
func TestValidationProblems(t *testing.T) {
	tests := []struct {
		name   string
		yaml   string   // flink-conf.yaml
		dyn    []string // -D items
		zoo    string   // zoo.cfg, if any
		key    string
		origin string // "file:N" for a file line, else the exact Origin.String()
		value  string
		msg    string
	}{
		{name: "slots above the cap", yaml: "taskmanager.numberOfTaskSlots: 300\n",
			key: "taskmanager.numberOfTaskSlots", origin: "file:1", value: "300",
			msg: "is above amkeeper.taskmanager.max-slots (256, from default): want at most that many slots per TaskManager, or raise amkeeper.taskmanager.max-slots"},
		{name: "unknown HA type", yaml: "high-availability.type: zk\n",
			key: "high-availability.type", origin: "file:1", value: "zk", msg: "is not valid: want NONE or zookeeper"},
		{name: "HA type from -D", dyn: []string{"high-availability.type=kubernetes"},
			key: "high-availability.type", origin: "-D", value: "kubernetes", msg: "want NONE or zookeeper (amkeeper implements ZooKeeper high availability only, not Kubernetes)"},
		{name: "HA factory class", yaml: "high-availability: org.example.MyHaServicesFactory\n",
			key: "high-availability.type", origin: "file:1 (as high-availability)", value: "org.example.MyHaServicesFactory", msg: "factory classes"},
		{name: "old recovery.mode value", yaml: "recovery.mode: yes-please\n",
			key: "high-availability.type", origin: "file:1 (as recovery.mode)", value: "yes-please", msg: "want NONE or zookeeper"},
		{name: "zookeeper without quorum", yaml: "high-availability.type: zookeeper\nhigh-availability.storageDir: file:///ha\n",
			key: "high-availability.zookeeper.quorum", origin: "file:1", msg: "is required when high-availability.type is zookeeper"},
		{name: "zookeeper without storageDir", yaml: "recovery.mode: zookeeper\nrecovery.zookeeper.quorum: zk\n",
			key: "high-availability.storageDir", origin: "file:1 (as recovery.mode)", msg: "is required when high-availability.type is zookeeper"},
		{name: "zookeeper from -D without quorum", dyn: []string{"high-availability.type=zookeeper", "high-availability.storageDir=file:///x"},
			key: "high-availability.zookeeper.quorum", origin: "-D", msg: "is required"},
		{name: "quorum bad port", yaml: zkBase + "high-availability.zookeeper.quorum: zk1:21a81\n",
			key: "high-availability.zookeeper.quorum", origin: "file:4", value: "zk1:21a81", msg: `bad entry "zk1:21a81": port "21a81" is not a number`},
		{name: "quorum port out of range", yaml: "high-availability.type: zookeeper\nhigh-availability.storageDir: hdfs:///ha\nzookeeper.address: zk1:2181,zk2:65536\n",
			key: "high-availability.zookeeper.quorum", origin: "file:3 (as zookeeper.address)", value: "zk1:2181,zk2:65536", msg: "port 65536 is out of range 1..65535"},
		{name: "quorum port zero", dyn: []string{"high-availability.zookeeper.quorum=zk1:0"},
			key: "high-availability.zookeeper.quorum", origin: "-D", value: "zk1:0", msg: "port 0 is out of range"},
		{name: "quorum empty host", yaml: zkBase + "high-availability.zookeeper.quorum: zk1:2181,:2181\n",
			key: "high-availability.zookeeper.quorum", origin: "file:4", value: "zk1:2181,:2181", msg: `bad entry ":2181": the host is empty`},
		{name: "quorum chroot", yaml: zkBase + "high-availability.zookeeper.quorum: zk1:2181/flink\n",
			key: "high-availability.zookeeper.quorum", origin: "file:4", value: "zk1:2181/flink", msg: "set high-availability.zookeeper.path.root instead"},
		{name: "quorum bare IPv6", yaml: zkBase + "high-availability.zookeeper.quorum: fe80::1:2181\n",
			key: "high-availability.zookeeper.quorum", origin: "file:4", value: "fe80::1:2181", msg: "needs brackets"},
		{name: "storageDir without scheme", yaml: zkBase + "high-availability.storageDir: /tmp/x\n",
			key: "high-availability.storageDir", origin: "file:4", value: "/tmp/x", msg: "has no scheme: use file:///tmp/x"},
		{name: "storageDir other scheme", yaml: zkBase + "high-availability.storageDir: s3://bucket/ha\n",
			key: "high-availability.storageDir", origin: "file:4", value: "s3://bucket/ha", msg: `has scheme "s3", which amkeeper cannot use: want file or hdfs`},
		{name: "storageDir file with host", dyn: []string{"high-availability.storageDir=file://tmp/x"},
			key: "high-availability.storageDir", origin: "-D", value: "file://tmp/x", msg: "use file:///tmp/x"},
		{name: "checkpoints dir without scheme", yaml: "state.checkpoints.dir: /data/cp\n",
			key: "state.checkpoints.dir", origin: "file:1", value: "/data/cp", msg: "use file:///data/cp"},
		{name: "old checkpoints dir key, other scheme", yaml: "state.backend.fs.checkpointdir: gs://b/cp\n",
			key: "state.checkpoints.dir", origin: "file:1 (as state.backend.fs.checkpointdir)", value: "gs://b/cp", msg: "want file or hdfs"},
		{name: "zero session timeout", yaml: "high-availability.zookeeper.client.session-timeout: 0\n",
			key: "high-availability.zookeeper.client.session-timeout", origin: "file:1", value: "0", msg: "is not positive"},
		{name: "negative session timeout", yaml: "high-availability.zookeeper.client.session-timeout: -60000\n",
			key: "high-availability.zookeeper.client.session-timeout", origin: "file:1", value: "-60000", msg: "is not a duration: it is negative"},
		{name: "zero connection timeout", dyn: []string{"high-availability.zookeeper.client.connection-timeout=0 s"},
			key: "high-availability.zookeeper.client.connection-timeout", origin: "-D", value: "0 s", msg: "is not positive"},
		{name: "retry wait junk", yaml: "zookeeper.retry-delay: soon\n",
			key: "high-availability.zookeeper.client.retry-wait", origin: "file:1 (as zookeeper.retry-delay)", value: "soon", msg: "does not start with a number"},
		{name: "retry wait bad unit", yaml: "high-availability.zookeeper.client.retry-wait: 5 parsecs\n",
			key: "high-availability.zookeeper.client.retry-wait", origin: "file:1", value: "5 parsecs", msg: `unknown unit "parsecs"`},
		{name: "negative retry count", yaml: "zookeeper.retry-count: -1\n",
			key: "high-availability.zookeeper.client.max-retry-attempts", origin: "file:1 (as zookeeper.retry-count)", value: "-1", msg: "want 0 or more"},
		{name: "zero checkpoint timeout", yaml: "execution.checkpointing.timeout: 0 min\n",
			key: "execution.checkpointing.timeout", origin: "file:1", value: "0 min", msg: "is not positive"},
		{name: "zero checkpoint interval", yaml: "execution.checkpointing.interval: 0\n",
			key: "execution.checkpointing.interval", origin: "file:1", value: "0", msg: "is not positive"},
		{name: "zero registration timeout", yaml: "resourcemanager.taskmanager-registration.timeout: 0\n",
			key: "resourcemanager.taskmanager-registration.timeout", origin: "file:1", value: "0", msg: "is not positive"},
		{name: "heartbeat timeout not above interval", yaml: "heartbeat.interval: 10 s\nheartbeat.timeout: 10 s\n",
			key: "heartbeat.timeout", origin: "file:2", value: "10 s", msg: "is not greater than heartbeat.interval (10 s, from "},
		{name: "heartbeat interval above default timeout", dyn: []string{"heartbeat.interval=1 min"},
			key: "heartbeat.interval", origin: "-D", value: "1 min", msg: "is not less than heartbeat.timeout (50000 ms, from default)"},
		{name: "zero attempts", yaml: "yarn.application-attempts: 0\n",
			key: "yarn.application-attempts", origin: "file:1", value: "0", msg: "is too small: want 1 or more"},
		{name: "negative AM max attempts", dyn: []string{"yarn.resourcemanager.am.max-attempts=-1"},
			key: "yarn.resourcemanager.am.max-attempts", origin: "-D", value: "-1", msg: "want 1 or more"},
		{name: "attempts not an integer", yaml: "yarn.application-attempts: ten\n",
			key: "yarn.application-attempts", origin: "file:1", value: "ten", msg: "is not an integer"},
		{name: "attempts fraction", yaml: "yarn.application-attempts: 1.5\n",
			key: "yarn.application-attempts", origin: "file:1", value: "1.5", msg: "is not an integer"},
		{name: "attempts too big", yaml: "yarn.application-attempts: 99999999999\n",
			key: "yarn.application-attempts", origin: "file:1", value: "99999999999", msg: "out of range"},
		{name: "slots zero", yaml: "taskmanager.numberOfTaskSlots: 0\n",
			key: "taskmanager.numberOfTaskSlots", origin: "file:1", value: "0", msg: "want 1 or more"},
		{name: "retained not an integer", yaml: "state.checkpoints.num-retained: all\n",
			key: "state.checkpoints.num-retained", origin: "file:1", value: "all", msg: "is not an integer"},
		{name: "bad bool", yaml: "high-availability.zookeeper.client.tolerate-suspended-connections: yes\n",
			key: "high-availability.zookeeper.client.tolerate-suspended-connections", origin: "file:1", value: "yes", msg: "want true or false"},
		{name: "bad ACL", yaml: "high-availability.zookeeper.client.acl: world\n",
			key: "high-availability.zookeeper.client.acl", origin: "file:1", value: "world", msg: "want open or creator"},
		{name: "creator ACL without digest", yaml: "recovery.zookeeper.client.acl: creator\n",
			key: "amkeeper.zookeeper.digest", origin: "file:1 (as recovery.zookeeper.client.acl)", msg: "is required when high-availability.zookeeper.client.acl is creator"},
		{name: "digest without colon", yaml: "amkeeper.zookeeper.digest: justapassword\n",
			key: "amkeeper.zookeeper.digest", origin: "file:1", value: "******", msg: "want user:password"},
		{name: "bad container policy", yaml: "amkeeper.containers.across-attempts: keep-some\n",
			key: "amkeeper.containers.across-attempts", origin: "file:1", value: "keep-some", msg: "want keep or restart-all"},
		{name: "reversed port range", yaml: "recovery.jobmanager.port: 50025-50000\n",
			key: "high-availability.jobmanager.port", origin: "file:1 (as recovery.jobmanager.port)", value: "50025-50000", msg: "the range is reversed"},
		{name: "reversed TaskManager port range", yaml: "taskmanager.rpc.port: 50200-50100\n",
			key: "taskmanager.rpc.port", origin: "file:1", value: "50200-50100", msg: "the range is reversed"},
		{name: "port too big", dyn: []string{"rest.port=80808"},
			key: "rest.port", origin: "-D", value: "80808", msg: "above 65535"},
		{name: "port junk", yaml: "rest.port: http\n",
			key: "rest.port", origin: "file:1", value: "http", msg: "not a number"},
		{name: "bad memory size", yaml: "taskmanager.memory.process.size: 2 gigs\n",
			key: "taskmanager.memory.process.size", origin: "file:1", value: "2 gigs", msg: `unknown unit "gigs"`},
		{name: "zero memory size", dyn: []string{"jobmanager.memory.process.size=0m"},
			key: "jobmanager.memory.process.size", origin: "-D", value: "0m", msg: "is not positive"},
		{name: "cluster id only slashes", yaml: "high-availability.cluster-id: /\n",
			key: "high-availability.cluster-id", origin: "file:1", value: "/", msg: "want a name"},
		{name: "path root with dot-dot", yaml: "zookeeper.path.root: /flink/../x\n",
			key: "high-availability.zookeeper.path.root", origin: "file:1 (as zookeeper.path.root)", value: "/flink/../x", msg: "segments . and .. are not allowed"},
		{name: "path root with empty segment", yaml: "high-availability.zookeeper.path.root: /a//b\n",
			key: "high-availability.zookeeper.path.root", origin: "file:1", value: "/a//b", msg: "empty segment"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			files := map[string]string{FlinkConfFile: tc.yaml}
			if tc.zoo != "" {
				files[ZooCfgFile] = tc.zoo
			}
			dir := writeDir(t, files)
			path := filepath.Join(dir, FlinkConfFile)
			c, err := Load(Options{Dir: dir, Dynamic: tc.dyn, LookupEnv: noEnv})
			require.NotNil(t, c, "a config that parsed is returned even when invalid")
			ps := problemsOf(t, err)
			require.Len(t, ps, 1, err.Error())
			p := ps[0]
			assert.Equal(t, tc.key, p.Key)
			origin := tc.origin
			if rest, ok := strings.CutPrefix(origin, "file:"); ok {
				origin = path + ":" + rest
			}
			assert.Equal(t, origin, p.Origin.String())
			assert.Equal(t, tc.value, p.Value)
			assert.Contains(t, p.Msg, tc.msg)
			msg := err.Error()
			assert.True(t, strings.HasPrefix(msg, origin+": "+tc.key+": "), "%q names origin and key", msg)
			if tc.value != "" {
				assert.Contains(t, msg, `"`+tc.value+`"`)
			}
		})
	}
}

func TestAllProblemsAreCollected(t *testing.T) {
	yaml := strings.Join([]string{
		"high-availability.type: zookeeper",            // 1: no quorum, no storageDir
		"yarn.application-attempts: 0",                 // 2
		"heartbeat.interval: nope",                     // 3
		"rest.port: 9-1",                               // 4
		"state.checkpoints.dir: /cp",                   // 5
		"high-availability.zookeeper.quorum: zk1,,zk2", // 6
	}, "\n") + "\n"
	dir := writeDir(t, map[string]string{
		FlinkConfFile: yaml,
		MastersFile:   "localhost:8081\nlocalhost:http\n",
		ZooCfgFile:    "tickTime=fast\n",
	})
	c, err := Load(Options{Dir: dir, Dynamic: []string{"oops"}, LookupEnv: noEnv})
	require.NotNil(t, c, "%v", err)
	ps := problemsOf(t, err)
	var got []string
	for _, p := range ps {
		got = append(got, p.Key+"@"+p.Origin.String())
	}
	conf := filepath.Join(dir, FlinkConfFile)
	assert.Equal(t, []string{
		"@" + filepath.Join(dir, MastersFile) + ":2",
		"tickTime@" + filepath.Join(dir, ZooCfgFile) + ":1",
		"@-D",
		"high-availability.zookeeper.quorum@" + conf + ":6",
		"yarn.application-attempts@" + conf + ":2",
		"state.checkpoints.dir@" + conf + ":5",
		"rest.port@" + conf + ":4",
		"heartbeat.interval@" + conf + ":3",
		"high-availability.storageDir@" + conf + ":1",
	}, got)
	assert.Len(t, strings.Split(err.Error(), "\n"), len(ps), "one problem per line")
	// The bad values fell back to defaults; the rest is usable.
	assert.Equal(t, 2, c.ApplicationAttempts())
	assert.Equal(t, 8081, c.RESTPort().First())
	assert.Len(t, c.Masters(), 1)
}

func TestCrossCheckWarnings(t *testing.T) {
	// ZooKeeper settings without high-availability.type (the nested form needs .type).
	c, err, path := loadYAML(t, "high-availability:\n  zookeeper:\n    quorum: zk:2181\n  storageDir: file:///ha\n")
	require.NoError(t, err)
	assert.Equal(t, HANone, c.HAMode())
	ws := warningsAbout(c, HAType.Key())
	require.Len(t, ws, 1)
	assert.Equal(t, path+":3: high-availability.type: is not set, so high availability is off (NONE) and "+
		"high-availability.zookeeper.quorum and high-availability.storageDir are not used: set high-availability.type: zookeeper to enable it",
		ws[0].String())

	// Explicit NONE is respected silently.
	c = mustLoadYAML(t, "high-availability.type: NONE\nhigh-availability.zookeeper.quorum: zk:2181\n")
	assert.Empty(t, c.Warnings())

	// state.backend values amkeeper does not implement.
	for backend, warns := range map[string]bool{"filesystem": false, "hashmap": false, "HashMap": false, "rocksdb": true, "jobmanager": true} {
		c = mustLoadYAML(t, "state.backend: "+backend+"\n")
		assert.Equal(t, backend, c.StateBackend())
		if warns {
			require.Len(t, c.Warnings(), 1, backend)
			assert.Contains(t, c.Warnings()[0].String(), `state.backend: "`+backend+`" is accepted but not used`)
		} else {
			assert.Empty(t, c.Warnings(), backend)
		}
	}

	// Several masters without HA.
	dir := writeDir(t, map[string]string{MastersFile: "a:8081\nb:8082\n"})
	c, err = Load(Options{Dir: dir, LookupEnv: noEnv})
	require.NoError(t, err)
	require.Len(t, c.Warnings(), 1)
	assert.Equal(t, filepath.Join(dir, MastersFile)+":2: 2 masters are listed but high-availability.type is NONE: standby JobManagers need zookeeper",
		c.Warnings()[0].String())
}

func TestSessionTimeoutWithinZooCfgIsFine(t *testing.T) {
	dir := writeDir(t, map[string]string{FlinkConfFile: zkBase + "high-availability.zookeeper.client.session-timeout: 40 s\n", ZooCfgFile: "tickTime=2000\n"})
	c, err := Load(Options{Dir: dir, LookupEnv: noEnv})
	require.NoError(t, err)
	assert.Equal(t, "40 s", c.Entry(ZKSessionTimeout).Value)
	// Without HA the ZooKeeper client is not used, so zoo.cfg is not compared.
	dir = writeDir(t, map[string]string{ZooCfgFile: "tickTime=100\n"})
	_, err = Load(Options{Dir: dir, LookupEnv: noEnv})
	require.NoError(t, err)
}

// TestSessionTimeoutOutsideZooCfgBoundsWarns: ZooKeeper clamps a requested session
// timeout into [minSessionTimeout, maxSessionTimeout] and Flink runs with it, so a
// timeout outside the bounds of the zoo.cfg beside flink-conf.yaml is a warning
// saying what the server grants, not a refusal (the seeds' template: tickTime 2000,
// Flink's default 60 s).
func TestSessionTimeoutOutsideZooCfgBoundsWarns(t *testing.T) {
	const key = "high-availability.zookeeper.client.session-timeout"
	tests := []struct {
		name, yaml, zoo, origin, want string
		dyn                           []string
	}{
		{name: "above max", yaml: zkBase + key + ": 120 s\n", zoo: "tickTime=2000\n", origin: "file:4",
			want: `120 s is outside [4 s, 40 s], the session timeouts the server in ZOO grants (tickTime 2 s): the server clamps it to 40 s; `},
		{name: "default above max", yaml: zkBase, zoo: "tickTime=2000\n", origin: "default",
			want: `60000 ms is outside [4 s, 40 s], the session timeouts the server in ZOO grants (tickTime 2 s): the server clamps it to 40 s; `},
		{name: "below min", yaml: zkBase, dyn: []string{key + "=1 s"}, zoo: "minSessionTimeout=5000\nmaxSessionTimeout=90000\n", origin: "-D",
			want: `1 s is outside [5 s, 90 s], the session timeouts the server in ZOO grants (tickTime 3 s): the server clamps it to 5 s; `},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeDir(t, map[string]string{FlinkConfFile: tc.yaml, ZooCfgFile: tc.zoo})
			c, err := Load(Options{Dir: dir, Dynamic: tc.dyn, LookupEnv: noEnv})
			require.NoError(t, err)
			var got []Warning
			for _, w := range c.Warnings() {
				if w.Key == key {
					got = append(got, w)
				}
			}
			require.Len(t, got, 1, "%v", c.Warnings())
			origin := tc.origin
			if rest, ok := strings.CutPrefix(origin, "file:"); ok {
				origin = filepath.Join(dir, FlinkConfFile) + ":" + rest
			}
			assert.Equal(t, origin, got[0].Origin.String())
			assert.True(t, strings.HasPrefix(got[0].Msg, strings.ReplaceAll(tc.want, "ZOO", filepath.Join(dir, ZooCfgFile))), got[0].Msg)
		})
	}
}
