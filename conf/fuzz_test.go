package conf

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// loadBytes is Load for a flink-conf.yaml held in memory, so fuzzing does not touch
// the disk.
func loadBytes(data []byte, dynamic ...string) (*Config, error) {
	const path = "flink-conf.yaml"
	entries, err := parseFlinkConf(path, data)
	if err != nil {
		return nil, err
	}
	return build(&sources{confPath: path, file: entries, dynamic: dynamic})
}

func FuzzLoadFlinkConf(f *testing.F) {
	for _, dir := range []string{"seed000", "seed001", "seed002", "mixed", "flat", "nested"} {
		data, err := os.ReadFile(filepath.Join("testdata", dir, FlinkConfFile))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		"", "~", "- a\n", "a: &a [1]\nb: *a\n", "k: v: w\n", "high-availability.type: zk\n",
		"high-availability: {type: zookeeper, zookeeper: {quorum: [a, 'b:1', '[::1]']}}\n",
		"amkeeper.zookeeper.digest: nocolon\nhigh-availability.zookeeper.client.acl: creator\n",
		"heartbeat.timeout: 1\nheartbeat.interval: 2\n", "rest.port: 0,1\n", "a:\n  <<: {b: 1}\n",
		"yarn.application-attempt-failures-validity-interval: -9223372036854775808 ns\n",
		"\"\": x\n", "? [a]\n: b\n", "a: !!binary aGVsbG8=\n", "%YAML 1.1\n---\na: 1\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := loadBytes(data)
		if c == nil {
			if err == nil {
				t.Fatal("nil config without an error")
			}
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("a nil config comes with a *SyntaxError, got %T: %v", err, err)
			}
			return
		}
		if err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) || len(ve.Problems) == 0 {
				t.Fatalf("a config comes with nil or a *ValidationError, got %T: %v", err, err)
			}
			secret := c.Digest()
			for _, p := range ve.Problems {
				if p.Error() == "" {
					t.Fatal("empty problem")
				}
				if len(secret) > 3 && strings.Contains(p.Error(), secret) {
					t.Fatalf("problem leaks the digest: %s", p.Error())
				}
			}
		}
		// Every accessor works on whatever was loaded.
		for _, e := range c.Entries() {
			_ = e.Display()
			_ = e.Origin.String()
			if e.Option.Secret() && e.Value != "" && e.Display() != "******" {
				t.Fatal("secret displayed")
			}
		}
		for _, w := range c.Warnings() {
			_ = w.String()
		}
		_ = c.HAMode()
		_ = c.Quorum()
		_ = c.ClusterPath()
		_ = c.JobManagerPort().Len()
		_, _ = c.CheckpointingInterval()
		_ = c.JobManagerProcessSize()
		if _, err := c.With("rest.port=1"); err != nil {
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("With: %v", err)
			}
		}
	})
}

func FuzzParsePortSpec(f *testing.F) {
	for _, s := range []string{"0", "50010", "50000-50025", "50010,50011,50020-50025", " 1 , 2-3 ", "7-7", "9,1-3,2",
		"65535", "65536", "5-1", "", ",", "0,1", "-", "1-", "00080", "1-65535", "a", "80 81"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePortSpec(s)
		if err != nil {
			if !strings.Contains(err.Error(), "port spec") {
				t.Fatalf("error does not say what it parsed: %v", err)
			}
			return
		}
		canon := p.String()
		q, err := ParsePortSpec(canon)
		if err != nil {
			t.Fatalf("canonical form %q of %q does not parse: %v", canon, s, err)
		}
		if q.String() != canon {
			t.Fatalf("canonical form is not stable: %q then %q", canon, q.String())
		}
		a, b := slices.Collect(p.Ports()), slices.Collect(q.Ports())
		if !slices.Equal(a, b) {
			t.Fatalf("%q and its canonical form %q give different ports", s, canon)
		}
		if len(a) == 0 || a[0] != p.First() || len(a) != p.Len() {
			t.Fatalf("%q: First/Len disagree with Ports", s)
		}
		for _, port := range a {
			if !p.Contains(port) || port < 0 || port > 65535 {
				t.Fatalf("%q: port %d", s, port)
			}
		}
	})
}
