package recovery

import (
	"context"
	"fmt"

	"github.com/amkeeper/amkeeper/hdfsstore"
)

// cleanupStorage removes every file the cluster keeps in storage under clusterPath —
// job graphs, checkpoint metadata, job results, leftover temporaries, anything else
// under it — and the cluster's directory itself. Other clusters' files in the same
// storage directory stay. Nothing to remove is not an error; it is safe to repeat
// after a failure.
//
// It is the storage half of Services.CloseAndCleanupAllData. The backend's half —
// removing the cluster's pointers — runs first: then a crash in between leaves
// orphan files, never a pointer to a deleted file. It takes no Guard; the caller
// makes sure the cluster is finished (no leader will write again).
func cleanupStorage(ctx context.Context, st hdfsstore.Store, clusterPath string) error {
	if err := hdfsstore.ValidateName(clusterPath); err != nil {
		return fmt.Errorf("recovery: clean up storage: cluster path: %w", err)
	}
	if err := hdfsstore.RemoveAll(ctx, st, clusterPath+"/"); err != nil {
		return fmt.Errorf("recovery: clean up storage of %s: %w", clusterPath, err)
	}
	return nil
}
