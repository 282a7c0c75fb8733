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

// recoverParallelism bounds the reads GetAll keeps in flight at once.
const recoverParallelism = 128

// PointerStore keeps payloads in storage and a pointer to each under a key
// (Flink's StateHandleStore): in ZooKeeper <dir>/<key> with lock children
// <dir>/<key>/locks/<instance-uuid>, or in embedded mode a small pointer file per
// key and in-process locks.
//
// Writes take a Guard: in ZooKeeper mode they are one multi-op that also checks the
// guard, so a deposed leader changes nothing (ErrNotLeader). Payloads are written
// before their pointer and deleted only after the pointer no longer names them.
//
// A key whose lock container is gone is marked for deletion: it is invisible to
// Keys, Get and GetAll, and ReleaseAndTryRemove finishes removing it.
//
// Implementations are safe for concurrent use.
type PointerStore interface {
	// Put writes payload to storage and then adds key pointing to it, locked for
	// this instance, or replaces the pointer of an existing key (checking its
	// version) and deletes the old payload afterwards.
	Put(ctx context.Context, g Guard, key string, payload []byte) error
	// Get reads and verifies the payload of key without locking it: ErrNotFound,
	// ErrDanglingPointer or ErrCorruptState when it cannot.
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
	// deletion, deletes the payload, then the pointer. A missing key is fine.
	ReleaseAndTryRemove(ctx context.Context, g Guard, key string) error
	// Close releases local resources (not the locks; ZooKeeper's go with the
	// session). It is idempotent.
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
	// Dir is the znode directory of the pointers, e.g. "/jobgraphs"; in embedded
	// mode the same path, relative to the local directory, holds pointer files.
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

func (c PointerStoreConfig) payloadName(key string) string {
	return c.PayloadPrefix + key + "-" + uuid.NewString()
}

// storagePrefix joins a cluster storage prefix and a payload kind.
func storagePrefix(cluster, kind string) string {
	if cluster == "" {
		return kind
	}
	return cluster + "/" + kind
}

func validateKey(key string) error {
	if key == "" || key == "locks" || hdfsstore.ValidateName(key) != nil || strings.Contains(key, "/") {
		return fmt.Errorf("recovery: invalid key %q: want one component of [A-Za-z0-9._-]", key)
	}
	return nil
}

// readPointed decodes a pointer and reads its verified payload.
func readPointed(ctx context.Context, st hdfsstore.Store, key string, data []byte) ([]byte, error) {
	p, err := DecodePointer(data)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	b, err := ReadState(ctx, st, p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", key, err)
	}
	return b, nil
}

// deletePayload removes a payload; one already gone is fine.
func deletePayload(ctx context.Context, st hdfsstore.Store, name string) error {
	if err := st.Delete(ctx, name); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("recovery: delete payload %s: %w", name, err)
	}
	return nil
}

// getAll runs get for every key with at most recoverParallelism in flight.
func getAll(ctx context.Context, keys []string, get func(context.Context, string) ([]byte, error)) []Entry {
	out := make([]Entry, len(keys))
	sem := make(chan struct{}, recoverParallelism)
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
