package recovery

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/google/uuid"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/logging"
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

// jobGraphPayloadPrefix is the payload prefix of a cluster's job graph store.
func jobGraphPayloadPrefix(clusterPath string) string {
	return storagePrefix(clusterPath, jobGraphPayloadKind)
}

// checkpointPayloadPrefix is the payload prefix of a job's checkpoint store.
func checkpointPayloadPrefix(clusterPath, jobID string) string {
	return storagePrefix(clusterPath, checkpointPayloadKind+jobID+"-")
}

// NodeKind says what a reported node (a znode, an embedded pointer file) is.
type NodeKind string

const (
	KindJobGraph       NodeKind = "jobgraph"        // pointer to a job graph payload
	KindCheckpoint     NodeKind = "checkpoint"      // pointer to a checkpoint payload
	KindIDCounter      NodeKind = "id-counter"      // a job's checkpoint ID counter (informational)
	KindLatch          NodeKind = "latch"           // a leader latch node (informational)
	KindConnectionInfo NodeKind = "connection-info" // a leader's connection_info (informational)
)

// isPointer reports whether nodes of the kind hold a Pointer.
func (k NodeKind) isPointer() bool { return k == KindJobGraph || k == KindCheckpoint }

// PointerStatus is what inspection found behind a pointer.
type PointerStatus string

const (
	StatusOK          PointerStatus = "ok"
	StatusMissing     PointerStatus = "missing"           // dangling: the payload is not in storage
	StatusCorrupt     PointerStatus = "checksum mismatch" // the payload does not match the pointer (or its own trailer)
	StatusUndecodable PointerStatus = "undecodable"       // the pointer itself cannot be decoded
	StatusUnreadable  PointerStatus = "unreadable"        // storage failed otherwise (I/O, permissions): never cleaned
	StatusInfo        PointerStatus = "-"                 // not a pointer
	// StatusForeign: the pointer names a file outside its store's own payloads
	// (ErrForeignPointer). The file is never deleted; the pointer is kept for the
	// operator (unless marked: then only the pointer goes).
	StatusForeign PointerStatus = "foreign"
)

// LockHolder is one instance's lock on a pointer (ZooKeeper: a lock child
// <pointer>/locks/<instance-uuid>).
type LockHolder struct {
	Instance string // the holding instance's UUID
	// Session is the session owning the lock (ZooKeeper: the ephemeral lock
	// child's); 0 for an embedded lock or a persistent child.
	Session int64
	// Live: the holder is alive. A ZooKeeper lock child is live exactly when it is
	// ephemeral (it exists only while its owner's session lives); an embedded lock
	// is held by a store in this process.
	Live bool
	// Ours: the lock belongs to the inspecting session itself.
	Ours bool
}

// NodeReport is one node of the cluster as a backend reports it: a znode, or an
// embedded pointer or connection_info file.
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
	// Version is the pointer's version as the backend saw it (ZooKeeper: the
	// znode's data version), for a removal that fails if the pointer changed.
	Version int64
	// Leader is the leader session stamped on the pointer by the guarded write
	// that stored it ("": stored before stamps existed).
	Leader string
	// PayloadLeader is, for a checkpoint whose payload was read, the leader
	// session stamped in the payload (uuid.Nil: stored before stamps). A
	// payload stamp that differs from the pointer's is StatusCorrupt.
	PayloadLeader uuid.UUID
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
// is marked: a marked pointer has no locks). A foreign pointer is not cleanable
// unless marked, and the file it names is never deleted.
func (n NodeReport) Cleanable() bool {
	if !n.Kind.isPointer() {
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

// Problems returns the nodes that are not healthy: cleanable pointers, foreign
// and unreadable ones.
func (r *Report) Problems() []NodeReport {
	var out []NodeReport
	for _, n := range r.Nodes {
		if n.Kind.isPointer() && (n.Marked || n.Status != StatusOK) {
			out = append(out, n)
		}
	}
	return out
}

// Healthy reports whether every pointer is ok and no payload is an orphan.
func (r *Report) Healthy() bool { return len(r.Problems()) == 0 && len(r.Orphans) == 0 }

// node returns the node at path.
func (r *Report) node(p string) (NodeReport, bool) {
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
	if !n.Kind.isPointer() {
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

// Inspectable is a backend's side of inspection: it lists and removes its own
// nodes; the Inspector does the rest (storage, orphans, payload removal).
type Inspectable interface {
	// Name names the backend in reports: "zookeeper" or "embedded".
	Name() string
	// PathKey is the structured-log field for the paths Walk reports
	// (logging.ZKPath, logging.File).
	PathKey() string
	// Walk lists the cluster's nodes: every pointer, with its storage status
	// (CheckPointer against st), lock holders and mark, and the informational
	// nodes (leader latch, connection_info, checkpoint ID counters). A node
	// removed while Walk runs is left out.
	Walk(ctx context.Context, st hdfsstore.Store) ([]NodeReport, error)
	// RemovePointer removes the cleanable pointer n, fresh from Walk, unless a
	// live instance other than the inspecting one holds a lock on it or it
	// changed since (then removed is nil and reason says why it stays). removed is
	// the pointer as it was removed; deleting its payload is the caller's part.
	RemovePointer(ctx context.Context, st hdfsstore.Store, n NodeReport) (removed *NodeReport, reason string, err error)
}

// Inspector inspects (and cleans) the high-availability state of one cluster:
// the pointers its backend keeps and the payloads in storage.
//
// Orphans are payloads of the kinds the pointer stores write — job graphs
// (<cluster-path>/submittedJobGraph-…) and checkpoint metadata
// (<cluster-path>/completedCheckpoint-…) — that no pointer names. Job results
// (job-result-store/) have no pointers and are never orphans; neither are other
// files under the cluster path.
//
// Inspection only reads. It is safe while a leader runs, and the report is a
// snapshot: a leader may change things right after.
type Inspector struct {
	// Backend is the cluster's backend (ZooKeeper chrooted at
	// <path.root>/<cluster-id>, or the embedded directory). Embedded locks are
	// seen only when it is the backend the stores of this process use.
	Backend Inspectable
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
	if in.Backend == nil {
		return errors.New("recovery: inspect: no backend")
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
	r.Mode = in.Backend.Name()
	if r.Nodes, err = in.Backend.Walk(ctx, in.Storage); err != nil {
		return nil, err
	}
	for i := range r.Nodes {
		in.checkOwn(&r.Nodes[i])
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

// ownPrefix returns the payload prefix of the store that keeps pointer n
// (its key is the last element of its path).
func (in *Inspector) ownPrefix(n NodeReport) string {
	if n.Kind == KindCheckpoint {
		return checkpointPayloadPrefix(in.ClusterPath, n.JobID)
	}
	return jobGraphPayloadPrefix(in.ClusterPath)
}

// ownPayload checks that the payload pointer n names is its store's own.
func (in *Inspector) ownPayload(n NodeReport) error {
	return ownPayload(in.ownPrefix(n), path.Base(n.Path), n.Payload)
}

// checkOwn marks a pointer naming a file outside its store's payloads foreign,
// whatever that file's state.
func (in *Inspector) checkOwn(n *NodeReport) {
	if !n.Kind.isPointer() || n.Payload == "" {
		return
	}
	if err := in.ownPayload(*n); err != nil {
		n.Status, n.Detail = StatusForeign, err.Error()
	}
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

// CheckPointer decodes a pointer, reads the payload it names and fills n with
// the outcome: the status, the payload's name ("" when the pointer cannot be
// decoded), the error behind a bad status and the leader session stamps.
// Backends call it from Walk with n's Kind set.
func CheckPointer(ctx context.Context, st hdfsstore.Store, data []byte, n *NodeReport) {
	p, err := DecodePointer(data)
	if err != nil {
		n.Status, n.Payload, n.Detail = StatusUndecodable, "", err.Error()
		return
	}
	n.Payload, n.Leader = p.Path, p.Leader
	b, err := readState(ctx, st, p)
	switch {
	case err == nil:
		n.Status, n.Detail = StatusOK, ""
	case errors.Is(err, ErrDanglingPointer):
		n.Status, n.Detail = StatusMissing, err.Error()
		return
	case errors.Is(err, ErrCorruptState):
		n.Status, n.Detail = StatusCorrupt, err.Error()
		return
	default:
		n.Status, n.Detail = StatusUnreadable, err.Error()
		return
	}
	if n.Kind != KindCheckpoint {
		return
	}
	cs, err := DecodeCheckpointStamp(b)
	if err != nil {
		n.Status, n.Detail = StatusCorrupt, fmt.Sprintf("%s: %v", p.Path, err)
		return
	}
	n.PayloadLeader = cs.LeaderSession
	if p.Leader != "" && cs.LeaderSession != uuid.Nil && p.Leader != cs.LeaderSession.String() {
		n.Status, n.Detail = StatusCorrupt, fmt.Sprintf("%s: %v: stored by leader session %s, its pointer says %s",
			p.Path, ErrCorruptState, cs.LeaderSession, p.Leader)
	}
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
// removal was already decided), and never a payload a pointer names. A foreign
// pointer (one naming a file outside its store's payloads) is kept and listed in
// Kept — unless marked, then the pointer goes — and the file it names is never
// deleted; neither is an orphan of the shape the pointer's own payload has (the
// state the foreign pointer displaced, likely its only copy).
//
// Clean inspects afresh and acts only on what is still cleanable then; with prev
// non-nil it also acts only on what prev listed (so `inspect`, a confirmation,
// then `clean` never removes something the user did not see). The backend
// removes a pointer only if it is unchanged since this inspection and no lock
// appeared meanwhile (ZooKeeper: one multi-op that checks the version seen), so a
// pointer a leader replaced or locked since stays.
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
		n, ok := prev.node(p)
		return ok && n.Cleanable()
	}
	var errs []error
	log := in.logger()
	for _, n := range fresh.Nodes {
		if n.Status == StatusForeign && !n.Marked {
			res.Kept = append(res.Kept, Kept{What: n.Path,
				Reason: "foreign pointer: it names " + n.Payload + ", outside the cluster's own files; the file is never deleted, remove or rewrite the pointer yourself"})
			log.Error().Str(in.Backend.PathKey(), n.Path).Str(logging.File, n.Payload).
				Msg("ha clean: foreign pointer kept; the file it names is not the cluster's")
			continue
		}
		if !n.Cleanable() || !wantNode(n.Path) {
			continue
		}
		removed, reason, err := in.Backend.RemovePointer(ctx, in.Storage, n)
		if err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", n.Path, err))
			continue
		}
		if removed == nil {
			res.Kept = append(res.Kept, Kept{What: n.Path, Reason: reason})
			continue
		}
		// Pointer gone: its payload (corrupt, or of a marked pointer) follows,
		// if it is the store's own.
		if removed.Payload != "" && removed.Status != StatusMissing {
			if err := in.ownPayload(*removed); err != nil {
				res.Removed = append(res.Removed, n.Path)
				log.Error().Err(err).Str(in.Backend.PathKey(), n.Path).Str(logging.File, removed.Payload).
					Msg("ha clean: pointer removed; the foreign file it named stays")
				continue
			}
			if err := DeletePayload(ctx, in.Storage, removed.Payload); err != nil {
				errs = append(errs, fmt.Errorf("remove %s: pointer removed, payload kept (an orphan now): %w", n.Path, err))
				continue
			}
		}
		res.Removed = append(res.Removed, n.Path)
		log.Info().Str(in.Backend.PathKey(), n.Path).Str(logging.Reason, string(n.Status)).Bool("marked", n.Marked).
			Msg("ha clean: pointer removed")
	}
	var prevOrphans map[string]bool
	if prev != nil {
		prevOrphans = map[string]bool{}
		for _, o := range prev.Orphans {
			prevOrphans[o.Name] = true
		}
	}
	// A foreign pointer's key may have had a payload of its own: likely the only
	// copy of that state, displaced by whoever wrote the pointer. It stays.
	var foreign []NodeReport
	for _, n := range fresh.Nodes {
		if n.Status == StatusForeign {
			foreign = append(foreign, n)
		}
	}
	displacedBy := func(name string) (string, bool) {
		for _, n := range foreign {
			if ownPayload(in.ownPrefix(n), path.Base(n.Path), name) == nil {
				return n.Path, true
			}
		}
		return "", false
	}
	for _, o := range fresh.Orphans {
		if prevOrphans != nil && !prevOrphans[o.Name] {
			continue
		}
		if p, ok := displacedBy(o.Name); ok {
			res.Kept = append(res.Kept, Kept{What: o.Name, Reason: "may be the state the foreign pointer " + p + " displaced"})
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
		if err := DeletePayload(ctx, in.Storage, o.Name); err != nil {
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
