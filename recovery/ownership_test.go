package recovery_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/recovery"
)

// TestOwnPayload: a store owns exactly the names PayloadName gives its key.
func TestOwnPayload(t *testing.T) {
	cfg := recovery.PointerStoreConfig{PayloadPrefix: "c1/state-"}
	const u = "6fcd9991-9ba1-408c-93bf-d0217518d972"
	require.NoError(t, cfg.OwnPayload("a", cfg.PayloadName("a")))
	require.NoError(t, cfg.OwnPayload("a", "c1/state-a-"+u))
	for _, name := range []string{
		"c1/state-a-b-" + u,            // key a-b's payload, not a's
		"c1/state-b-" + u,              // another key's
		"c1/other-a-" + u,              // another store's prefix
		"c2/state-a-" + u,              // another cluster's
		"out/part-job-2-0-3",           // another job's output
		"/c1/state-a-" + u,             // absolute
		"c1/state-a-" + u + "/../../x", // ../ past the prefix
		"c1/../c1/state-a-" + u,        // ../ before it
		"c1/state-a-" + "6FCD9991-9BA1-408C-93BF-D0217518D972", // not PayloadName's form
		"c1/state-a-",
		"",
	} {
		err := cfg.OwnPayload("a", name)
		require.ErrorIs(t, err, recovery.ErrForeignPointer, name)
		require.ErrorIs(t, err, recovery.ErrCorruptState, name)
	}
}
