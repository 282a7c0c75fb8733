package zkserver

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseModeDebianBanner(t *testing.T) {
	answer := "Zookeeper version: 3.8.0-${mvngit.commit.id}, built on 2024-12-29 17:54 UTC\n" +
		"Latency min/avg/max: 0/0.0/0\nReceived: 8\nSent: 7\nConnections: 1\nOutstanding: 0\n" +
		"Zxid: 0x0\nMode: follower\nNode count: 5\n"
	mode, err := parseMode(answer)
	require.NoError(t, err)
	assert.Equal(t, "follower", mode)

	_, err = parseMode("This ZooKeeper instance is not currently serving requests\n")
	assert.ErrorIs(t, err, ErrNotServing)

	_, err = parseMode("")
	assert.Error(t, err)
}
