package conf

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaults(t *testing.T) {
	c, err := Load(Options{LookupEnv: noEnv})
	require.NoError(t, err)
	assert.Equal(t, HANone, c.HAMode())
	assert.Empty(t, c.StorageDir())
	assert.Nil(t, c.Quorum())
	assert.Equal(t, "/flink", c.PathRoot())
	assert.Equal(t, "default", c.ClusterID())
	assert.Equal(t, "/flink/default", c.ClusterPath())
	assert.Equal(t, 60*time.Second, c.SessionTimeout())
	assert.Equal(t, 15*time.Second, c.ConnectionTimeout())
	assert.Equal(t, 5*time.Second, c.RetryWait())
	assert.Equal(t, 3, c.MaxRetryAttempts())
	assert.False(t, c.TolerateSuspendedConnections())
	assert.Equal(t, ACLOpen, c.ACL())
	assert.Empty(t, c.Digest())
	assert.True(t, c.JobManagerPort().IsAny())
	assert.Equal(t, 1, c.ApplicationAttempts())
	assert.Equal(t, 2, c.AMMaxAttempts())
	assert.Equal(t, 10*time.Second, c.AttemptFailuresValidityInterval())
	assert.Equal(t, ContainersKeep, c.ContainersAcrossAttempts())
	assert.Empty(t, c.CheckpointsDir())
	assert.Equal(t, 1, c.CheckpointsNumRetained())
	assert.Empty(t, c.StateBackend())
	_, on := c.CheckpointingInterval()
	assert.False(t, on)
	assert.Equal(t, 10*time.Minute, c.CheckpointingTimeout())
	assert.Equal(t, "8081", c.RESTPort().String())
	assert.Equal(t, "127.0.0.1", c.RESTAddress())
	assert.Equal(t, 5*time.Minute, c.TaskManagerRegistrationTimeout())
	assert.Equal(t, 1, c.TaskManagerSlots())
	assert.Equal(t, int64(1600<<20), c.JobManagerProcessSize())
	assert.Equal(t, int64(1728<<20), c.TaskManagerProcessSize())
	assert.Equal(t, 10*time.Second, c.HeartbeatInterval())
	assert.Equal(t, 50*time.Second, c.HeartbeatTimeout())
	assert.Empty(t, c.Warnings())
	for _, e := range c.Entries() {
		assert.False(t, e.Set, e.Option.Key())
		if e.Value != "" {
			assert.Equal(t, OriginDefault, e.Origin.Kind, e.Option.Key())
			assert.Equal(t, "default", e.Origin.String())
		}
	}
}

func TestRegistryIsConsistent(t *testing.T) {
	seen := map[string]string{}
	for _, o := range Registry() {
		for _, name := range append([]string{o.Key()}, o.Deprecated()...) {
			prev, dup := seen[name]
			assert.False(t, dup, "%s is used by %s and %s", name, prev, o.Key())
			seen[name] = o.Key()
		}
		assert.NotEmpty(t, o.Description(), o.Key())
		assert.Contains(t, groupOrder, o.Group(), o.Key())
		assert.True(t, underKnownPrefix(o.Key()), "%s: a registered key sits under a known prefix", o.Key())
		assert.False(t, ignoredKeySet[o.Key()], "%s is registered and ignored", o.Key())
		if o.def != "" {
			_, msg := o.parseValue(o.def)
			assert.Empty(t, msg, "default of %s", o.Key())
		}
		if o.Type() == TypeEnum {
			assert.NotEmpty(t, o.Values(), o.Key())
		}
		got, ok := Lookup(o.Key())
		assert.True(t, ok)
		assert.Same(t, o, got)
	}
	for _, k := range IgnoredKeys() {
		_, registered := Lookup(k)
		assert.False(t, registered, k)
	}
	// Registry hands out a copy of the table.
	r := Registry()
	r[0] = nil
	assert.NotNil(t, Registry()[0])
}

func TestHAType(t *testing.T) {
	tests := []struct {
		yaml string
		want HAMode
	}{
		{"high-availability.type: zookeeper", HAZooKeeper},
		{"high-availability.type: ZooKeeper", HAZooKeeper},
		{"high-availability.type: ZOOKEEPER", HAZooKeeper},
		{"high-availability.type: NONE", HANone},
		{"high-availability.type: none", HANone},
		{"high-availability: zookeeper", HAZooKeeper},
		{"high-availability: NONE", HANone},
		{"recovery.mode: zookeeper", HAZooKeeper},
		{"recovery.mode: standalone", HANone},
		{"recovery.mode: STANDALONE", HANone},
		{"high-availability:\n  type: zookeeper", HAZooKeeper},
	}
	zk := "\nhigh-availability.zookeeper.quorum: zk:2181\nhigh-availability.storageDir: file:///ha\n"
	for _, tc := range tests {
		t.Run(tc.yaml, func(t *testing.T) {
			c := mustLoadYAML(t, tc.yaml+zk)
			assert.Equal(t, tc.want, c.HAMode())
			assert.Equal(t, string(tc.want), c.String(HAType))
		})
	}
}

func TestPrecedence(t *testing.T) {
	dir := writeDir(t, map[string]string{FlinkConfFile: "rest.address: file.example\namkeeper.zookeeper.digest: file:pw\n"})
	env := envOf(map[string]string{"AMKEEPER_ZK_DIGEST": "env:pw"})

	c, err := Load(Options{Dir: dir, LookupEnv: noEnv})
	require.NoError(t, err)
	assert.Equal(t, "file.example", c.RESTAddress())
	assert.Equal(t, "file:pw", c.Digest())

	c, err = Load(Options{Dir: dir, LookupEnv: env})
	require.NoError(t, err)
	assert.Equal(t, "env:pw", c.Digest(), "the environment beats the file")
	assert.Equal(t, "env AMKEEPER_ZK_DIGEST", c.Entry(ZKDigest).Origin.String())

	c, err = Load(Options{Dir: dir, LookupEnv: env, Dynamic: []string{
		"rest.address=first.example", "amkeeper.zookeeper.digest=d:pw", "rest.address = second.example ",
	}})
	require.NoError(t, err)
	assert.Equal(t, "second.example", c.RESTAddress(), "-D beats the file; a later -D wins")
	assert.Equal(t, "d:pw", c.Digest(), "-D beats the environment")
	e := c.Entry(RESTAddress)
	assert.True(t, e.Set)
	assert.Equal(t, Origin{Kind: OriginDynamic, Line: 3}, e.Origin)
	assert.Equal(t, "-D", e.Origin.String())

	// An empty value means "the default": -D key= clears a file value.
	c, err = Load(Options{Dir: dir, LookupEnv: noEnv, Dynamic: []string{"rest.address="}})
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", c.RESTAddress())
	assert.False(t, c.IsSet(RESTAddress))
	// An empty environment variable is unset.
	c, err = Load(Options{LookupEnv: envOf(map[string]string{"AMKEEPER_ZK_DIGEST": " "})})
	require.NoError(t, err)
	assert.Empty(t, c.Digest())
}

func TestEmptyValueInFileWarns(t *testing.T) {
	c, err, path := loadYAML(t, "rest.address:\n")
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1", c.RESTAddress())
	ws := warningsAbout(c, "rest.address")
	require.Len(t, ws, 1)
	assert.Equal(t, path+":1: rest.address: has no value; the default applies", ws[0].String())
}

func TestDynamicMalformed(t *testing.T) {
	c, err := Load(Options{LookupEnv: noEnv, Dynamic: []string{"rest.port=1", "novalue", "=x", " =y", "rest.address=ok"}})
	require.NotNil(t, c, "the configuration is usable")
	ps := problemsOf(t, err)
	require.Len(t, ps, 3)
	assert.Equal(t, `-D: "novalue" is not key=value`, ps[0].Error())
	assert.Equal(t, `-D: "=x" has an empty key: want key=value`, ps[1].Error())
	assert.Equal(t, 3, ps[1].Origin.Line)
	assert.Equal(t, `-D: " =y" has an empty key: want key=value`, ps[2].Error())
	assert.Equal(t, "ok", c.RESTAddress())
	assert.Equal(t, 1, c.RESTPort().First())
	assert.Equal(t, "a=b=c", mustValue(t, Options{LookupEnv: noEnv, Dynamic: []string{"x.y=a=b=c"}}, "x.y"), "the value may contain =")
}

func mustValue(t *testing.T, o Options, key string) string {
	t.Helper()
	c, err := Load(o)
	require.NoError(t, err)
	v, _, ok := c.Raw(key)
	require.True(t, ok)
	return v
}

func TestDeprecatedKeys(t *testing.T) {
	tests := []struct {
		old, value string
		opt        *Option
		check      func(*Config) any
		want       any
	}{
		{"high-availability", "zookeeper", HAType, func(c *Config) any { return c.HAMode() }, HAZooKeeper},
		{"recovery.mode", "zookeeper", HAType, func(c *Config) any { return c.HAMode() }, HAZooKeeper},
		{"recovery.zookeeper.quorum", "a:1", ZKQuorum, func(c *Config) any { return c.QuorumString() }, "a:1"},
		{"zookeeper.address", "a:1", ZKQuorum, func(c *Config) any { return c.QuorumString() }, "a:1"},
		{"recovery.zookeeper.path.root", "/r", ZKPathRoot, func(c *Config) any { return c.PathRoot() }, "/r"},
		{"zookeeper.path.root", "/r", ZKPathRoot, func(c *Config) any { return c.PathRoot() }, "/r"},
		{"high-availability.zookeeper.storageDir", "file:///s", HAStorageDir, func(c *Config) any { return c.StorageDir() }, "file:///s"},
		{"recovery.zookeeper.storageDir", "file:///s", HAStorageDir, func(c *Config) any { return c.StorageDir() }, "file:///s"},
		{"high-availability.storage-dir", "file:///s", HAStorageDir, func(c *Config) any { return c.StorageDir() }, "file:///s"},
		{"high-availability.zookeeper.path.namespace", "/ns", HAClusterID, func(c *Config) any { return c.ClusterID() }, "ns"},
		{"recovery.zookeeper.path.namespace", "/ns", HAClusterID, func(c *Config) any { return c.ClusterID() }, "ns"},
		{"zookeeper.cluster-id", "ns", HAClusterID, func(c *Config) any { return c.ClusterID() }, "ns"},
		{"recovery.zookeeper.client.session-timeout", "7000", ZKSessionTimeout, func(c *Config) any { return c.SessionTimeout() }, 7 * time.Second},
		{"recovery.zookeeper.client.connection-timeout", "7 s", ZKConnectionTimeout, func(c *Config) any { return c.ConnectionTimeout() }, 7 * time.Second},
		{"recovery.zookeeper.client.retry-wait", "7 s", ZKRetryWait, func(c *Config) any { return c.RetryWait() }, 7 * time.Second},
		{"zookeeper.retry-delay", "1000", ZKRetryWait, func(c *Config) any { return c.RetryWait() }, time.Second},
		{"recovery.zookeeper.client.max-retry-attempts", "9", ZKMaxRetryAttempts, func(c *Config) any { return c.MaxRetryAttempts() }, 9},
		{"zookeeper.retry-count", "9", ZKMaxRetryAttempts, func(c *Config) any { return c.MaxRetryAttempts() }, 9},
		{"recovery.zookeeper.client.acl", "creator", ZKACL, func(c *Config) any { return c.ACL() }, ACLCreator},
		{"recovery.jobmanager.port", "50010,50020-50025", HAJobManagerPort, func(c *Config) any { return c.JobManagerPort().String() }, "50010,50020-50025"},
		{"state.backend.fs.checkpointdir", "hdfs:///cp", StateCheckpointsDir, func(c *Config) any { return c.CheckpointsDir() }, "hdfs:///cp"},
	}
	for _, tc := range tests {
		t.Run(tc.old, func(t *testing.T) {
			extra := []string{}
			if tc.opt == ZKACL {
				extra = append(extra, "amkeeper.zookeeper.digest=u:p")
			}
			c, err, path := loadYAML(t, "rest.port: 1\n"+tc.old+": "+tc.value+"\n", extra...)
			if err != nil {
				// HA on without the rest of the HA settings: only those problems are expected.
				for _, p := range problemsOf(t, err) {
					assert.Contains(t, []string{ZKQuorum.Key(), HAStorageDir.Key()}, p.Key, p.Error())
				}
			}
			assert.Equal(t, tc.want, tc.check(c))
			ws := warningsAbout(c, tc.old)
			require.Len(t, ws, 1, warningText(c))
			assert.Equal(t, fmt.Sprintf("%s:2: %s: is deprecated: use %s", path, tc.old, tc.opt.Key()), ws[0].String())
			e := c.Entry(tc.opt)
			assert.True(t, e.Set)
			assert.Equal(t, fmt.Sprintf("%s:2 (as %s)", path, tc.old), e.Origin.String())
			// The new key wins over the old one, which is still reported, as ignored.
			c2, _, _ := loadYAML(t, tc.old+": "+tc.value+"\n"+tc.opt.Key()+": "+tc.opt.def+"\n", extra...)
			if tc.opt.def != "" {
				assert.Equal(t, tc.opt.def, c2.Entry(tc.opt).Value)
				ws = warningsAbout(c2, tc.old)
				require.Len(t, ws, 1, warningText(c2))
				assert.Contains(t, ws[0].Msg, "is deprecated and ignored: "+tc.opt.Key()+" is set at ")
				assert.Contains(t, ws[0].Msg, ":2; use "+tc.opt.Key())
			}
		})
	}
}

func TestDeprecatedPriorityAndLayers(t *testing.T) {
	// Among old names, the first listed wins; each old name still warns once.
	c, err, path := loadYAML(t, "zookeeper.path.root: /short\nrecovery.zookeeper.path.root: /recovery\n")
	require.NoError(t, err)
	assert.Equal(t, "/recovery", c.PathRoot())
	require.Len(t, warningsAbout(c, "zookeeper.path.root"), 1)
	assert.Equal(t, path+":1: zookeeper.path.root: is deprecated and ignored: recovery.zookeeper.path.root is set at "+path+":2; use high-availability.zookeeper.path.root",
		warningsAbout(c, "zookeeper.path.root")[0].String())
	require.Len(t, warningsAbout(c, "recovery.zookeeper.path.root"), 1)

	// A higher-precedence source wins even under an old name.
	c, err, _ = loadYAML(t, "high-availability.zookeeper.path.root: /file\n", "recovery.zookeeper.path.root=/dyn")
	require.NoError(t, err)
	assert.Equal(t, "/dyn", c.PathRoot())
	assert.Equal(t, "-D (as recovery.zookeeper.path.root)", c.Entry(ZKPathRoot).Origin.String())
	ws := warningsAbout(c, "recovery.zookeeper.path.root")
	require.Len(t, ws, 1)
	assert.Equal(t, "-D: recovery.zookeeper.path.root: is deprecated: use high-availability.zookeeper.path.root", ws[0].String())

	// A deprecated key set twice still warns once about deprecation (plus the duplicate).
	c = mustLoadYAML(t, "zookeeper.path.root: /a\nzookeeper.path.root: /b\n")
	assert.Equal(t, "/b", c.PathRoot())
	ws = warningsAbout(c, "zookeeper.path.root")
	require.Len(t, ws, 2, warningText(c))
	assert.Contains(t, ws[0].Msg+ws[1].Msg, "is set again")
}

func TestUnknownKeys(t *testing.T) {
	c, err, path := loadYAML(t, strings.Join([]string{
		"high-availability.zookeeper.qourum: zk:2181", // typo of a registered key
		"high-availability.storagedir: file:///x",     // wrong case
		"yarn.application-attempt: 3",                 // missing s
		"zookeeper.quorum: zk:2181",                   // last segment names one key
		"rest.prot: 8081",                             // transposition
		"recovery.zookeeper.qourum: zk:2181",          // typo of a deprecated name → the current key
		"jobmanager.rpc.adress: x",                    // typo of an ignored Flink key
		"amkeeper.something-else: 1",                  // nothing close
		"jobmanager.rpc.port: 6123",                   // known Flink key amkeeper does not use
		"parallelism.default: 4",                      // other prefix: silent
		"env.java.opts: -Xmx1g",                       // other prefix: silent
		"rest.prot: 8082",                             // reported once
	}, "\n")+"\n")
	require.NoError(t, err)
	want := map[string]string{
		"high-availability.zookeeper.qourum": "did you mean high-availability.zookeeper.quorum?",
		"high-availability.storagedir":       "did you mean high-availability.storageDir?",
		"yarn.application-attempt":           "did you mean yarn.application-attempts?",
		"zookeeper.quorum":                   "did you mean high-availability.zookeeper.quorum?",
		"rest.prot":                          "did you mean rest.port?",
		"recovery.zookeeper.qourum":          "did you mean high-availability.zookeeper.quorum?",
		"jobmanager.rpc.adress":              "did you mean jobmanager.rpc.address?",
		"amkeeper.something-else":            "is not a key amkeeper knows; it is ignored",
		"jobmanager.rpc.port":                "is a Flink key amkeeper recognises but does not use; it has no effect",
	}
	var got []string
	for _, w := range c.Warnings() {
		if strings.Contains(w.Msg, "is set again") {
			continue
		}
		got = append(got, w.Key)
		assert.Contains(t, w.Msg, want[w.Key], w.Key)
		assert.True(t, strings.HasPrefix(w.String(), path+":"), w.String())
	}
	assert.ElementsMatch(t, keysOf(want), got)
	v, _, ok := c.Raw("high-availability.zookeeper.qourum")
	assert.True(t, ok, "unknown keys stay readable")
	assert.Equal(t, "zk:2181", v)
	v, origin, ok := c.Raw("parallelism.default")
	assert.True(t, ok)
	assert.Equal(t, "4", v)
	assert.Equal(t, 10, origin.Line)

	// -D keys are checked too.
	c, err = Load(Options{LookupEnv: noEnv, Dynamic: []string{"rest.prot=1"}})
	require.NoError(t, err)
	require.Len(t, c.Warnings(), 1)
	assert.Equal(t, "-D: rest.prot: is not a key amkeeper knows; did you mean rest.port?", c.Warnings()[0].String())
}

func keysOf(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestClusterIDDefaults(t *testing.T) {
	c, err := Load(Options{LookupEnv: noEnv, ApplicationID: "application_1700000000000_0001"})
	require.NoError(t, err)
	assert.Equal(t, "application_1700000000000_0001", c.ClusterID())
	assert.Equal(t, "/flink/application_1700000000000_0001", c.ClusterPath())
	e := c.Entry(HAClusterID)
	assert.False(t, e.Set)
	assert.Equal(t, "default", e.Origin.String())

	c, err = Load(Options{LookupEnv: noEnv})
	require.NoError(t, err)
	assert.Equal(t, "/default", c.Entry(HAClusterID).Value)
	assert.Equal(t, "default", c.ClusterID())

	c = mustLoadYAML(t, "high-availability.cluster-id: /cluster_one/\nhigh-availability.zookeeper.path.root: flink/\n")
	assert.Equal(t, "cluster_one", c.ClusterID())
	assert.Equal(t, "/cluster_one/", c.String(HAClusterID), "the generic accessor keeps the value as written")
	assert.Equal(t, "/flink", c.PathRoot())
	assert.Equal(t, "/flink/cluster_one", c.ClusterPath())

	c = mustLoadYAML(t, "high-availability.zookeeper.path.root: /\nhigh-availability.cluster-id: a/b\n")
	assert.Equal(t, "/a/b", c.ClusterPath())
}

func TestApplicationAttemptsDefault(t *testing.T) {
	c := mustLoadYAML(t, "high-availability.type: zookeeper\nhigh-availability.zookeeper.quorum: zk\nhigh-availability.storageDir: file:///ha\n")
	assert.Equal(t, 2, c.ApplicationAttempts())
	assert.Equal(t, "2", c.Entry(YarnApplicationAttempts).Value)
	assert.False(t, c.IsSet(YarnApplicationAttempts))
	c = mustLoadYAML(t, "yarn.application-attempts: 5\n")
	assert.Equal(t, 5, c.ApplicationAttempts())
	c = mustLoadYAML(t, "")
	assert.Equal(t, 1, c.ApplicationAttempts())
}

func TestValidityIntervalMayBeZeroOrNegative(t *testing.T) {
	for in, want := range map[string]time.Duration{"0": 0, "-1": -time.Millisecond, "-1 s": -time.Second, "1 h": time.Hour} {
		c := mustLoadYAML(t, "yarn.application-attempt-failures-validity-interval: "+in+"\n")
		assert.Equal(t, want, c.AttemptFailuresValidityInterval(), in)
	}
}

func TestEntriesAndDisplay(t *testing.T) {
	c, err := Load(Options{LookupEnv: envOf(map[string]string{"AMKEEPER_ZK_DIGEST": "flink:s3cret"}), Dynamic: []string{"rest.port=9000"}})
	require.NoError(t, err)
	entries := c.Entries()
	require.Len(t, entries, len(Registry()))
	for i, o := range Registry() {
		assert.Same(t, o, entries[i].Option)
	}
	d := c.Entry(ZKDigest)
	assert.Equal(t, "flink:s3cret", d.Value)
	assert.Equal(t, "******", d.Display())
	assert.Equal(t, "flink:s3cret", c.Digest())
	assert.Equal(t, "9000", c.Entry(RESTPort).Display())
	assert.Empty(t, Entry{Option: ZKDigest}.Display())
}

func TestSecretNeverInProblemsOrWarnings(t *testing.T) {
	c, err := Load(Options{LookupEnv: envOf(map[string]string{"AMKEEPER_ZK_DIGEST": "nocolonsecret"})})
	require.NotNil(t, c)
	ps := problemsOf(t, err)
	require.Len(t, ps, 1)
	assert.Equal(t, `env AMKEEPER_ZK_DIGEST: amkeeper.zookeeper.digest: "******" is not valid: want user:password`, ps[0].Error())
	assert.NotContains(t, err.Error(), "nocolonsecret")
	assert.Empty(t, c.Digest(), "an invalid secret is not used")
}

func TestWith(t *testing.T) {
	base, err, path := loadYAML(t, "rest.address: a.example\nrest.port: 1\n", "rest.port=2")
	require.NoError(t, err)
	next, err := base.With("rest.port=3", "rest.address=b.example")
	require.NoError(t, err)
	assert.Equal(t, 3, next.RESTPort().First())
	assert.Equal(t, "b.example", next.RESTAddress())
	assert.Equal(t, []string{"rest.port=2", "rest.port=3", "rest.address=b.example"}, next.Dynamic())
	// The original is unchanged.
	assert.Equal(t, 2, base.RESTPort().First())
	assert.Equal(t, "a.example", base.RESTAddress())
	_, origin, _ := base.Raw("rest.address")
	assert.Equal(t, path+":1", origin.String())

	bad, err := base.With("heartbeat.timeout=1 s")
	require.NotNil(t, bad)
	ps := problemsOf(t, err)
	require.Len(t, ps, 1)
	assert.Equal(t, HeartbeatTimeout.Key(), ps[0].Key)
	assert.Equal(t, "-D", ps[0].Origin.String())
	assert.Equal(t, time.Second, bad.HeartbeatTimeout(), "a value that is only inconsistent with another is kept")
	bad, err = base.With("heartbeat.timeout=soon")
	require.Len(t, problemsOf(t, err), 1)
	assert.Equal(t, 50*time.Second, bad.HeartbeatTimeout(), "a value that does not parse falls back to its default")
}

func TestConfigIsSafeForConcurrentUse(t *testing.T) {
	c, err := Load(Options{Dir: "testdata/seed002", LookupEnv: noEnv})
	require.NoError(t, err)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.Entries()
			_ = c.Quorum()
			_ = c.Masters()
			_ = c.ZooCfg()
			_, _ = c.With("rest.port=1")
		}()
	}
	wg.Wait()
}

func TestMutatingResultsDoesNotChangeConfig(t *testing.T) {
	c, err := Load(Options{Dir: "testdata/seed002", LookupEnv: noEnv})
	require.NoError(t, err)
	c.Quorum()[0] = "changed"
	c.Masters()[0].Host = "changed"
	z := c.ZooCfg()
	z.Servers[0].Host = "changed"
	z.Other["x"] = "y"
	c.Warnings()[0].Msg = "changed"
	assert.Equal(t, "localhost:2181", c.Quorum()[0])
	assert.Equal(t, "localhost", c.Masters()[0].Host)
	assert.Equal(t, "localhost", c.ZooCfg().Servers[0].Host)
	assert.Empty(t, c.ZooCfg().Other)
	assert.NotEqual(t, "changed", c.Warnings()[0].Msg)
}

func TestGenericAccessorsOnOtherTypes(t *testing.T) {
	c := mustLoadYAML(t, "")
	assert.Zero(t, c.Int(HAType))
	assert.Zero(t, c.Duration(TaskManagerSlots))
	assert.False(t, c.Bool(RESTPort))
	assert.Zero(t, c.MemorySize(HeartbeatInterval))
	assert.Nil(t, c.Hosts(RESTAddress))
	assert.True(t, c.Ports(ZKQuorum).IsAny())
	assert.Equal(t, "10000 ms", c.String(HeartbeatInterval), "String gives the text of any option")
	assert.Equal(t, "1600m", c.String(JobManagerProcessSize))
}

func TestProblemAndOriginFormatting(t *testing.T) {
	p := Problem{Key: "high-availability.type", Value: "zk", Origin: Origin{Kind: OriginFile, File: "flink-conf.yaml", Line: 3},
		Msg: "is not valid: want NONE or zookeeper"}
	assert.Equal(t, `flink-conf.yaml:3: high-availability.type: "zk" is not valid: want NONE or zookeeper`, p.Error())
	assert.Equal(t, "/etc/flink/flink-conf.yaml:3 (as recovery.mode)",
		Origin{Kind: OriginFile, File: "/etc/flink/flink-conf.yaml", Line: 3, AsKey: "recovery.mode"}.String())
	assert.Equal(t, "env AMKEEPER_ZK_DIGEST", Origin{Kind: OriginEnv, Env: "AMKEEPER_ZK_DIGEST"}.String())
	assert.Equal(t, "-D", Origin{Kind: OriginDynamic, Line: 2}.String())
	assert.Equal(t, "default", Origin{}.String())
	assert.Equal(t, "masters", Origin{Kind: OriginFile, File: "masters"}.String())

	ve := &ValidationError{Problems: []Problem{p, {Origin: Origin{Kind: OriginDynamic}, Value: "x", Msg: "is not key=value"}}}
	assert.Equal(t, p.Error()+"\n"+`-D: "x" is not key=value`, ve.Error())
	var got Problem
	require.True(t, errors.As(ve, &got))
	assert.Equal(t, p, got)
	assert.Equal(t, "default: k: m", Warning{Key: "k", Msg: "m"}.String())
	assert.Equal(t, "-D: m", Warning{Origin: Origin{Kind: OriginDynamic}, Msg: "m"}.String())
}

// TestSecretDynamicItemsTravelInTheEnvironment: SplitSecretDynamic takes the
// items of secret keys (by current or deprecated name) out of the -D list, and
// Load applies them from EnvSecretDynamic after the -D items, so the child's
// configuration is the parent's.
func TestSecretDynamicItemsTravelInTheEnvironment(t *testing.T) {
	items := []string{"rest.port=1", "amkeeper.zookeeper.digest=u:p1", " amkeeper.zookeeper.digest = u:p2", "heartbeat.interval=2 s"}
	public, secret, err := SplitSecretDynamic(items)
	require.NoError(t, err)
	assert.Equal(t, []string{"rest.port=1", "heartbeat.interval=2 s"}, public)
	assert.Equal(t, []string{"amkeeper.zookeeper.digest=u:p1", " amkeeper.zookeeper.digest = u:p2"}, secret)

	env := map[string]string{EnvSecretDynamic: strings.Join(secret, "\n") + "\n"}
	c, err := Load(Options{Dynamic: public, LookupEnv: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	require.NoError(t, err)
	assert.Equal(t, "u:p2", c.Digest())
	assert.Equal(t, 1, c.RESTPort().First())

	_, _, err = SplitSecretDynamic([]string{"amkeeper.zookeeper.digest=u:p\nrest.port=2"})
	require.ErrorContains(t, err, "-D item 1 (amkeeper.zookeeper.digest): the value holds a line break")
	assert.NotContains(t, err.Error(), "u:p", "the error does not show the secret")
}
