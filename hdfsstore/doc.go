// Package hdfsstore keeps the state that ZooKeeper points to: job graphs,
// checkpoint metadata, task state, blobs, job results. ZooKeeper holds only a pointer
// (a name and a checksum); the bytes live in a storage directory behind the small
// Store interface, chosen by the scheme of high-availability.storageDir:
//
//	file:///absolute/path   a local or mounted file system (this package, now)
//	hdfs://namenode:port/…  HDFS through github.com/colinmarc/hdfs/v2 (see Open)
//
// Names are relative slash-separated paths such as
// "<cluster-id>/jobgraphs/submittedJobGraph-abc"; see ValidateName.
//
// # What a Store guarantees
//
//   - Atomic publish. Put writes a temporary file (TempPrefix and a random suffix)
//     in the directory of the final name and renames it over that name only once
//     it is complete. Readers, in this process or another, see the old content or
//     the new one, never a mix or a prefix. A Put that fails (its reader fails,
//     its context is cancelled, the disk is full) removes its temporary and leaves
//     the old content as it was.
//   - Durability. When Put returns nil, the file was fsynced before the rename and
//     its directory after it (and every directory Put created, in its parent), so
//     the object survives a crash of the process and of the machine. Delete and
//     RemoveAll sync the directory they changed.
//   - Checksums. Every object ends with a trailer recording the payload's length and
//     CRC32C (Castagnoli). Get checks the trailer when it opens the object and the
//     length and checksum as the payload streams by: instead of io.EOF, the reader
//     returns a *ChecksumError (matching ErrCorrupt) for a payload that does not
//     match. An object without a valid trailer — truncated, overwritten in place,
//     not written by this package — is always ErrCorrupt, never returned as data.
//   - Errors. A missing name matches fs.ErrNotExist on every method and backend.
//   - Concurrency. A Store is safe for concurrent use; see Store.
//
// # What it does not guarantee
//
//   - No locking between processes. Two writers of the same name (an old attempt
//     that has not died yet and a new one) both succeed, and the last rename wins.
//     Fencing is the caller's job: write the payload here first, then publish the
//     pointer in ZooKeeper under the leader session check.
//   - No cleanup of a crashed writer's temporaries. A process killed inside Put
//     leaves its temporary behind: List and Get never see it, and RemoveAll of a
//     directory prefix removes it. Nothing else does, because a temporary may belong
//     to a Put that is still running in another process.
//   - Stat and List do not read payloads: Stat reports what the trailer records,
//     List what the directory holds (corrupt objects included). Only Get verifies.
//   - A Get reader is verified only at the end: bytes read before io.EOF may still
//     turn out corrupt. Trust nothing until the reader returns io.EOF.
//   - No protection against tampering: CRC32C detects accidents, not attacks.
//   - Delete leaves empty directories; names are never directories.
//
// # Object format
//
// The same on every backend, so that HDFS, whose files are append-only, needs no
// seek back to fill in a header: the payload as given, then a 28-byte trailer,
// big-endian:
//
//	offset size field
//	     0    8 payload length in bytes
//	     8    4 CRC32C (Castagnoli) of the payload
//	    12    4 format version, 1
//	    16    4 CRC32C of trailer bytes 0..15
//	    20    8 magic "AMKSTORE"
//
// A file is a valid object only if it ends with the magic, the trailer's own
// checksum matches, the version is known and the file is exactly payload length +
// 28 bytes long. In the file:// backend objects are files of mode 0600 and
// directories have mode 0700.
//
// # The hdfs:// backend
//
// One github.com/colinmarc/hdfs/v2 client per Store, closed exactly once by Close
// (after the operations in flight). Put makes the directories (MkdirAll, 0700),
// writes a temporary (0600) with the same trailer, closes it — retrying with a
// doubling backoff, up to 8 times, while the namenode answers that the last block is
// not yet replicated — and renames it over the final name. "Durable" there means
// what a completed HDFS file means: the namenode recorded it, its blocks minimally
// replicated; there is no hsync and no directory sync. A failed Put removes its
// temporary. The namenode connection is not re-dialled early: after a namenode
// restart the client waits out its own backoff (about five seconds) before calls
// succeed again. Only simple authentication: no Kerberos, no wire encryption.
// A block write that the datanode breaks off (a dropped connection, an error
// acknowledgement) fails the Put as it should, but leaves one parked goroutine of
// the client library behind: its acknowledgement loop waits on a channel the
// library closes only when a block finishes cleanly, and no call reaches it
// afterwards. It holds a few kilobytes; a process that fails very many writes
// accumulates them.
//
// Optional capabilities are separate interfaces found by type assertion: Remover
// (RemoveAll of a prefix), used through the RemoveAll function, and Plain (plain
// objects: the payload with no trailer, for files people read with ordinary tools;
// the caller keeps the size and checksum PutPlain returns and GetPlain checks them),
// used through PutPlainBytes and GetPlainBytes. The conformance
// suite every backend must pass is in hdfsstore/storetest.
package hdfsstore
