package containers_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/containers"
)

func TestContainerIDRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		id   containers.ContainerID
		want string
	}{
		{containers.ContainerID{App: containers.AppID{ClusterTimestamp: 1700000000000, Seq: 7}, Attempt: 1, Seq: 2},
			"container_1700000000000_0007_01_000002"},
		{containers.ContainerID{App: containers.AppID{ClusterTimestamp: 1, Seq: 12345}, Attempt: 123, Seq: 1234567},
			"container_1_12345_123_1234567"},
	} {
		require.Equal(t, tc.want, tc.id.String())
		got, err := containers.ParseContainerID(tc.want)
		require.NoError(t, err)
		require.Equal(t, tc.id, got)
	}
}

func TestAppIDRoundTrip(t *testing.T) {
	app := containers.AppID{ClusterTimestamp: 1700000000000, Seq: 7}
	require.Equal(t, "application_1700000000000_0007", app.String())
	got, err := containers.ParseAppID(app.String())
	require.NoError(t, err)
	require.Equal(t, app, got)
}

func TestParseErrors(t *testing.T) {
	for in, msg := range map[string]string{
		"":                                     `does not start with "container_"`,
		"application_1_0001":                   `does not start with "container_"`,
		"container_1_0001_01":                  "has 3 number fields, not 4",
		"container_1_0001_01_000002_9":         "has 5 number fields, not 4",
		"container_1_0001_x1_000002":           `attempt "x1" is not a decimal number`,
		"container_1_0001_01_":                 `seq "" is not a decimal number`,
		"container_1_-001_01_000002":           `appSeq "-001" is not a decimal number`,
		"container_1_0001_00_000002":           "attempt is 0, must be at least 1",
		"container_99999999999999999999_1_1_1": "clusterTimestamp \"99999999999999999999\" is out of range",
		"container_1_99999999999_01_000002":    "appSeq or attempt out of range",
		"container_e17_1_0001_01_000002":       "epoch form",
	} {
		_, err := containers.ParseContainerID(in)
		require.ErrorIs(t, err, containers.ErrBadID, in)
		require.ErrorContains(t, err, msg, in)
		require.ErrorContains(t, err, "want container_<clusterTimestamp>_<appSeq>_<attempt>_<seq>", in)
	}
	_, err := containers.ParseAppID("application_1")
	require.ErrorIs(t, err, containers.ErrBadID)
	require.ErrorContains(t, err, "want application_<clusterTimestamp>_<seq>")
}

func TestMemLimit(t *testing.T) {
	const mib = 1 << 20
	for mem, want := range map[int64]int64{
		100 * mib:   50 * mib,  // headroom capped at half
		512 * mib:   448 * mib, // 64 MiB minimum
		4096 * mib:  4096*mib - 4096*mib/10,
		20480 * mib: 19456 * mib, // 1 GiB maximum
	} {
		require.Equal(t, want, containers.MemLimit(mem), "memory %d MiB", mem/mib)
	}
}

func ExampleParseContainerID() {
	id, err := containers.ParseContainerID("container_1700000000000_0007_02_000005")
	if err != nil {
		panic(err)
	}
	fmt.Println(id.App, id.Attempt, id.Seq)
	// Output: application_1700000000000_0007 2 5
}
