package recovery

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/hdfsstore"
)

// ErrNotFound: no state is stored under the key, or it is marked for deletion.
var ErrNotFound = errors.New("recovery: no such state")

// getAllParallelism bounds the reads GetAll keeps in flight at once.
const getAllParallelism = 128

// PointerStore keeps payloads in storage and a pointer to each under a key
// (Flink's StateHandleStore). Each backend implements it: ZooKeeper keeps
// <dir>/<key> with lock children <dir>/<key>/locks/<instance-uuid>; the embedded
// backend a small pointer file per key and in-process locks.
//
// Writes take a Guard and change nothing for a deposed leader (ErrNotLeader).
// Payloads are written before their pointer and deleted only after the pointer no
// longer names them. A store reads and deletes only its own payloads
// (PayloadPrefix, the key, a dash and a UUID: PointerStoreConfig.OwnPayload): a
// pointer naming any other file — written by anything with access to the
// backend — is refused by Get (ErrForeignPointer, also ErrCorruptState), and
// replacing or removing it removes the pointer and logs an error, never deleting
// the file.
//
// A key whose removal stopped half-way may be marked for deletion (ZooKeeper: its
// lock container is gone): it is invisible to Keys, Get and GetAll, and
// ReleaseAndTryRemove finishes removing it.
//
// Implementations are safe for concurrent use.
type PointerStore interface {
	// Put writes payload to storage and then adds key pointing to it, locked for
	// this instance, or replaces the pointer of an existing key (checking its
	// version) and deletes the old payload afterwards if it is the store's own.
	Put(ctx context.Context, g Guard, key string, payload []byte) error
	// Get reads and verifies the payload of key without locking it: ErrNotFound,
	// ErrDanglingPointer or ErrCorruptState (ErrForeignPointer among them) when
	// it cannot.
	Get(ctx context.Context, key string) ([]byte, error)
	// GetAndLock locks key for this instance, then reads it as Get does.
	GetAndLock(ctx context.Context, key string) ([]byte, error)
	// GetAll reads many keys with several reads in flight at once, locking each
	// first when lock is set. The result is in the order of keys.
	GetAll(ctx context.Context, keys []string, lock bool) []Entry
	// Keys lists the keys, sorted, excluding those marked for deletion.
	Keys(ctx context.Context) ([]string, error)
	// Names lists the keys, sorted, in one read: unlike Keys it includes those
	// marked for deletion. For callers that lock what they read (GetAll with
	// lock), which reports a marked key as ErrNotFound.
	Names(ctx context.Context) ([]string, error)
	// Release drops this instance's lock on key. A missing key or lock is fine.
	Release(ctx context.Context, key string) error
	// ReleaseAll drops every lock of this instance in the store.
	ReleaseAll(ctx context.Context) error
	// ReleaseAndTryRemove drops this instance's lock and, unless another instance
	// holds one (ErrLocked, nothing removed), removes key: it marks the key for
	// deletion, deletes the payload (only the store's own), then the pointer. A
	// missing key is fine.
	ReleaseAndTryRemove(ctx context.Context, g Guard, key string) error
	// Close releases local resources (not the locks: a backend's locks go with
	// its session or process). It is idempotent.
	Close() error
}

// Entry is the outcome of reading one key in GetAll.
type Entry struct {
	Key     string
	Payload []byte
	Err     error
}

// PointerStoreConfig configures a PointerStore.
type PointerStoreConfig struct {
	// Dir is the directory of the pointers, e.g. "/jobgraphs": a znode path below
	// the cluster's root, or the same path below the embedded directory.
	Dir string
	// Storage holds the payloads.
	Storage hdfsstore.Store
	// PayloadPrefix starts every payload name, e.g. "<cluster-id>/submittedJobGraph-";
	// the key, a dash and a random UUID follow.
	PayloadPrefix string
	// Instance identifies this process's locks.
	Instance uuid.UUID
	// Logger receives what cannot be returned (a payload left behind).
	Logger zerolog.Logger
}

// PayloadName returns a new payload name for key: PayloadPrefix, the key, a dash
// and a random UUID.
func (c PointerStoreConfig) PayloadName(key string) string {
	return c.PayloadPrefix + key + "-" + uuid.NewString()
}

// storagePrefix joins a cluster storage prefix and a payload kind.
func storagePrefix(cluster, kind string) string {
	if cluster == "" {
		return kind
	}
	return cluster + "/" + kind
}

// DirRemover is a PointerStore whose directory outlives its keys (a znode). The
// checkpoint store removes a terminal job's directory with it.
type DirRemover interface {
	// RemoveDir deletes the store's directory if it is empty; one that is gone or
	// still has keys stays as it is.
	RemoveDir(ctx context.Context, g Guard) error
}

// ValidateKey reports whether key can name a pointer: one component of
// [A-Za-z0-9._-], not "locks".
func ValidateKey(key string) error {
	if key == "" || key == "locks" || hdfsstore.ValidateName(key) != nil || strings.Contains(key, "/") {
		return fmt.Errorf("recovery: invalid key %q: want one component of [A-Za-z0-9._-]", key)
	}
	return nil
}

// DeletePayload removes a payload; one already gone is fine.
func DeletePayload(ctx context.Context, st hdfsstore.Store, name string) error {
	if err := st.Delete(ctx, name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("recovery: delete payload %s: %w", name, err)
	}
	return nil
}

// GetAll runs get for every key with at most 128 calls in flight and returns the
// outcomes in the order of keys: the way a PointerStore implements GetAll.
func GetAll(ctx context.Context, keys []string, get func(context.Context, string) ([]byte, error)) []Entry {
	out := make([]Entry, len(keys))
	sem := make(chan struct{}, getAllParallelism)
	var wg sync.WaitGroup
	for i, k := range keys {
		out[i].Key = k
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i].Payload, out[i].Err = get(ctx, k)
		}()
	}
	wg.Wait()
	return out
}
