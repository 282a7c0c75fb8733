package recovery

// Unexported names for this package's (external) tests.

type StorageJobResultStore = storageJobResultStore

var (
	NewJobResultStore = newJobResultStore
	CleanupStorage    = cleanupStorage
)
