package zkserver_test

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/internal/zkserver"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

// TestStartSASLDigestServer: a server started from zoo.cfg with WriteSASLDigest's
// lines and JVM flags (what `yarn-session zookeeper start` does with
// SERVER_JVMFLAGS) lets a DIGEST-MD5 client in and refuses requests from a
// client without credentials; the JAAS file is private.
func TestStartSASLDigestServer(t *testing.T) {
	dir := t.TempDir()
	srv, err := zkserver.WriteSASLDigest(dir, map[string]string{"bob": "bob-secret"}, true)
	require.NoError(t, err)
	fi, err := os.Stat(srv.JAASFile)
	require.NoError(t, err)
	require.Equal(t, "-rw-------", fi.Mode().Perm().String())
	require.Equal(t, []string{"-Djava.security.auth.login.config=" + srv.JAASFile}, srv.JVMFlags)

	lines := append([]string{"tickTime=500", "clientPort=0"}, srv.ZooCfg...)
	res, _ := start(t, writeZooCfg(t, lines...), zkserver.Options{JVMFlags: srv.JVMFlags})

	plain := connect(t, res.ConnectString())
	_, _, err = plain.Get("/")
	require.Error(t, err, "a client without SASL is refused")

	conn, events, err := zk.Connect(strings.Split(res.ConnectString(), ","), 10*time.Second, zk.WithLogInfo(false),
		zk.WithDialer(zkclient.SASLDialer(nil, zkclient.DigestMD5{User: "bob", Password: "bob-secret"})))
	require.NoError(t, err)
	defer conn.Close()
	deadline := time.After(waitFor)
	for session := false; !session; {
		select {
		case ev := <-events:
			session = ev.State == zk.StateHasSession
		case <-deadline:
			t.Fatal("no SASL session")
		}
	}
	_, err = conn.Create("/bobs", nil, 0, zk.WorldACL(zk.PermAll))
	require.NoError(t, err)
}
