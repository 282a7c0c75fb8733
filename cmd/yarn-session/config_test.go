package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// run executes the CLI in-process and returns stdout and the exit code main
// would use.
func run(t *testing.T, args ...string) (string, int) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := newApp(&out, &errOut).RunContext(context.Background(), append([]string{"yarn-session"}, args...))
	code := 0
	if err != nil {
		code = exitCode(err)
		errOut.WriteString(err.Error())
	}
	t.Logf("stdout:\n%s\nstderr:\n%s", out.String(), errOut.String())
	return out.String(), code
}

// effective returns the VALUE and ORIGIN columns of key in config's table.
func effective(t *testing.T, out, key string) (string, string) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(key) + `\s+(\S+)\s+(.+)$`).FindStringSubmatch(out)
	require.NotNil(t, m, "key %s not listed", key)
	return m[1], strings.TrimSpace(m[2])
}

// TestConfigSeedsMixed reads one flink-conf.yaml holding every seed's snippet
// (current keys, recovery.* keys and the short forms) and checks the effective HA
// settings are the ones Flink would use: the current key wins over deprecated ones.
func TestConfigSeedsMixed(t *testing.T) {
	out, code := run(t, "--conf-dir", "testdata/seeds", "config")
	require.Equal(t, 0, code)

	want := map[string]string{
		"high-availability.type":                                "zookeeper",
		"high-availability.zookeeper.quorum":                    "localhost:2181",
		"high-availability.zookeeper.path.root":                 "/flink",
		"high-availability.cluster-id":                          "/cluster_one",
		"high-availability.storageDir":                          "hdfs:///flink/recovery",
		"high-availability.zookeeper.client.retry-wait":         "1000",
		"high-availability.zookeeper.client.max-retry-attempts": "5",
		"state.checkpoints.dir":                                 "hdfs:///flink/checkpoints",
		"yarn.application-attempts":                             "2",
	}
	for k, v := range want {
		got, _ := effective(t, out, k)
		require.Equal(t, v, got, k)
	}
	_, origin := effective(t, out, "high-availability.zookeeper.client.retry-wait")
	require.Contains(t, origin, "flink-conf.yaml:7 (as zookeeper.retry-delay)")
	_, origin = effective(t, out, "high-availability.cluster-id")
	require.Contains(t, origin, "flink-conf.yaml:19")

	// One warning per deprecated key, each naming its replacement.
	deprecated := map[string]string{
		"high-availability":              "high-availability.type",
		"high-availability.storage-dir":  "high-availability.storageDir",
		"zookeeper.cluster-id":           "high-availability.cluster-id",
		"zookeeper.address":              "high-availability.zookeeper.quorum",
		"zookeeper.path.root":            "high-availability.zookeeper.path.root",
		"zookeeper.retry-delay":          "high-availability.zookeeper.client.retry-wait",
		"zookeeper.retry-count":          "high-availability.zookeeper.client.max-retry-attempts",
		"recovery.mode":                  "high-availability.type",
		"recovery.zookeeper.quorum":      "high-availability.zookeeper.quorum",
		"recovery.zookeeper.path.root":   "high-availability.zookeeper.path.root",
		"state.backend.fs.checkpointdir": "state.checkpoints.dir",
		"recovery.zookeeper.storageDir":  "high-availability.storageDir",
	}
	require.Contains(t, out, "Warnings (12):")
	for old, repl := range deprecated {
		re := regexp.MustCompile(`(?m)^  \S+flink-conf\.yaml:\d+: ` + regexp.QuoteMeta(old) + `: .*deprecated.*use ` + regexp.QuoteMeta(repl) + `$`)
		require.Len(t, re.FindAllString(out, -1), 1, "exactly one warning for %s", old)
	}
}

func TestConfigDynamicPropertiesWinAndOrder(t *testing.T) {
	out, code := run(t, "--conf-dir", "testdata/seeds", "-D", "high-availability.cluster-id=before",
		"config", "-D", "high-availability.cluster-id=after")
	require.Equal(t, 0, code)
	v, origin := effective(t, out, "high-availability.cluster-id")
	require.Equal(t, "after", v)
	require.Equal(t, "-D", origin)
}

func TestConfigInvalidExitsNonZeroNamingKeyAndOrigin(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "flink-conf.yaml"),
		[]byte("high-availability.type: zk\nhigh-availability.storageDir: /no/scheme\n"), 0o600))
	out, code := run(t, "--conf-dir", dir, "config", "-D", "yarn.application-attempts=0")
	require.Equal(t, exitInvalidConf, code)
	require.Contains(t, out, "Errors (3):")
	require.Regexp(t, `flink-conf\.yaml:1: high-availability\.type: "zk" is not valid: want NONE or zookeeper`, out)
	require.Regexp(t, `flink-conf\.yaml:2: high-availability\.storageDir: "/no/scheme" .*file:///no/scheme`, out)
	require.Regexp(t, `-D: yarn\.application-attempts: "0" .*1 or more`, out)
}

func TestConfigMissingDirectory(t *testing.T) {
	_, code := run(t, "--conf-dir", filepath.Join(t.TempDir(), "nope"), "config")
	require.Equal(t, exitInvalidConf, code)
}

func TestConfigEnvConfDir(t *testing.T) {
	t.Setenv(envConfDir, "testdata/seeds")
	out, code := run(t, "config")
	require.Equal(t, 0, code)
	v, _ := effective(t, out, "high-availability.type")
	require.Equal(t, "zookeeper", v)
}

func TestBadFlagIsAUsageError(t *testing.T) {
	_, code := run(t, "config", "--no-such-flag")
	require.NotEqual(t, 0, code)
}

func TestConfigNeverPrintsTheDigestSecret(t *testing.T) {
	out, code := run(t, "--conf-dir", "testdata/seeds", "config", "-D", "amkeeper.zookeeper.digest=alice:hunter2")
	require.Equal(t, 0, code)
	require.NotContains(t, out, "hunter2")
	v, origin := effective(t, out, "amkeeper.zookeeper.digest")
	require.NotEqual(t, "(unset)", v)
	require.Equal(t, "-D", origin)
}

func TestBadLogLevelIsAUsageError(t *testing.T) {
	_, code := run(t, "--log-level", "loud", "config")
	require.Equal(t, exitUsage, code)
}

func TestSessionBadFlagsAreUsageErrors(t *testing.T) {
	t.Setenv("AMKEEPER_HOME", t.TempDir())
	out, code := run(t, "-n", "0")
	require.Equal(t, exitUsage, code, out)
	_, code = run(t, "-tm", "lots")
	require.Equal(t, exitUsage, code)
	_, code = run(t, "-s", "-1")
	require.Equal(t, exitUsage, code)
	_, code = run(t, "status", "-id", "application_1_0001")
	require.Equal(t, exitNoSuchApp, code, "no such session")
}

// TestConfigWarnsAboutKeysNotHonoured: config names each set security key amkeeper
// does not act on yet, without its value, and lists every such key with why.
func TestConfigWarnsAboutKeysNotHonoured(t *testing.T) {
	out, code := run(t, "config", "-D", "high-availability.zookeeper.client.authorization=ip:127.0.0.1", "-D", "security.ssl.rest.keystore-password=hunter2")
	require.Equal(t, 0, code)
	require.Contains(t, out, "Warnings (2):")
	require.Contains(t, out, "-D: high-availability.zookeeper.client.authorization: is recognised but not honoured yet (extra authorization schemes are not sent")
	require.Contains(t, out, "-D: security.ssl.rest.keystore-password: is not used: amkeeper reads PEM stores with unencrypted keys only")
	require.NotContains(t, out, "hunter2")
	require.Contains(t, out, "Recognised but not honoured yet")
	require.Regexp(t, `(?m)^  high-availability\.zookeeper\.client\.authorization: extra authorization schemes are not sent`, out)
}

// TestDynamicPropertyKeepsItsCommas: a -D value with commas (a port list, a
// quorum) is one property, not split into several.
func TestDynamicPropertyKeepsItsCommas(t *testing.T) {
	out, code := run(t, "-D", "high-availability.jobmanager.port=50010,50011,50020-50025",
		"-D", "high-availability.zookeeper.quorum=zk1:2181,zk2:2181", "config")
	require.Equal(t, 0, code)
	got, _ := effective(t, out, "high-availability.jobmanager.port")
	require.Equal(t, "50010,50011,50020-50025", got)
	got, _ = effective(t, out, "high-availability.zookeeper.quorum")
	require.Equal(t, "zk1:2181,zk2:2181", got)
}
