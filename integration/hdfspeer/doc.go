// Package hdfspeer runs an in-process HDFS namenode and datanode for tests: a test
// fixture that proves our code against the real client (the unmodified
// github.com/colinmarc/hdfs/v2) and the real wire format, not against HDFS
// semantics. No Apache Hadoop is needed or used.
//
//	peer := hdfspeer.Start(t)                 // stopped when the test ends
//	s, err := hdfsstore.Open(ctx, peer.URI("/flink/recovery"))
//
// Outside a test (amkeeper-bench faults) New starts one and the caller closes it.
//
// # What it speaks
//
//   - Hadoop IPC version 9, simple authentication (the connection context's effective
//     user becomes the owner of what it creates), one call at a time per connection,
//     the ClientNamenodeProtocol methods getFileInfo, getServerDefaults, create,
//     addBlock, updateBlockForPipeline, complete, getBlockLocations, rename2, delete,
//     mkdirs, getListing (pages of 100) and renewLease. Any other method is answered
//     with RpcNoSuchMethodException. Errors are the Java exception classes the
//     client interprets (FileNotFoundException, FileAlreadyExistsException,
//     PathIsNotEmptyDirectoryException, ParentNotDirectoryException, …).
//   - DataTransferProtocol version 28: WRITE_BLOCK and READ_BLOCK, CRC32C per
//     512-byte chunk (checked on writes, sent on reads), packets of at most 64 KiB,
//     in-order PipelineAckProto acknowledgements, replies of at least five bytes.
//   - Messages are looked up by name in protoregistry.GlobalTypes, where the client
//     registers them: the peer uses exactly the client's schema, no generated code.
//
// # Failure knobs
//
//   - Stop and Restart: the namenode goes away (every connection drops) and comes
//     back on the same address with the namespace it had.
//   - FailComplete(n): the next n complete calls answer false, as a namenode does
//     while the last block is not minimally replicated.
//   - DropWriteAfter(n): the next WRITE_BLOCK connection is dropped once n bytes
//     arrived; the block is never finalized.
//   - WithHost: the peer serves on a host of the multi-host bed (integration/netns):
//     its listeners are opened inside that host's network namespace, so the
//     host's faults (link down, partitions) cut the peer off like a real machine.
//   - WithStandby: a second namenode address, named first in URI, that answers
//     every call with StandbyException, so the client has to fail over.
//
// ReadFile, WriteFile, List and Owner inspect and edit the namespace behind the
// client's back; Calls counts the calls of a method.
//
// # What it does not do
//
//   - No persistence, one datanode, replication 1, no pipeline recovery, no leases
//     (renewLease is accepted and ignored; a file left open stays open), no
//     permissions checks, no quotas, no snapshots, no symlinks, no append, no
//     encryption, no Kerberos or SASL, no block tokens.
//   - Deleted files' block replicas stay on the datanode until the peer stops, so a
//     reader that already has block locations can finish (a real datanode deletes
//     them some seconds later).
//   - Everything is kept in memory: keep the data of a test to some MiB.
//   - Block sizes, timing and error messages are not those of a real cluster; a
//     test that depends on them belongs in the opt-in test against a real cluster
//     (AMKEEPER_TEST_NAMENODE in hdfsstore).
package hdfspeer
