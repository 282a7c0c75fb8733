package zkclient_test

import (
	"context"
	"path"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/integration/zktest"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

const (
	ourDigest   = "amkeeper:s3cret"
	theirDigest = "mallory:guess"
)

var ourACL = zk.DigestACL(zk.PermAll, "amkeeper", "s3cret")

// rawAs returns a go-zookeeper connection authenticated with digest (none when "").
func rawAs(t *testing.T, digest string) *zk.Conn {
	t.Helper()
	conn := zkc.Conn(t)
	if digest != "" {
		require.NoError(t, conn.AddAuth("digest", []byte(digest)))
	}
	return conn
}

// mkdirs creates each path (parents first) with acl.
func mkdirs(t *testing.T, conn *zk.Conn, acl []zk.ACL, paths ...string) {
	t.Helper()
	for _, p := range paths {
		_, err := conn.Create(p, nil, 0, acl)
		require.NoError(t, err, "create %s", p)
	}
}

// testBase returns a fresh node for one test, created world-writable (as "/" is)
// by the test itself.
func testBase(t *testing.T, conn *zk.Conn) string {
	t.Helper()
	base := zkc.Root(t)
	_, err := conn.Create(path.Dir(base), nil, 0, zk.WorldACL(zk.PermAll))
	if err != zk.ErrNodeExists {
		require.NoError(t, err)
	}
	mkdirs(t, conn, zk.WorldACL(zk.PermAll), base)
	return base
}

// connectCreator connects under acl creator with our digest, checking from from.
func connectCreator(t *testing.T, root, from string) (*zkclient.Client, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cl, err := zkclient.Connect(ctx, zkclient.Config{
		Servers: zkc.Addrs(), Root: root, ACLCheckFrom: from, ACL: zkclient.ACLCreator, Digest: ourDigest,
		SessionTimeout: 2 * time.Second, ConnectionTimeout: 5 * time.Second, RetryWait: 50 * time.Millisecond,
		Logger: logging.ForTest(t),
	})
	if err == nil {
		t.Cleanup(func() { cl.Close() })
	}
	return cl, err
}

// TestACLCreatorRefusesSquattedPath is the attack: another client (another
// digest) pre-created the cluster's path down to leader/latch world-writable, to
// list and delete the leader's latch node later. Connect refuses, names the first
// such node with its ACL and the fix, and changes nothing.
func TestACLCreatorRefusesSquattedPath(t *testing.T) {
	mallory := rawAs(t, theirDigest)
	base := testBase(t, mallory) // stands for the operator's "/": not checked
	mkdirs(t, mallory, zk.WorldACL(zk.PermAll), base+"/flink", base+"/flink/c", base+"/flink/c/leader", base+"/flink/c/leader/latch")
	before := zktest.TreeState(t, mallory, base)

	_, err := connectCreator(t, base+"/flink/c", base+"/flink")
	require.ErrorIs(t, err, zkclient.ErrOpenACL)
	var ae *zkclient.ACLError
	require.ErrorAs(t, err, &ae)
	var got []string
	for _, n := range ae.Nodes {
		got = append(got, n.Path)
		require.Equal(t, "world:anyone:cdrwa", zkclient.FormatACL(n.ACL), n.Path)
	}
	require.Equal(t, []string{base + "/flink", base + "/flink/c", base + "/flink/c/leader", base + "/flink/c/leader/latch"}, got)
	msg := err.Error()
	require.Contains(t, msg, "node "+base+"/flink has ACL world:anyone:cdrwa")
	require.Contains(t, msg, "addauth digest amkeeper:<password>")
	// /flink is above the chroot: fixed alone; the chroot recursively.
	require.Contains(t, msg, "setAcl "+base+"/flink auth::cdrwa, setAcl -R "+base+"/flink/c auth::cdrwa.")
	require.Contains(t, msg, "If not, remove what is below the cluster's node (deleteall "+base+"/flink/c) and start again")
	require.NotContains(t, msg, "deleteall "+base+"/flink)")
	require.NotContains(t, msg, "s3cret")

	require.Equal(t, before, zktest.TreeState(t, mallory, base), "the refused client touched nothing")
}

// TestACLCreatorRefusesOneOpenNodeAndTheFixWorks: the cluster's own nodes are
// amkeeper's, but leader/latch is world-writable (made by an AM running with acl
// open, or by anyone when the path was open): refused, naming that node only; the
// command the error gives makes it private, and then Connect succeeds.
func TestACLCreatorRefusesOneOpenNodeAndTheFixWorks(t *testing.T) {
	us := rawAs(t, ourDigest)
	base := testBase(t, us)
	mkdirs(t, us, ourACL, base+"/flink", base+"/flink/c", base+"/flink/c/leader")
	mkdirs(t, us, zk.WorldACL(zk.PermAll), base+"/flink/c/leader/latch")
	mkdirs(t, us, ourACL, base+"/flink/c/jobgraphs")

	_, err := connectCreator(t, base+"/flink/c", base+"/flink")
	var ae *zkclient.ACLError
	require.ErrorAs(t, err, &ae)
	require.Len(t, ae.Nodes, 1)
	require.Equal(t, base+"/flink/c/leader/latch", ae.Nodes[0].Path)
	require.Contains(t, err.Error(), "setAcl -R "+base+"/flink/c/leader/latch auth::cdrwa")

	// The fix, as zkCli would do it: addauth digest, setAcl -R … auth::cdrwa.
	_, err = us.SetACL(base+"/flink/c/leader/latch", zk.AuthACL(zk.PermAll), -1)
	require.NoError(t, err)
	_, err = connectCreator(t, base+"/flink/c", base+"/flink")
	require.NoError(t, err)
}

// TestACLCreatorRefusesAnotherUsersNode: a node under the cluster that only
// another identity may use (its ACL cannot even be read) is refused too.
func TestACLCreatorRefusesAnotherUsersNode(t *testing.T) {
	us := rawAs(t, ourDigest)
	base := testBase(t, us)
	mkdirs(t, us, ourACL, base+"/c", base+"/c/jobgraphs")
	mallory := rawAs(t, theirDigest)
	_, err := mallory.Create(base+"/c/jobgraphs/00aa", []byte("x"), 0, ourACL) // create needs only the parent's permission… which mallory lacks
	require.ErrorIs(t, err, zk.ErrNoAuth, "a private parent keeps others from adding nodes")
	// Before the parent was private, mallory made a node of its own.
	mkdirs(t, us, zk.WorldACL(zk.PermAll), base+"/c/jobs")
	mkdirs(t, mallory, zk.DigestACL(zk.PermAll, "mallory", "guess"), base+"/c/jobs/00bb")

	_, err = connectCreator(t, base+"/c", base+"/c")
	var ae *zkclient.ACLError
	require.ErrorAs(t, err, &ae)
	var got []string
	for _, n := range ae.Nodes {
		got = append(got, n.Path)
	}
	require.Equal(t, []string{base + "/c/jobs", base + "/c/jobs/00bb"}, got)
	require.Contains(t, err.Error(), "node "+base+"/c/jobs/00bb belongs to someone else")
	// The recursive fix for jobs covers 00bb: one command, not two.
	require.Contains(t, err.Error(), "then setAcl -R "+base+"/c/jobs auth::cdrwa. ")
}

// TestACLCreatorRefusesANodeItMayNotList: mallory leaves amkeeper only admin on
// the cluster's node (and itself read), with an open latch below it: what
// amkeeper may not list it cannot check, so the node is refused rather than
// taken as a leaf.
func TestACLCreatorRefusesANodeItMayNotList(t *testing.T) {
	us := rawAs(t, ourDigest)
	base := testBase(t, us)
	mkdirs(t, us, ourACL, base+"/c")
	mkdirs(t, us, zk.WorldACL(zk.PermAll), base+"/c/leader", base+"/c/leader/latch")
	user, pass, _ := strings.Cut(ourDigest, ":")
	adminOnly := append(zk.DigestACL(zk.PermAdmin, user, pass), zk.DigestACL(zk.PermRead, "mallory", "guess")...)
	_, err := us.SetACL(base+"/c", adminOnly, -1)
	require.NoError(t, err)

	_, err = connectCreator(t, base+"/c", base+"/c")
	var ae *zkclient.ACLError
	require.ErrorAs(t, err, &ae)
	require.Contains(t, err.Error(), "node "+base+"/c belongs to someone else (its children cannot be listed: zk: not authenticated)")
}

// TestACLCreatorAcceptsPrecreatedPrivateNodes: nodes another process of ours
// created (same digest), also readable by others, are fine; the operator's nodes
// above path.root are not checked.
func TestACLCreatorAcceptsPrecreatedPrivateNodes(t *testing.T) {
	us := rawAs(t, ourDigest)
	base := testBase(t, us)
	mkdirs(t, us, zk.WorldACL(zk.PermAll), base+"/apps")
	readable := append(slices.Clone(ourACL), zk.WorldACL(zk.PermRead)...)
	mkdirs(t, us, readable, base+"/apps/flink", base+"/apps/flink/c")
	mkdirs(t, us, ourACL, base+"/apps/flink/c/leader")

	_, err := connectCreator(t, base+"/apps/flink/c", base+"/apps/flink")
	require.NoError(t, err)
}

// TestACLCreatorNodesArePrivateFromTheStart: every node amkeeper creates — the
// chroot's path, EnsurePath's parents, Create, a Multi's creates — carries
// exactly the creator ACL (it is created with it: there is no setAcl after).
func TestACLCreatorNodesArePrivateFromTheStart(t *testing.T) {
	us := rawAs(t, ourDigest)
	base := testBase(t, us)
	cl, err := connectCreator(t, base+"/flink/c", base+"/flink")
	require.NoError(t, err)
	ctx := ctxT(t)
	require.NoError(t, cl.EnsurePath(ctx, "/leader/latch"))
	_, err = cl.Create(ctx, "/leader/latch/latch-", nil, zk.FlagEphemeral|zk.FlagSequence)
	require.NoError(t, err)
	_, err = cl.Multi(ctx, zkclient.CreateOp{Path: "/jobgraphs"}, zkclient.CreateOp{Path: "/jobgraphs/00aa", Data: []byte("p")})
	require.NoError(t, err)

	state := zktest.TreeState(t, us, base+"/flink")
	require.Len(t, state, 7)
	for p := range state {
		acl, st, err := us.GetACL(p)
		require.NoError(t, err)
		require.Equal(t, ourACL, acl, p)
		require.Zero(t, st.Aversion, "%s: its ACL was never changed after creation", p)
	}
}

// TestACLCreatorChecksNodesCreatedMeanwhile: a node on the way that appeared
// after the check at Connect (someone else created it in between) is checked
// before anything is created under it.
func TestACLCreatorChecksNodesCreatedMeanwhile(t *testing.T) {
	us := rawAs(t, ourDigest)
	base := testBase(t, us)
	cl, err := connectCreator(t, base+"/flink/c", base+"/flink")
	require.NoError(t, err)
	// Replay Connect's race: base/flink was missing when checked, and mallory
	// creates it before Connect creates it.
	require.NoError(t, us.Delete(base+"/flink/c", -1))
	require.NoError(t, us.Delete(base+"/flink", -1))
	mallory := rawAs(t, theirDigest)
	mkdirs(t, mallory, zk.WorldACL(zk.PermAll), base+"/flink")

	err = cl.EnsureAbsRechecking(ctxT(t), base+"/flink/c")
	require.ErrorIs(t, err, zkclient.ErrOpenACL)
	require.Contains(t, err.Error(), "node "+base+"/flink has ACL world:anyone:cdrwa")
	ok, _, err := us.Exists(base + "/flink/c")
	require.NoError(t, err)
	require.False(t, ok, "nothing created under it")
}

// TestACLOpenDoesNotCheck: with acl open (Flink's default) nothing is private and
// pre-created nodes are used as they are.
func TestACLOpenDoesNotCheck(t *testing.T) {
	mallory := rawAs(t, theirDigest)
	base := testBase(t, mallory)
	mkdirs(t, mallory, zk.WorldACL(zk.PermAll), base+"/c")
	connect(t, zkc, base+"/c")
}
