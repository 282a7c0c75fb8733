package zktest

import (
	"errors"
	"path"
	"testing"

	"github.com/go-zookeeper/zk"
)

// TreeState is every node under (and including) top, as conn sees it, with the
// versions any write to the node, its children or its ACL changes (mzxid,
// cversion, aversion): two equal states mean nothing there was touched. A node
// conn may not list is recorded alone; one gone between listing and reading is
// left out.
func TreeState(t testing.TB, conn *zk.Conn, top string) map[string][3]int64 {
	t.Helper()
	out := map[string][3]int64{}
	queue := []string{top}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		ok, st, err := conn.Exists(p)
		if err != nil {
			t.Fatalf("zktest: tree state: %s: %v", p, err)
		}
		if !ok {
			continue
		}
		out[p] = [3]int64{st.Mzxid, int64(st.Cversion), int64(st.Aversion)}
		names, _, err := conn.Children(p)
		switch {
		case errors.Is(err, zk.ErrNoAuth), errors.Is(err, zk.ErrNoNode):
			continue
		case err != nil:
			t.Fatalf("zktest: tree state: children of %s: %v", p, err)
		}
		for _, n := range names {
			queue = append(queue, path.Join(p, n))
		}
	}
	return out
}
