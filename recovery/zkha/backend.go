package zkha

import (
	"context"
	"strings"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

// Options configure Open beyond the configuration keys.
type Options struct {
	// InstanceID names this process's latch node; the stores' locks must use the
	// same ID (recovery.ServicesConfig.Instance). Default: random.
	InstanceID uuid.UUID
	Logger     zerolog.Logger
}

// Backend is the ZooKeeper recovery.Backend: one session of one cluster, chrooted
// at high-availability.zookeeper.path.root joined with high-availability.cluster-id.
type Backend struct {
	cl       *zkclient.Client
	el       *Election
	tolerate bool // high-availability.zookeeper.client.tolerate-suspended-connections
	log      zerolog.Logger
}

// Compile-time checks of the implementations.
var (
	_ recovery.Backend        = (*Backend)(nil)
	_ recovery.LeaderElection = (*Election)(nil)
	_ recovery.Grant          = (*Leadership)(nil)
	_ latchGuard              = (*Leadership)(nil)
)

// Open connects to the ensemble the configuration names and waits (at most the
// connection timeout) for a session.
func Open(ctx context.Context, cfg *conf.Config, o Options) (*Backend, error) {
	zc, err := ClientConfig(cfg, o.Logger)
	if err != nil {
		return nil, err
	}
	cl, err := zkclient.Connect(ctx, zc)
	if err != nil {
		return nil, err
	}
	return newBackend(cl, o.InstanceID, cfg.TolerateSuspendedConnections(), o.Logger), nil
}

func newBackend(cl *zkclient.Client, instance uuid.UUID, tolerate bool, log zerolog.Logger) *Backend {
	if instance == uuid.Nil {
		instance = uuid.New()
	}
	return &Backend{
		cl: cl,
		el: NewElection(ElectionConfig{
			Client:            cl,
			InstanceID:        instance.String(),
			TolerateSuspended: tolerate,
			Logger:            log, // the election adds the instance
		}),
		tolerate: tolerate,
		log:      log.With().Str("instance", instance.String()).Logger(),
	}
}

// ClientConfig maps the configuration onto the ZooKeeper client's: the chroot is
// high-availability.zookeeper.path.root joined with high-availability.cluster-id;
// the dialer is Dialer's (TLS with zookeeper.client.secure). Under acl creator
// the ACLs are checked from path.root down (never "/", the operator's).
func ClientConfig(cfg *conf.Config, log zerolog.Logger) (zkclient.Config, error) {
	dial, certID, err := dialer(cfg)
	if err != nil {
		return zkclient.Config{}, err
	}
	return zkclient.Config{
		Servers:           cfg.Quorum(),
		Root:              cfg.ClusterPath(),
		SessionTimeout:    cfg.SessionTimeout(),
		ConnectionTimeout: cfg.ConnectionTimeout(),
		RetryWait:         cfg.RetryWait(),
		MaxRetries:        cfg.MaxRetryAttempts(),
		ACL:               zkclient.ACLMode(strings.ToLower(string(cfg.ACL()))),
		ACLCheckFrom:      cfg.PathRoot(),
		Digest:            cfg.Digest(),
		Dialer:            dial,
		CertIdentity:      certID,
		SASL:              SASLConfig(cfg),
		Logger:            log, // the client adds zk_path
	}, nil
}

// SASLConfig maps the SASL keys onto the client's; nil when SASL is off. The
// JAAS file and the keytab are read when the client connects.
func SASLConfig(cfg *conf.Config) *zkclient.SASLConfig {
	s := cfg.ZooKeeperSASL()
	if !s.Enabled {
		return nil
	}
	out := &zkclient.SASLConfig{LoginContext: s.LoginContext, ServiceName: s.ServiceName, JAASFile: s.JAASFile, Krb5Conf: s.Krb5Conf}
	if s.Kerberos {
		out.JAASFile = ""
		out.Kerberos = &zkclient.KerberosLogin{Principal: s.Principal, Keytab: s.Keytab, UseTicketCache: s.UseTicketCache, Krb5Conf: s.Krb5Conf}
	}
	return out
}

// Session returns the current ZooKeeper session: the supervisor closes a dead
// attempt's session with it (zkclient.CloseSession) to fence that attempt at once.
func (b *Backend) Session() zkclient.Session { return b.cl.Session() }

// Name implements recovery.Inspectable.
func (b *Backend) Name() string { return "zookeeper" }

// PathKey implements recovery.Inspectable: reported paths are znodes.
func (b *Backend) PathKey() string { return logging.ZKPath }

// Election implements recovery.Backend.
func (b *Backend) Election() recovery.LeaderElection { return b.el }

// Retrieve implements recovery.LeaderRetriever: it watches the component's
// connection_info. SUSPENDED clears the known leader unless tolerated; LOST always
// does.
func (b *Backend) Retrieve(ctx context.Context, component string, notify func(recovery.LeaderInfo)) error {
	return retrieve(ctx, retrievalConfig{Client: b.cl, Component: component, TolerateSuspended: b.tolerate, Logger: b.log}, notify)
}

// PointerStore implements recovery.Backend.
func (b *Backend) PointerStore(_ context.Context, cfg recovery.PointerStoreConfig) (recovery.PointerStore, error) {
	return newPointerStore(b.cl, cfg), nil
}

// CheckpointIDCounter implements recovery.Backend.
func (b *Backend) CheckpointIDCounter(_ context.Context, jobID string) (recovery.CheckpointIDCounter, error) {
	return newIDCounter(b.cl, jobID, b.log)
}

// RemoveAll implements recovery.Backend: every znode under the chroot, latch
// nodes included, then the chroot node.
func (b *Backend) RemoveAll(ctx context.Context) error {
	return cleanupZooKeeper(ctx, b.cl, true)
}

// Close ends the session: its ephemeral latch, lock and connection_info nodes go.
func (b *Backend) Close() error { return b.cl.Close() }
