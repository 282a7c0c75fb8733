package conf

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func collect(p PortSpec) []int { return slices.Collect(p.Ports()) }

func TestParsePortSpec(t *testing.T) {
	valid := []struct {
		in    string
		canon string
		ports []int
	}{
		{"0", "0", []int{0}},
		{" 0 ", "0", []int{0}},
		{"00", "0", []int{0}},
		{"50010", "50010", []int{50010}},
		{"50000-50003", "50000-50003", []int{50000, 50001, 50002, 50003}},
		{"50010,50011,50020-50022", "50010,50011,50020-50022", []int{50010, 50011, 50020, 50021, 50022}},
		{" 50010 , 50020 - 50021 ", "50010,50020-50021", []int{50010, 50020, 50021}},
		{"7-7", "7", []int{7}},
		{"050010", "50010", []int{50010}},
		{"9,1-3,2", "9,1-3,2", []int{9, 1, 2, 3}}, // order kept, each port once
		{"65535", "65535", []int{65535}},
		{"1", "1", []int{1}},
	}
	for _, tc := range valid {
		t.Run(tc.in, func(t *testing.T) {
			p, err := ParsePortSpec(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.canon, p.String())
			assert.Equal(t, tc.ports, collect(p))
			assert.Equal(t, tc.ports[0], p.First())
			assert.Equal(t, len(tc.ports), p.Len())
			for _, port := range tc.ports {
				assert.True(t, p.Contains(port))
			}
			again, err := ParsePortSpec(p.String())
			require.NoError(t, err)
			assert.Equal(t, tc.ports, collect(again))
		})
	}

	invalid := []struct{ in, msg string }{
		{"", "empty"},
		{"50025-50000", `entry "50025-50000": the range is reversed`},
		{"70000", `entry "70000": port is above 65535`},
		{"1-70000", "above 65535"},
		{"99999999999999999999", "above 65535"},
		{"abc", `entry "abc": not a number`},
		{"50010,,50011", "empty entry"},
		{"50010,", "empty entry"},
		{"-5", "a port is missing"},
		{"5-", "a port is missing"},
		{"1-2-3", "not a number"},
		{"0,50010", "port 0 (any free port) must stand alone"},
		{"0-10", "must stand alone"},
		{"+80", "not a number"},
		{"80 81", "not a number"},
	}
	for _, tc := range invalid {
		t.Run("bad "+tc.in, func(t *testing.T) {
			_, err := ParsePortSpec(tc.in)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.msg)
			assert.Contains(t, err.Error(), `"`+tc.in+`"`, "the error names the value")
		})
	}
}

func TestPortSpecZeroValueIsAnyPort(t *testing.T) {
	var p PortSpec
	assert.True(t, p.IsAny())
	assert.Equal(t, "0", p.String())
	assert.Equal(t, []int{0}, collect(p))
	assert.True(t, p.Contains(12345))
	assert.False(t, p.Contains(70000))
}

func TestPortSpecStopsIterationEarly(t *testing.T) {
	p, err := ParsePortSpec("1-65535")
	require.NoError(t, err)
	var got []int
	for port := range p.Ports() {
		got = append(got, port)
		if len(got) == 3 {
			break
		}
	}
	assert.Equal(t, []int{1, 2, 3}, got)
	assert.False(t, p.Contains(0))
}

func TestParseHostList(t *testing.T) {
	valid := []struct {
		in   string
		want []string
	}{
		{"localhost:2181", []string{"localhost:2181"}},
		{"zk1", []string{"zk1:2181"}},
		{"zk1.example.com:2181,zk2.example.com:2182, zk3.example.com ", []string{"zk1.example.com:2181", "zk2.example.com:2182", "zk3.example.com:2181"}},
		{"[::1]:2181", []string{"[::1]:2181"}},
		{"[fe80::1%eth0]", []string{"[fe80::1%eth0]:2181"}},
		{"10.0.0.1:3000,[2001:db8::7]", []string{"10.0.0.1:3000", "[2001:db8::7]:2181"}},
		{"zk_1:65535", []string{"zk_1:65535"}},
	}
	for _, tc := range valid {
		got, err := parseHostList(tc.in, defaultZKPort)
		require.NoError(t, err, tc.in)
		assert.Equal(t, tc.want, got, tc.in)
	}
	invalid := []struct{ in, msg string }{
		{"zk1:2181/flink", `chroot suffix "/flink" in entry "zk1:2181/flink"`},
		{"zk1:2181,zk2:2181/flink", "high-availability.zookeeper.path.root"},
		{"zk1:abc", `entry "zk1:abc": port "abc" is not a number`},
		{"zk1:0", "port 0 is out of range 1..65535"},
		{"zk1:70000", "port 70000 is out of range 1..65535"},
		{":2181", `entry ":2181": the host is empty`},
		{"zk1:", "the port is empty"},
		{"zk1,,zk2", "empty entry"},
		{"::1", "IPv6 address needs brackets"},
		{"[::1", "missing ]"},
		{"[nothost]:2181", "not an IP address"},
		{"[::1]x", "unexpected"},
		{"zk 1:2181", "not valid in a host name"},
	}
	for _, tc := range invalid {
		_, err := parseHostList(tc.in, defaultZKPort)
		require.Error(t, err, tc.in)
		assert.Contains(t, err.Error(), tc.msg, tc.in)
	}
}

func TestCheckStorageURI(t *testing.T) {
	for _, ok := range []string{"hdfs:///flink/recovery", "hdfs://namenode:8020/flink", "file:///tmp/x", "file:/tmp/x",
		"file://localhost/tmp/x", "HDFS:///x", "file:///"} {
		assert.Empty(t, checkStorageURI(ok), ok)
	}
	bad := []struct{ in, msg string }{
		{"/tmp/x", "use file:///tmp/x"},
		{"tmp/x", "has no scheme"},
		{"s3://bucket/x", `has scheme "s3"`},
		{"file://tmp/x", "use file:///tmp/x (three slashes)"},
		{"file:tmp/x", "is not absolute"},
		{"hdfs:x", "is not absolute"},
		{"file://", "has no path"},
		{"file:///x?y=1", "query"},
		{"http://[::1", "is not a URI"},
	}
	for _, tc := range bad {
		assert.Contains(t, checkStorageURI(tc.in), tc.msg, tc.in)
	}
}
