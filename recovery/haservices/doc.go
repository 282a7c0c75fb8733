// Package haservices opens a cluster's high-availability services from the
// configuration: it reads high-availability.type and assembles recovery.Services on
// the ZooKeeper backend (package zkha) or the embedded one (package embedded), with
// the state storage of high-availability.storageDir. It is the only package that
// knows both backends; everything else uses package recovery.
//
// It guarantees that the backend's latch node and the stores' locks carry the same
// instance ID. It does not retry: with ZooKeeper, Open waits at most
// high-availability.zookeeper.client.connection-timeout for a session and then fails.
package haservices
