// Package recoverytest holds the conformance suites of package recovery's backend
// contract — the pointer store, the job graph and checkpoint stores built on it,
// the checkpoint ID counter, and inspection — and the helpers backends' tests share
// (storage on files or on the in-process HDFS peer, a leader-notification
// collector, child processes). Each backend's tests run the same suites with Run,
// in a fresh namespace per test: zkha on ZooKeeper (with file:// and hdfs://
// storage), embedded on a temporary directory.
//
// A backend declares what the contract leaves to it (Backend.SessionLocks,
// Backend.GuardLatches, the Marking interface); the suites test it where it is
// declared. It is for tests only.
package recoverytest
