package recovery

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery/zkclient"
)

// DefaultOrphanGrace is the default minimum age of an orphan payload before Clean
// removes it (the CLI's default for `ha inspect --clean`).
const DefaultOrphanGrace = time.Minute

// Payload kinds the pointer stores write: the first part of a payload's base name.
// Only these can be orphans.
const (
	jobGraphPayloadKind   = "submittedJobGraph-"
	checkpointPayloadKind = "completedCheckpoint-"
)

// NodeKind says what a reported znode (or embedded pointer file) is.
type NodeKind string

const (
	KindJobGraph       NodeKind = "jobgraph"        // pointer to a job graph payload
	KindCheckpoint     NodeKind = "checkpoint"      // pointer to a checkpoint payload
	KindIDCounter      NodeKind = "id-counter"      // a job's checkpoint ID counter (informational)
	KindLatch          NodeKind = "latch"           // a leader latch node (informational)
	KindConnectionInfo NodeKind = "connection-info" // a leader's connection_info (informational)
)

// IsPointer reports whether nodes of the kind hold a Pointer.
func (k NodeKind) IsPointer() bool { return k == KindJobGraph || k == KindCheckpoint }

// PointerStatus is what inspection found behind a pointer.
type PointerStatus string

const (
	StatusOK          PointerStatus = "ok"
	StatusMissing     PointerStatus = "missing"           // dangling: the payload is not in storage
	StatusCorrupt     PointerStatus = "checksum mismatch" // the payload does not match the pointer (or its own trailer)
	StatusUndecodable PointerStatus = "undecodable"       // the pointer itself cannot be decoded
	StatusUnreadable  PointerStatus = "unreadable"        // storage failed otherwise (I/O, permissions): never cleaned
	StatusInfo        PointerStatus = "-"                 // not a pointer
)

// LockHolder is one lock child (<pointer>/locks/<instance-uuid>) of a pointer.
type LockHolder struct {
	Instance string // the child's name: the holding instance's UUID
	// Session is the ZooKeeper session owning the (ephemeral) lock child; 0 for
	// an embedded lock or a persistent child.
	Session int64
	// Live: the holder is alive. An ephemeral lock child exists only while its
	// owner's session lives, so in ZooKeeper mode it is live exactly when it is
	// ephemeral; an embedded lock is held by a store in this process.
	Live bool
	// Ours: the lock child belongs to the inspecting session itself.
	Ours bool
}

// NodeReport is one znode (or embedded pointer file) of the cluster.
type NodeReport struct {
	Kind  NodeKind
	Path  string // znode path inside the cluster's chroot, or file name relative to the embedded directory
	JobID string // the job, for checkpoints and counters
	// Status is the storage status of a pointer; StatusInfo for other kinds.
	Status  PointerStatus
	Payload string // the storage name the pointer names ("" when undecodable)
	Detail  string // the error behind a bad status, or the content of an informational node
	Locks   []LockHolder
	// Marked: the pointer is marked for deletion (its locks container is gone): a
	// removal stopped half-way, which Clean finishes.
	Marked bool

	version int32 // the znode version seen, for version-checked removal
}

// LockedByOther reports whether a live instance other than the inspecting
// session holds a lock on the pointer.
func (n NodeReport) LockedByOther() bool {
	for _, l := range n.Locks {
		if l.Live && !l.Ours {
			return true
		}
	}
	return false
}

// Cleanable reports whether Clean would act on the node: a marked pointer, or one
// whose payload is missing or corrupt or which cannot be decoded. Clean still
// keeps such a pointer while another live instance holds a lock on it (unless it
// is marked: a marked pointer has no locks).
func (n NodeReport) Cleanable() bool {
	if !n.Kind.IsPointer() {
		return false
	}
	return n.Marked || n.Status == StatusMissing || n.Status == StatusCorrupt || n.Status == StatusUndecodable
}

// Orphan is a payload in storage that no pointer names.
type Orphan struct {
	Name    string
	ModTime time.Time // zero when it could not be read
	// Age is the payload's age when the pointers were listed (Report.InspectedAt);
	// negative when ModTime is unknown.
	Age    time.Duration
	Detail string // why ModTime is unknown
}

// Report is what Inspect found for one cluster.
type Report struct {
	Mode        string // "zookeeper" or "embedded"
	Storage     string // storage URI
	ClusterPath string
	// InspectedAt is when the pointer walk began (after storage was listed); the
	// ages of orphans are measured against it.
	InspectedAt time.Time
	Nodes       []NodeReport
	Orphans     []Orphan
}

// Problems returns the nodes that are not healthy: cleanable pointers and
// unreadable ones.
func (r *Report) Problems() []NodeReport {
	var out []NodeReport
	for _, n := range r.Nodes {
		if n.Kind.IsPointer() && (n.Marked || n.Status != StatusOK) {
			out = append(out, n)
		}
	}
	return out
}

// Healthy reports whether every pointer is ok and no payload is an orphan.
func (r *Report) Healthy() bool { return len(r.Problems()) == 0 && len(r.Orphans) == 0 }

// Pointers returns the pointer nodes.
func (r *Report) Pointers() []NodeReport {
	var out []NodeReport
	for _, n := range r.Nodes {
		if n.Kind.IsPointer() {
			out = append(out, n)
		}
	}
	return out
}

// Node returns the node at path.
func (r *Report) Node(p string) (NodeReport, bool) {
	for _, n := range r.Nodes {
		if n.Path == p {
			return n, true
		}
	}
	return NodeReport{}, false
}

// String renders the report as tables for the CLI.
func (r *Report) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "cluster %s (%s), storage %s, inspected %s\n", r.ClusterPath, r.Mode, r.Storage,
		r.InspectedAt.UTC().Format(time.RFC3339))
	w := tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "KIND\tPATH\tSTATUS\tPAYLOAD\tLOCKS\tNOTE")
	for _, n := range r.Nodes {
		note := n.Detail
		if n.Marked {
			note = strings.TrimSpace("marked for deletion " + note)
		}
		payload := n.Payload
		if payload == "" {
			payload = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", n.Kind, n.Path, n.Status, payload, locksString(n), oneLine(note))
	}
	w.Flush()
	if len(r.Orphans) == 0 {
		b.WriteString("orphan payloads: none\n")
	} else {
		fmt.Fprintf(&b, "orphan payloads: %d\n", len(r.Orphans))
		w = tabwriter.NewWriter(&b, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "ORPHAN\tAGE\tNOTE")
		for _, o := range r.Orphans {
			age := "unknown"
			if o.Age >= 0 {
				age = o.Age.Truncate(time.Second).String()
			}
			fmt.Fprintf(w, "%s\t%s\t%s\n", o.Name, age, oneLine(o.Detail))
		}
		w.Flush()
	}
	if p := len(r.Problems()); p > 0 {
		fmt.Fprintf(&b, "problems: %d pointer(s)\n", p)
	}
	return b.String()
}

func locksString(n NodeReport) string {
	if !n.Kind.IsPointer() {
		return "-"
	}
	if n.Marked {
		return "(none: marked)"
	}
	if len(n.Locks) == 0 {
		return "none"
	}
	parts := make([]string, len(n.Locks))
	for i, l := range n.Locks {
		s := l.Instance
		switch {
		case l.Ours:
			s += " (ours)"
		case l.Live:
			s += " (live)"
		default:
			s += " (stale)"
		}
		parts[i] = s
	}
	return strings.Join(parts, ",")
}

func oneLine(s string) string {
	s = strings.ReplaceAll(s, "\n", " ")
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// Inspector inspects (and cleans) the high-availability state of one cluster:
// the pointers in ZooKeeper (or, in embedded mode, the pointer files) and the
// payloads in storage. Set exactly one of ZooKeeper and Embedded.
//
// Orphans are payloads of the kinds the pointer stores write — job graphs
// (<cluster-path>/submittedJobGraph-…) and checkpoint metadata
// (<cluster-path>/completedCheckpoint-…) — that no pointer names. Job results
// (job-result-store/) and blobs (blob/) have no pointers and are never orphans;
// neither are other files under the cluster path.
//
// Inspection only reads. It is safe while a leader runs, and the report is a
// snapshot: a leader may change things right after.
type Inspector struct {
	// ZooKeeper is a client chrooted at <path.root>/<cluster-id>.
	ZooKeeper *zkclient.Client
	// Embedded is the pointer-file directory of high-availability NONE. Locks are
	// seen only when it is the EmbeddedDir the stores of this process use.
	Embedded *EmbeddedDir
	// Storage holds the payloads; ClusterPath is the cluster's prefix in it.
	Storage     hdfsstore.Store
	ClusterPath string
	// Now is the clock orphan ages are read on (default time.Now). Storage
	// modification times come from the storage's clock.
	Now    func() time.Time
	Logger zerolog.Logger
}

func (in *Inspector) now() time.Time {
	if in.Now != nil {
		return in.Now()
	}
	return time.Now()
}

func (in *Inspector) check() error {
	if (in.ZooKeeper == nil) == (in.Embedded == nil) {
		return errors.New("recovery: inspect: set exactly one of ZooKeeper and Embedded")
	}
	if in.Storage == nil {
		return errors.New("recovery: inspect: no storage")
	}
	if in.ClusterPath != "" {
		if err := hdfsstore.ValidateName(in.ClusterPath); err != nil {
			return fmt.Errorf("recovery: inspect: cluster path: %w", err)
		}
	}
	return nil
}

// Inspect lists every pointer of the cluster with its storage status and lock
// holders, the informational nodes (leader latch, connection_info, checkpoint ID
// counters), and the orphan payloads.
//
// Storage is listed before the pointers, so a payload whose pointer is written
// while Inspect runs is either not listed or its pointer is seen — unless the
// pointer is written after the walk began, which is why Clean removes only
// orphans older than a grace period.
func (in *Inspector) Inspect(ctx context.Context) (*Report, error) {
	if err := in.check(); err != nil {
		return nil, err
	}
	r := &Report{Storage: in.Storage.URI(), ClusterPath: in.ClusterPath}
	payloads, err := in.listPayloads(ctx)
	if err != nil {
		return nil, err
	}
	r.InspectedAt = in.now()
	if in.ZooKeeper != nil {
		r.Mode = "zookeeper"
		err = in.walkZK(ctx, r)
	} else {
		r.Mode = "embedded"
		err = in.walkEmbedded(ctx, r)
	}
	if err != nil {
		return nil, err
	}
	referenced := map[string]bool{}
	for _, n := range r.Nodes {
		if n.Payload != "" {
			referenced[n.Payload] = true
		}
	}
	for _, name := range payloads {
		if referenced[name] {
			continue
		}
		o := Orphan{Name: name, Age: -1}
		info, err := in.Storage.Stat(ctx, name)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			continue // removed meanwhile
		case err != nil:
			o.Detail = err.Error()
		default:
			o.ModTime = info.ModTime
			o.Age = max(r.InspectedAt.Sub(info.ModTime), 0)
		}
		r.Orphans = append(r.Orphans, o)
	}
	return r, nil
}

// listPayloads lists the storage names of the payload kinds the pointer stores write.
func (in *Inspector) listPayloads(ctx context.Context) ([]string, error) {
	var out []string
	for _, kind := range []string{jobGraphPayloadKind, checkpointPayloadKind} {
		prefix := storagePrefix(in.ClusterPath, kind)
		names, err := in.Storage.List(ctx, prefix)
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("recovery: inspect: list %s: %w", prefix, err)
		}
		for _, n := range names {
			if !strings.Contains(strings.TrimPrefix(n, prefix), "/") {
				out = append(out, n)
			}
		}
	}
	return out, nil
}

// payloadStatus reads the payload a pointer names and classifies the outcome.
func payloadStatus(ctx context.Context, st hdfsstore.Store, data []byte) (PointerStatus, string, string) {
	p, err := DecodePointer(data)
	if err != nil {
		return StatusUndecodable, "", err.Error()
	}
	_, err = ReadState(ctx, st, p)
	switch {
	case err == nil:
		return StatusOK, p.Path, ""
	case errors.Is(err, ErrDanglingPointer):
		return StatusMissing, p.Path, err.Error()
	case errors.Is(err, ErrCorruptState):
		return StatusCorrupt, p.Path, err.Error()
	default:
		return StatusUnreadable, p.Path, err.Error()
	}
}

// ---- ZooKeeper ----

// zkChildren lists children, sorted; a missing parent has none.
func zkChildren(ctx context.Context, cl *zkclient.Client, p string) ([]string, error) {
	names, _, err := cl.Children(ctx, p)
	if errors.Is(err, zk.ErrNoNode) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("recovery: inspect: list %s: %w", p, err)
	}
	slices.Sort(names)
	return names, nil
}

func (in *Inspector) walkZK(ctx context.Context, r *Report) error {
	cl := in.ZooKeeper
	ours := cl.Session().ID
	// Leader latch and connection_info: informational.
	latch, err := zkChildren(ctx, cl, latchDir)
	if err != nil {
		return err
	}
	for _, n := range latch {
		p := latchDir + "/" + n
		ok, st, err := cl.Exists(ctx, p)
		if err != nil {
			return fmt.Errorf("recovery: inspect: %s: %w", p, err)
		}
		if !ok {
			continue
		}
		detail := fmt.Sprintf("session 0x%x", st.EphemeralOwner)
		if st.EphemeralOwner == ours {
			detail += " (ours)"
		}
		r.Nodes = append(r.Nodes, NodeReport{Kind: KindLatch, Path: p, Status: StatusInfo, Detail: detail})
	}
	components, err := zkChildren(ctx, cl, leaderDir)
	if err != nil {
		return err
	}
	for _, c := range components {
		if "/leader/"+c == latchDir {
			continue
		}
		p := ConnectionInfoPath(c)
		data, _, err := cl.Get(ctx, p)
		if errors.Is(err, zk.ErrNoNode) {
			continue
		}
		if err != nil {
			return fmt.Errorf("recovery: inspect: %s: %w", p, err)
		}
		r.Nodes = append(r.Nodes, NodeReport{Kind: KindConnectionInfo, Path: p, Status: StatusInfo, Detail: string(data)})
	}
	// Job graphs.
	keys, err := zkChildren(ctx, cl, JobGraphsDir)
	if err != nil {
		return err
	}
	for _, k := range keys {
		if err := in.zkPointer(ctx, r, KindJobGraph, "", JobGraphsDir, k); err != nil {
			return err
		}
	}
	// Checkpoints and counters per job.
	jobs, err := zkChildren(ctx, cl, "/jobs")
	if err != nil {
		return err
	}
	for _, job := range jobs {
		dir := CheckpointsDir(job)
		keys, err := zkChildren(ctx, cl, dir)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := in.zkPointer(ctx, r, KindCheckpoint, job, dir, k); err != nil {
				return err
			}
		}
		p := CheckpointIDCounterPath(job)
		data, _, err := cl.Get(ctx, p)
		switch {
		case errors.Is(err, zk.ErrNoNode):
		case err != nil:
			return fmt.Errorf("recovery: inspect: %s: %w", p, err)
		default:
			n := NodeReport{Kind: KindIDCounter, Path: p, JobID: job, Status: StatusInfo}
			if v, err := decodeCount(data, p); err != nil {
				n.Detail = err.Error()
			} else {
				n.Detail = fmt.Sprintf("next ID %d", v)
			}
			r.Nodes = append(r.Nodes, n)
		}
	}
	return nil
}

// zkPointer inspects one pointer node; one removed meanwhile is left out.
func (in *Inspector) zkPointer(ctx context.Context, r *Report, kind NodeKind, job, dir, key string) error {
	n, ok, err := in.inspectZKPointer(ctx, kind, job, dir+"/"+key)
	if err != nil || !ok {
		return err
	}
	r.Nodes = append(r.Nodes, n)
	return nil
}

func (in *Inspector) inspectZKPointer(ctx context.Context, kind NodeKind, job, p string) (NodeReport, bool, error) {
	cl := in.ZooKeeper
	data, stat, err := cl.Get(ctx, p)
	if errors.Is(err, zk.ErrNoNode) {
		return NodeReport{}, false, nil
	}
	if err != nil {
		return NodeReport{}, false, fmt.Errorf("recovery: inspect: %s: %w", p, err)
	}
	n := NodeReport{Kind: kind, Path: p, JobID: job, version: stat.Version}
	holders, _, err := cl.Children(ctx, p+"/locks")
	switch {
	case errors.Is(err, zk.ErrNoNode):
		n.Marked = true
	case err != nil:
		return NodeReport{}, false, fmt.Errorf("recovery: inspect: %s/locks: %w", p, err)
	}
	slices.Sort(holders)
	ours := cl.Session().ID
	for _, h := range holders {
		ok, st, err := cl.Exists(ctx, p+"/locks/"+h)
		if err != nil {
			return NodeReport{}, false, fmt.Errorf("recovery: inspect: %s/locks/%s: %w", p, h, err)
		}
		if !ok {
			continue // released meanwhile
		}
		n.Locks = append(n.Locks, LockHolder{Instance: h, Session: st.EphemeralOwner,
			Live: st.EphemeralOwner != 0, Ours: st.EphemeralOwner != 0 && st.EphemeralOwner == ours})
	}
	n.Status, n.Payload, n.Detail = payloadStatus(ctx, in.Storage, data)
	return n, true, nil
}

// ---- embedded ----

// openPointerFiles opens the embedded directory as a file:// store.
func (in *Inspector) openPointerFiles(ctx context.Context) (hdfsstore.Store, error) {
	ptrs, err := hdfsstore.Open(ctx, hdfsstore.FileURI(in.Embedded.Path()), hdfsstore.WithLogger(in.Logger))
	if err != nil {
		return nil, fmt.Errorf("recovery: inspect: embedded directory %s: %w", in.Embedded.Path(), err)
	}
	return ptrs, nil
}

func (in *Inspector) walkEmbedded(ctx context.Context, r *Report) error {
	// connection_info files: informational.
	leaderDir := filepath.Join(in.Embedded.Path(), "leader")
	comps, err := os.ReadDir(leaderDir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("recovery: inspect: %s: %w", leaderDir, err)
	}
	for _, c := range comps {
		b, err := os.ReadFile(embeddedInfoPath(in.Embedded.Path(), c.Name()))
		if err != nil {
			continue
		}
		r.Nodes = append(r.Nodes, NodeReport{Kind: KindConnectionInfo, Path: "leader/" + c.Name() + "/" + infoNodeName,
			Status: StatusInfo, Detail: strings.TrimSpace(string(b))})
	}
	ptrs, err := in.openPointerFiles(ctx)
	if err != nil {
		return err
	}
	defer ptrs.Close()
	names, err := ptrs.List(ctx, strings.TrimPrefix(JobGraphsDir, "/")+"/")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("recovery: inspect: list job graph pointers: %w", err)
	}
	jobNames, err := ptrs.List(ctx, "jobs/")
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("recovery: inspect: list checkpoint pointers: %w", err)
	}
	for _, name := range append(names, jobNames...) {
		parts := strings.Split(name, "/")
		switch {
		case len(parts) == 2 && parts[0] == "jobgraphs":
			if n, ok := in.inspectEmbeddedPointer(ctx, ptrs, KindJobGraph, "", name); ok {
				r.Nodes = append(r.Nodes, n)
			}
		case len(parts) == 4 && parts[0] == "jobs" && parts[2] == "checkpoints":
			if n, ok := in.inspectEmbeddedPointer(ctx, ptrs, KindCheckpoint, parts[1], name); ok {
				r.Nodes = append(r.Nodes, n)
			}
		case len(parts) == 3 && parts[0] == "jobs" && "/"+name == CheckpointIDCounterPath(parts[1]):
			n := NodeReport{Kind: KindIDCounter, Path: name, JobID: parts[1], Status: StatusInfo}
			b, err := hdfsstore.GetBytes(ctx, ptrs, name)
			if err == nil {
				var v int64
				if v, err = decodeCount(b, name); err == nil {
					n.Detail = fmt.Sprintf("next ID %d", v)
				}
			}
			if err != nil {
				n.Detail = err.Error()
			}
			r.Nodes = append(r.Nodes, n)
		}
	}
	return nil
}

// inspectEmbeddedPointer inspects one pointer file (name relative to the
// embedded directory); one removed meanwhile is left out.
func (in *Inspector) inspectEmbeddedPointer(ctx context.Context, ptrs hdfsstore.Store, kind NodeKind, job, name string) (NodeReport, bool) {
	dir, key := path.Split(name)
	tbl := in.Embedded.table(strings.TrimSuffix(dir, "/"))
	tbl.mu.Lock()
	holders := make([]LockHolder, 0, len(tbl.locks[key]))
	for id := range tbl.locks[key] {
		holders = append(holders, LockHolder{Instance: id.String(), Live: true})
	}
	tbl.mu.Unlock()
	slices.SortFunc(holders, func(a, b LockHolder) int { return strings.Compare(a.Instance, b.Instance) })
	n := NodeReport{Kind: kind, Path: name, JobID: job, Locks: holders}
	return n, in.readEmbeddedPointer(ctx, ptrs, &n)
}

// readEmbeddedPointer fills in the status of the pointer file n.Path; false when
// the file is gone.
func (in *Inspector) readEmbeddedPointer(ctx context.Context, ptrs hdfsstore.Store, n *NodeReport) bool {
	b, err := hdfsstore.GetBytes(ctx, ptrs, n.Path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false
	case errors.Is(err, hdfsstore.ErrCorrupt):
		n.Status, n.Detail = StatusUndecodable, err.Error()
	case err != nil:
		n.Status, n.Detail = StatusUnreadable, err.Error()
	default:
		n.Status, n.Payload, n.Detail = payloadStatus(ctx, in.Storage, b)
	}
	return true
}

// logger returns the inspector's logger with the cluster path.
func (in *Inspector) logger() zerolog.Logger {
	return in.Logger.With().Str("cluster_path", in.ClusterPath).Logger()
}

// CleanResult is what Clean did.
type CleanResult struct {
	Removed []string // pointer paths and payload names removed
	Kept    []Kept   // cleanable things left alone, and why
}

// Kept is something Clean left in place.
type Kept struct {
	What   string // a pointer path or a payload name
	Reason string
}

// Clean removes what inspection finds broken and nobody uses:
//
//   - pointers whose payload is missing or corrupt, or which cannot be decoded —
//     unless another live instance holds a lock on them (a lock child of the
//     inspecting session itself does not count); a corrupt pointer's payload goes
//     after its pointer;
//   - pointers marked for deletion: the removal is finished (pointer, then payload);
//   - orphan payloads at least grace old.
//
// It never removes a pointer whose payload is fine (a marked pointer aside: its
// removal was already decided), and never a payload a pointer names.
//
// Clean inspects afresh and acts only on what is still cleanable then; with prev
// non-nil it also acts only on what prev listed (so `inspect`, a confirmation,
// then `clean` never removes something the user did not see). A pointer is
// removed in one multi-op that checks the version seen and fails if a lock
// appeared meanwhile, so a pointer a leader replaced or locked since stays.
//
// The grace period protects against a leader adding a pointer while Clean runs:
// the pointer stores write a payload before its pointer, so a fresh payload
// whose pointer is not yet written looks like an orphan. An orphan is removed
// only if it was at least grace old when the pointer walk began, i.e. if its
// pointer would have been seen had it been written within grace of the payload.
// Keep grace (DefaultOrphanGrace, one minute) above the ZooKeeper session timeout
// (a leader paused longer loses its latch and its pointer write fails) and above
// the clock skew between this host and the storage. grace 0 removes orphans of
// any age: use it only when no leader runs. A negative grace is treated as 0.
//
// Clean takes no Guard: it may run beside a leader. Errors on single items are
// joined and returned after every item was tried.
func (in *Inspector) Clean(ctx context.Context, prev *Report, grace time.Duration) (CleanResult, error) {
	var res CleanResult
	fresh, err := in.Inspect(ctx)
	if err != nil {
		return res, err
	}
	grace = max(grace, 0)
	wantNode := func(p string) bool {
		if prev == nil {
			return true
		}
		n, ok := prev.Node(p)
		return ok && n.Cleanable()
	}
	var errs []error
	var ptrs hdfsstore.Store
	if in.Embedded != nil {
		if ptrs, err = in.openPointerFiles(ctx); err != nil {
			return res, err
		}
		defer ptrs.Close()
	}
	log := in.logger()
	for _, n := range fresh.Nodes {
		if !n.Cleanable() || !wantNode(n.Path) {
			continue
		}
		var removed bool
		var reason string
		if in.ZooKeeper != nil {
			removed, reason, err = in.cleanZK(ctx, n)
		} else {
			removed, reason, err = in.cleanEmbedded(ctx, ptrs, n)
		}
		switch {
		case err != nil:
			errs = append(errs, err)
		case removed:
			res.Removed = append(res.Removed, n.Path)
			key := logging.ZKPath
			if in.Embedded != nil {
				key = logging.File
			}
			log.Info().Str(key, n.Path).Str(logging.Reason, string(n.Status)).Bool("marked", n.Marked).
				Msg("ha clean: pointer removed")
		default:
			res.Kept = append(res.Kept, Kept{What: n.Path, Reason: reason})
		}
	}
	var prevOrphans map[string]bool
	if prev != nil {
		prevOrphans = map[string]bool{}
		for _, o := range prev.Orphans {
			prevOrphans[o.Name] = true
		}
	}
	for _, o := range fresh.Orphans {
		if prevOrphans != nil && !prevOrphans[o.Name] {
			continue
		}
		switch {
		case o.Age < 0:
			res.Kept = append(res.Kept, Kept{What: o.Name, Reason: "age unknown: " + o.Detail})
			continue
		case o.Age < grace:
			res.Kept = append(res.Kept, Kept{What: o.Name,
				Reason: fmt.Sprintf("younger (%s) than the grace period (%s)", o.Age.Truncate(time.Millisecond), grace)})
			continue
		}
		if err := deletePayload(ctx, in.Storage, o.Name); err != nil {
			errs = append(errs, err)
			continue
		}
		res.Removed = append(res.Removed, o.Name)
		log.Info().Str(logging.File, o.Name).Dur(logging.Duration, o.Age).Msg("ha clean: orphan payload removed")
	}
	if err := errors.Join(errs...); err != nil {
		return res, fmt.Errorf("recovery: clean: %w", err)
	}
	return res, nil
}

// cleanZK removes one cleanable pointer node (fresh from inspection).
func (in *Inspector) cleanZK(ctx context.Context, n NodeReport) (bool, string, error) {
	cl := in.ZooKeeper
	var ops []zkclient.Op
	if !n.Marked {
		if n.LockedByOther() {
			return false, "locked by a live instance", nil
		}
		for _, l := range n.Locks {
			ops = append(ops, zkclient.DeleteOp{Path: n.Path + "/locks/" + l.Instance, Version: -1})
		}
		// Fails with ErrNotEmpty if a lock appeared since the inspection.
		ops = append(ops, zkclient.DeleteOp{Path: n.Path + "/locks", Version: -1})
	}
	// Fails with ErrBadVersion if the pointer was replaced since.
	ops = append(ops, zkclient.DeleteOp{Path: n.Path, Version: n.version})
	_, err := cl.Multi(ctx, ops...)
	switch {
	case errors.Is(err, zk.ErrNotEmpty):
		return false, "a lock (or another child) appeared meanwhile", nil
	case errors.Is(err, zk.ErrBadVersion):
		return false, "the pointer changed meanwhile", nil
	case errors.Is(err, zk.ErrNoNode):
		return false, "removed or changed by someone else meanwhile", nil
	case err != nil:
		return false, "", fmt.Errorf("remove %s: %w", n.Path, err)
	}
	// Pointer gone: its payload (corrupt, or of a marked pointer) follows.
	if n.Payload != "" && n.Status != StatusMissing {
		if err := deletePayload(ctx, in.Storage, n.Payload); err != nil {
			return true, "", fmt.Errorf("remove %s: pointer removed, payload kept (an orphan now): %w", n.Path, err)
		}
	}
	return true, "", nil
}

// cleanEmbedded removes one cleanable pointer file, re-checking it under the
// lock table's mutex, which the embedded stores of this process also take.
func (in *Inspector) cleanEmbedded(ctx context.Context, ptrs hdfsstore.Store, n NodeReport) (bool, string, error) {
	dir, key := path.Split(n.Path)
	tbl := in.Embedded.table(strings.TrimSuffix(dir, "/"))
	tbl.mu.Lock()
	defer tbl.mu.Unlock()
	if len(tbl.locks[key]) > 0 {
		return false, "locked by a live instance", nil
	}
	// Re-read: a store may have replaced the pointer since the inspection.
	now := NodeReport{Kind: n.Kind, Path: n.Path, JobID: n.JobID}
	if !in.readEmbeddedPointer(ctx, ptrs, &now) {
		return false, "removed by someone else meanwhile", nil
	}
	if !now.Cleanable() || now.Payload != n.Payload {
		return false, "the pointer changed meanwhile", nil
	}
	if err := ptrs.Delete(ctx, n.Path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, "", fmt.Errorf("remove %s: %w", n.Path, err)
	}
	if now.Payload != "" && now.Status != StatusMissing {
		if err := deletePayload(ctx, in.Storage, now.Payload); err != nil {
			return true, "", fmt.Errorf("remove %s: pointer removed, payload kept (an orphan now): %w", n.Path, err)
		}
	}
	return true, "", nil
}
