package job

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/rs/zerolog"
)

// FileSinkConfig configures the exactly-once file sink. Each subtask writes one line
// per record (the number in decimal) into parts named by job, subtask and checkpoint:
//
//	<root>/<path>/_pending/part-<job>-<subtask %05d>-<checkpoint %019d>   sealed, not visible
//	<root>/<path>/part-<job>-<subtask %05d>-<checkpoint %019d>            committed, visible
//
// Output between two barriers is kept in memory (the in-progress part) up to
// Instance.SpillBytes, beyond which it is spilled to
// <root>/<path>/_pending/_spill/ (not visible; while no leader triggers
// checkpoints, a task runs on without growing its memory); the barrier of
// checkpoint n seals the spills and the rest into the pending part n; the
// completion of a checkpoint m ≥ n publishes it under its visible name. A
// restore discards the subtask's spills (the replay writes them again). A subtask lists, publishes and discards
// only the parts of its own job and subtask: other jobs' parts in the same directory,
// and parts of the old format part-<subtask>-<checkpoint>, are never touched. See
// ParsePart, ReadCommitted and ReadCommittedJob.
type FileSinkConfig struct {
	// Path is the output directory relative to the output root, a valid
	// hdfsstore name such as "counts" or "demo/counts".
	Path string `yaml:"path" json:"path"`
}

// Validate checks Path.
func (c *FileSinkConfig) Validate() error {
	if c.Path == "" {
		return &FieldError{Field: "path", Msg: "missing; want a directory relative to the output root, e.g. counts"}
	}
	if err := hdfsstore.ValidateName(c.Path); err != nil {
		return &FieldError{Field: "path", Msg: strings.TrimPrefix(err.Error(), hdfsstore.ErrInvalidName.Error()+": ")}
	}
	return nil
}

// OutputDir returns the store name of a file sink's directory under root.
func OutputDir(root, path string) string {
	if root == "" {
		return path
	}
	return root + "/" + path
}

// NewSink builds the sink of one subtask of job in.Job, which its part names carry.
func (c *FileSinkConfig) NewSink(in Instance) (Sink, error) {
	if in.Output == nil {
		return nil, errors.New("file sink: no output store")
	}
	if in.Job == "" {
		return nil, errors.New("file sink: no job ID: parts are named by job")
	}
	s := &fileSink{
		store:   in.Output,
		dir:     OutputDir(in.OutputRoot, c.Path),
		job:     in.Job,
		subtask: in.Subtask,
		exec:    in.Execution,
		log:     in.Log,
		spillAt: in.SpillBytes,
	}
	if s.spillAt <= 0 {
		s.spillAt = DefaultSpillBytes
	}
	for _, name := range []string{s.pendingName(1), s.finalName(1)} {
		if p, ok := ParsePart(name); !ok || p.Job != in.Job {
			return nil, fmt.Errorf("file sink: job ID %q cannot name a part", in.Job)
		}
		if err := hdfsstore.ValidateName(name); err != nil {
			return nil, fmt.Errorf("file sink: job %s: %w", in.Job, err)
		}
	}
	return s, nil
}

// DefaultSpillBytes is the uncommitted output a file sink keeps in memory
// before it spills to storage.
const DefaultSpillBytes = 8 << 20

// spillTimeout bounds one spill (a write of at most the spill size).
const spillTimeout = time.Minute

const (
	pendingDir = "_pending"
	spillDir   = "_spill"
	// checksumDir holds one sidecar per committed part: its size and CRC32C, so
	// the part itself is a plain file (records only) and still verified on read.
	checksumDir = "_checksums"
	partPrefix  = "part-"
)

// Errors of the file sink; match them with errors.Is.
var (
	// ErrPartLost matches an error about a part a completed checkpoint covers that is
	// in storage neither as pending nor as committed: output of that checkpoint is lost.
	ErrPartLost = errors.New("job: committed part lost")
	// ErrPartConflict matches an error about a pending part whose committed name
	// already holds other bytes: another execution of the same job and subtask
	// published a different part of the same checkpoint ID there (the job ID was
	// reused after its checkpoint counter started over, or a second live instance of
	// the subtask wrote). Neither part is changed: the commit stops at that part and
	// every later one stays pending until an operator moves one of the two away.
	ErrPartConflict = errors.New("job: committed part holds other bytes")
)

// Part is one part of a file sink as its name describes it; see FileSinkConfig.
type Part struct {
	Name       string // the storage name
	Job        JobID  // empty for a part of the old format part-<subtask>-<checkpoint>
	Subtask    int
	Checkpoint int64
}

// partBase is the last component of the name of a part. An empty job gives the old
// format, which names no job.
func partBase(job JobID, subtask int, id int64) string {
	if job == "" {
		return fmt.Sprintf("%s%05d-%019d", partPrefix, subtask, id)
	}
	return fmt.Sprintf("%s%s-%05d-%019d", partPrefix, job, subtask, id)
}

// ParsePart parses the last component of name as a part name, committed or pending:
// part-<job>-<subtask %05d>-<checkpoint %019d>, or part-<subtask>-<checkpoint> of
// the old format (Job empty). A job ID may contain '-': the name is read from the
// right. Only the exact form the sink writes is a part: ok is false for anything
// else (other widths, a suffix, an empty job).
func ParsePart(name string) (Part, bool) {
	base := name[strings.LastIndexByte(name, '/')+1:]
	rest, ok := strings.CutPrefix(base, partPrefix)
	if !ok {
		return Part{}, false
	}
	i := strings.LastIndexByte(rest, '-')
	if i < 0 {
		return Part{}, false
	}
	id, err := strconv.ParseInt(rest[i+1:], 10, 64)
	if err != nil || id < 0 {
		return Part{}, false
	}
	rest = rest[:i]
	var job string
	if j := strings.LastIndexByte(rest, '-'); j >= 0 {
		if job, rest = rest[:j], rest[j+1:]; job == "" {
			return Part{}, false
		}
	}
	subtask, err := strconv.Atoi(rest)
	if err != nil || subtask < 0 {
		return Part{}, false
	}
	p := Part{Name: name, Job: JobID(job), Subtask: subtask, Checkpoint: id}
	if partBase(p.Job, p.Subtask, p.Checkpoint) != base {
		return Part{}, false // not the canonical form: leading signs, other widths
	}
	return p, true
}

type fileSink struct {
	store   hdfsstore.Store
	dir     string
	job     JobID
	subtask int
	exec    string // the execution it runs in, for the stamps
	log     zerolog.Logger

	buf     []byte   // in-progress part; owned by the task loop
	spills  []string // the in-progress part's earlier bytes, spilled; owned by the task loop
	spillAt int      // len(buf) that spills
	lastPre int64    // last checkpoint Seal saw; owned by the task loop
	sealing int64    // the checkpoint whose part the last Seal started (0: none); owned by the task loop

	mu      sync.Mutex
	pending []int64   // checkpoint IDs of sealed, unpublished parts, ascending
	carry   []segment // a part whose write failed: the next one starts with it
}

// segment is a piece of an in-progress part: a spill (its name) or bytes.
type segment struct {
	spill string
	b     []byte
}

type fileSinkState struct {
	Pending []int64 `json:"pending"`
}

func (s *fileSink) partBase(id int64) string { return partBase(s.job, s.subtask, id) }

func (s *fileSink) pendingName(id int64) string {
	return s.dir + "/" + pendingDir + "/" + s.partBase(id)
}

func (s *fileSink) finalName(id int64) string { return s.dir + "/" + s.partBase(id) }

// ownParts lists the parts of this job and subtask directly in dir, by checkpoint.
// The listing prefix also matches other jobs whose ID starts with this one's and a
// '-' (and names that are not parts at all): the parse tells them apart.
func (s *fileSink) ownParts(ctx context.Context, dir string) ([]Part, error) {
	names, err := s.store.List(ctx, dir+"/"+partPrefix+string(s.job)+"-")
	if err != nil {
		return nil, err
	}
	var own []Part
	for _, name := range names {
		if p, ok := ParsePart(name); ok && inDir(name, dir) && p.Job == s.job && p.Subtask == s.subtask {
			own = append(own, p)
		}
	}
	slices.SortFunc(own, func(a, b Part) int { return cmp.Compare(a.Checkpoint, b.Checkpoint) })
	return own, nil
}

// inDir reports whether name is directly in dir, not in a subdirectory of it.
func inDir(name, dir string) bool {
	base, ok := strings.CutPrefix(name, dir+"/")
	return ok && !strings.Contains(base, "/")
}

func (s *fileSink) Write(v int64) error {
	s.buf = strconv.AppendInt(s.buf, v, 10)
	s.buf = append(s.buf, '\n')
	if len(s.buf) >= s.spillAt {
		return s.spill()
	}
	return nil
}

// spillPrefix starts the names of this subtask's spills.
func (s *fileSink) spillPrefix() string {
	return fmt.Sprintf("%s/%s/%s/%s%s-%05d-", s.dir, pendingDir, spillDir, partPrefix, s.job, s.subtask)
}

// spill moves the in-progress part's bytes to storage, still invisible: the
// next seal concatenates them.
func (s *fileSink) spill() error {
	ctx, cancel := context.WithTimeout(context.Background(), spillTimeout)
	defer cancel()
	name := fmt.Sprintf("%s%019d-%06d", s.spillPrefix(), s.lastPre, len(s.spills))
	if _, err := hdfsstore.PutBytes(ctx, s.store, name, s.buf); err != nil {
		return fmt.Errorf("file sink: spill %d bytes of uncommitted output to %s: %w", len(s.buf), name, err)
	}
	s.spills = append(s.spills, name)
	s.buf = s.buf[:0]
	if len(s.spills) == 1 {
		s.log.Info().Str(logging.File, name).Int("bytes", s.spillAt).Msg("file sink: uncommitted output spilled to storage (no checkpoint for a while)")
	}
	return nil
}

// sealed streams a part: its segments in order, spills read from storage.
func (s *fileSink) sealed(ctx context.Context, part []segment) io.ReadCloser {
	pr, pw := io.Pipe()
	go func() {
		for _, seg := range part {
			if seg.spill == "" {
				if _, err := pw.Write(seg.b); err != nil {
					pw.CloseWithError(err)
					return
				}
				continue
			}
			rc, err := s.store.Get(ctx, seg.spill)
			if err != nil {
				pw.CloseWithError(fmt.Errorf("read spill %s: %w", seg.spill, err))
				return
			}
			_, err = io.Copy(pw, rc)
			rc.Close()
			if err != nil {
				pw.CloseWithError(fmt.Errorf("read spill %s: %w", seg.spill, err))
				return
			}
		}
		pw.Close()
	}()
	return pr
}

func (s *fileSink) Seal(id int64) (func(ctx context.Context) error, error) {
	if id <= s.lastPre {
		return nil, fmt.Errorf("file sink: checkpoint %d after %d: IDs must increase", id, s.lastPre)
	}
	s.lastPre, s.sealing = id, 0
	s.mu.Lock()
	part := s.carry
	s.carry = nil
	s.mu.Unlock()
	for _, sp := range s.spills {
		part = append(part, segment{spill: sp})
	}
	if len(s.buf) > 0 {
		part = append(part, segment{b: s.buf})
	}
	if len(part) == 0 {
		return nil, nil // nothing to seal: no part for this checkpoint
	}
	// The write owns the taken bytes: the next part gets a buffer of its own.
	s.spills, s.buf, s.sealing = nil, make([]byte, 0, cap(s.buf)), id
	name := s.pendingName(id)
	return func(ctx context.Context) error {
		r := s.sealed(ctx, part)
		_, err := s.store.Put(ctx, name, r)
		r.Close() // ends the stream's goroutine if Put stopped reading early
		if err != nil {
			s.mu.Lock()
			s.carry = part
			s.mu.Unlock()
			return fmt.Errorf("file sink: seal part %s: %w", name, err)
		}
		for _, seg := range part {
			if seg.spill == "" {
				continue
			}
			if err := s.store.Delete(ctx, seg.spill); err != nil && !errors.Is(err, fs.ErrNotExist) {
				s.log.Warn().Err(err).Str(logging.File, seg.spill).Msg("file sink: cannot remove a sealed spill; the next restore removes it")
			}
		}
		s.mu.Lock()
		s.pending = append(s.pending, id)
		s.mu.Unlock()
		return nil
	}, nil
}

func (s *fileSink) SnapshotState() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	pending := append([]int64{}, s.pending...)
	if s.sealing > 0 && !slices.Contains(pending, s.sealing) {
		pending = append(pending, s.sealing)
	}
	return json.Marshal(fileSinkState{Pending: pending})
}

func (s *fileSink) Commit(ctx context.Context, upTo int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for len(s.pending) > 0 && s.pending[0] <= upTo {
		if err := s.publish(ctx, s.pending[0], upTo); err != nil {
			return err
		}
		s.pending = s.pending[1:]
	}
	return nil
}

// publish makes the pending part of checkpoint id visible, as the commit of
// checkpoint by under the leader session ctx carries (the part's stamp): copy to
// the final name (an atomic Put), then remove the pending one. It never replaces
// a committed part (nor its stamp):
//
//   - pending gone, committed present: published before; nothing to do.
//   - both present with the same bytes: published before, the pending copy was not
//     removed yet (a crash in between); it is removed now.
//   - both present with different bytes: ErrPartConflict, both stay as they are.
//
// The part is streamed, never held whole: its size and CRC32C come from the
// pending part's trailer (so a truncated part is refused before anything is
// written), its payload is checked against them as it is copied, and a part that
// does not match is not published (hdfsstore.ErrCorrupt). Memory stays at the
// store's copy buffer (and commitBuffer twice to compare with a part already
// there), whatever the part's size.
//
// The check and the Put are not one atomic step (the store has no create-if-absent):
// two live instances of one subtask can still race; see the package documentation.
func (s *fileSink) publish(ctx context.Context, id, by int64) error {
	from, to := s.pendingName(id), s.finalName(id)
	pend, err := s.store.Stat(ctx, from)
	if errors.Is(err, fs.ErrNotExist) {
		if rerr := verifyPart(ctx, s.store, to); rerr == nil {
			return nil
		} else if !errors.Is(rerr, fs.ErrNotExist) {
			return fmt.Errorf("file sink: commit %s: %w", to, rerr)
		}
		return fmt.Errorf("%w: %s (checkpoint %d) is neither pending nor committed", ErrPartLost, to, id)
	}
	if err != nil {
		return fmt.Errorf("file sink: commit %s: read pending part: %w", to, err)
	}
	old, oldInfo, err := openPart(ctx, s.store, to)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		stamp := PartStamp{LeaderSession: leaderSession(ctx), Execution: s.exec, CommittedBy: by}
		if err := copyPart(ctx, s.store, from, pend, to, stamp); err != nil {
			return fmt.Errorf("file sink: commit %s: %w", to, err)
		}
	case err != nil:
		return fmt.Errorf("file sink: commit %s: read the committed part already there: %w", to, err)
	default:
		same, err := sameAsPending(ctx, s.store, old, oldInfo, from, pend)
		old.Close()
		if err != nil {
			return fmt.Errorf("file sink: commit %s: compare with the committed part already there: %w", to, err)
		}
		if !same {
			return fmt.Errorf("%w: commit %s (checkpoint %d): it holds %d bytes (crc32c %08x), the pending part %s %d bytes (crc32c %08x); both are kept",
				ErrPartConflict, to, id, oldInfo.Size, oldInfo.Checksum, from, pend.Size, pend.Checksum)
		}
	}
	if err := s.store.Delete(ctx, from); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("file sink: commit %s: remove pending part: %w", to, err)
	}
	s.log.Debug().Int64(logging.Checkpoint, id).Int64("committed_by", by).Str(logging.LeaderSession, leaderSession(ctx).String()).
		Str(logging.File, to).Msg("committed part")
	return nil
}

// commitBuffer is the size of each of the two buffers that compare a pending part
// with a committed one of the same name.
const commitBuffer = 64 << 10

// partSum is a committed part's sidecar in _checksums/: what the part must hold,
// and who committed it (absent in sidecars written before stamps existed).
type partSum struct {
	Size          int64  `json:"size"`
	CRC32C        uint32 `json:"crc32c"`
	LeaderSession string `json:"leaderSession,omitempty"`
	Execution     string `json:"execution,omitempty"`
	CommittedBy   int64  `json:"committedBy,omitempty"`
}

// PartStamp says who committed a part: the leader session of the command
// (checkpoint completion or restore) whose commit published it, the execution
// of the job whose task did it, and that command's checkpoint (CommittedBy ≥
// the part's own checkpoint). A part committed before stamps existed has the
// zero stamp: uuid.Nil, "", 0.
type PartStamp struct {
	LeaderSession uuid.UUID
	Execution     string
	CommittedBy   int64
}

type leaderSessionKey struct{}

// WithLeaderSession returns ctx carrying the leader session a sink commit runs
// under: the fencing token of the command (a checkpoint completion, a
// deployment that restores) that the TaskManager accepted. The file sink
// stamps each part it publishes with it. Without one, parts carry uuid.Nil.
func WithLeaderSession(ctx context.Context, session uuid.UUID) context.Context {
	return context.WithValue(ctx, leaderSessionKey{}, session)
}

// leaderSession is the leader session ctx carries (uuid.Nil: none).
func leaderSession(ctx context.Context) uuid.UUID {
	id, _ := ctx.Value(leaderSessionKey{}).(uuid.UUID)
	return id
}

// ReadPartStamp returns the stamp of the committed part name from its sidecar:
// the zero stamp for a part of the earlier formats (no sidecar, or a sidecar
// without a stamp). A stamp that cannot be read is hdfsstore.ErrCorrupt.
func ReadPartStamp(ctx context.Context, st hdfsstore.Store, name string) (PartStamp, error) {
	raw, err := hdfsstore.GetBytes(ctx, st, sidecarName(name))
	if errors.Is(err, fs.ErrNotExist) {
		if _, err := st.Stat(ctx, name); err != nil {
			return PartStamp{}, fmt.Errorf("job: stamp of part %s: %w", name, err)
		}
		return PartStamp{}, nil
	}
	if err != nil {
		return PartStamp{}, fmt.Errorf("job: stamp of part %s: checksum sidecar: %w", name, err)
	}
	var sum partSum
	if err := json.Unmarshal(raw, &sum); err != nil {
		return PartStamp{}, fmt.Errorf("job: stamp of part %s: %w: %v", name, hdfsstore.ErrCorrupt, err)
	}
	if sum.LeaderSession == "" {
		return PartStamp{Execution: sum.Execution, CommittedBy: sum.CommittedBy}, nil
	}
	id, err := uuid.Parse(sum.LeaderSession)
	if err != nil {
		return PartStamp{}, fmt.Errorf("job: stamp of part %s: %w: leader session %q is not a UUID", name, hdfsstore.ErrCorrupt, sum.LeaderSession)
	}
	return PartStamp{LeaderSession: id, Execution: sum.Execution, CommittedBy: sum.CommittedBy}, nil
}

// sidecarName is the name of the checksum sidecar of the committed part name.
func sidecarName(name string) string {
	i := strings.LastIndexByte(name, '/')
	return name[:i+1] + checksumDir + "/" + name[i+1:]
}

// writeSidecar stores the checksum sidecar of the committed part name: its size,
// CRC32C and the commit's stamp.
func writeSidecar(ctx context.Context, st hdfsstore.Store, name string, size int64, crc uint32, stamp PartStamp) error {
	ps := partSum{Size: size, CRC32C: crc, Execution: stamp.Execution, CommittedBy: stamp.CommittedBy}
	if stamp.LeaderSession != uuid.Nil {
		ps.LeaderSession = stamp.LeaderSession.String()
	}
	sum, err := json.Marshal(ps)
	if err != nil {
		return err
	}
	if _, err := hdfsstore.PutBytes(ctx, st, sidecarName(name), sum); err != nil {
		return fmt.Errorf("write checksum sidecar: %w", err)
	}
	return nil
}

// copyPart publishes the pending part from (whose trailer records want) as the
// committed plain part to, streaming it: first the sidecar (size, CRC32C and the
// commit's stamp, a checked store object), then the part, each atomically. A crash between the two
// leaves a sidecar and no part; the pending part is still there and the next
// publish writes both. A pending payload that does not match its trailer fails
// the copy (ErrCorrupt): the part is not published and the sidecar is removed;
// a put that fails otherwise may have published the part, so its sidecar stays.
func copyPart(ctx context.Context, st hdfsstore.Store, from string, want hdfsstore.Info, to string, stamp PartStamp) error {
	p, ok := st.(hdfsstore.Plain)
	if !ok {
		return fmt.Errorf("put %q: %w", to, hdfsstore.ErrNoPlain)
	}
	if err := writeSidecar(ctx, st, to, want.Size, want.Checksum, stamp); err != nil {
		return err
	}
	rc, err := st.Get(ctx, from)
	if err != nil {
		return errors.Join(fmt.Errorf("read pending part: %w", err), removeSidecar(ctx, st, to))
	}
	src := &sourceReader{r: rc}
	got, err := p.PutPlain(ctx, to, src)
	rc.Close()
	if err != nil {
		if src.err != nil {
			// The pending part could not be read (corrupt, cut short): the put
			// stopped before publishing, so the sidecar describes nothing.
			return errors.Join(fmt.Errorf("copy pending part %s: %w", from, err), removeSidecar(ctx, st, to))
		}
		// The put itself failed, maybe after its rename (a directory fsync, a
		// lost reply): the part may be published, and then needs its sidecar.
		return fmt.Errorf("copy pending part %s (the part may be published; its sidecar stays): %w", from, err)
	}
	if got.Size != want.Size || got.Checksum != want.Checksum {
		// The pending part was replaced between its Stat and its Get (a second live
		// instance of the subtask): what was copied was verified against its own
		// trailer; record that.
		if err := writeSidecar(ctx, st, to, got.Size, got.Checksum, stamp); err != nil {
			return fmt.Errorf("part %s published, its sidecar stale: %w", to, err)
		}
	}
	return nil
}

// sourceReader remembers the first error reading the source of a copy gave,
// other than io.EOF.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(b []byte) (int, error) {
	n, err := s.r.Read(b)
	if err != nil && err != io.EOF && s.err == nil {
		s.err = err
	}
	return n, err
}

// removeSidecar removes the sidecar of a part whose copy failed.
func removeSidecar(ctx context.Context, st hdfsstore.Store, name string) error {
	if err := st.Delete(ctx, sidecarName(name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the checksum sidecar of the unpublished part: %w", err)
	}
	return nil
}

// sameAsPending reports whether the committed part read by old (recorded as
// oldInfo) holds the same bytes as the pending part from (recorded as pend),
// reading both through commitBuffer-sized buffers and verifying both.
func sameAsPending(ctx context.Context, st hdfsstore.Store, old io.Reader, oldInfo hdfsstore.Info, from string, pend hdfsstore.Info) (bool, error) {
	if oldInfo.Size != pend.Size || oldInfo.Checksum != pend.Checksum {
		return false, nil
	}
	rc, err := st.Get(ctx, from)
	if err != nil {
		return false, fmt.Errorf("read pending part: %w", err)
	}
	defer rc.Close()
	a, b := make([]byte, commitBuffer), make([]byte, commitBuffer)
	for {
		na, erra := io.ReadFull(old, a)
		nb, errb := io.ReadFull(rc, b)
		if !bytes.Equal(a[:na], b[:nb]) {
			return false, nil
		}
		endA, endB := erra == io.EOF || erra == io.ErrUnexpectedEOF, errb == io.EOF || errb == io.ErrUnexpectedEOF
		switch {
		case erra != nil && !endA:
			return false, erra
		case errb != nil && !endB:
			return false, fmt.Errorf("read pending part %s: %w", from, errb)
		case endA != endB:
			return false, nil
		case endA:
			// Both ended; their verifying readers report a mismatch on the next read.
			if _, err := old.Read(a[:1]); err != io.EOF {
				return false, err
			}
			if _, err := rc.Read(b[:1]); err != io.EOF {
				return false, fmt.Errorf("read pending part %s: %w", from, err)
			}
			return true, nil
		}
	}
}

// openPart opens a committed part for a verified read and returns its record:
// a plain part checked against its sidecar, a part of the earlier format
// (payload and hdfsstore's trailer, no sidecar) by its trailer. The reader
// returns an error matching hdfsstore.ErrCorrupt instead of io.EOF when the part
// does not match.
func openPart(ctx context.Context, st hdfsstore.Store, name string) (io.ReadCloser, hdfsstore.Info, error) {
	raw, err := hdfsstore.GetBytes(ctx, st, sidecarName(name))
	if errors.Is(err, fs.ErrNotExist) {
		info, err := st.Stat(ctx, name) // the earlier format, if anything
		if err != nil {
			return nil, hdfsstore.Info{}, err
		}
		rc, err := st.Get(ctx, name)
		return rc, info, err
	}
	if err != nil {
		return nil, hdfsstore.Info{}, fmt.Errorf("checksum sidecar of %s: %w", name, err)
	}
	var sum partSum
	if err := json.Unmarshal(raw, &sum); err != nil {
		return nil, hdfsstore.Info{}, fmt.Errorf("checksum sidecar of %s: %w: %v", name, hdfsstore.ErrCorrupt, err)
	}
	want := hdfsstore.Info{Name: name, Size: sum.Size, Checksum: sum.CRC32C}
	p, ok := st.(hdfsstore.Plain)
	if !ok {
		return nil, hdfsstore.Info{}, fmt.Errorf("get %q: %w", name, hdfsstore.ErrNoPlain)
	}
	rc, err := p.GetPlain(ctx, name, &want)
	return rc, want, err
}

// verifyPart reads a committed part through and verifies it, holding none of it.
func verifyPart(ctx context.Context, st hdfsstore.Store, name string) error {
	rc, _, err := openPart(ctx, st, name)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.CopyBuffer(io.Discard, rc, make([]byte, commitBuffer))
	return err
}

// ReadPart reads a committed part and verifies it: a plain part against its sidecar,
// a part of the earlier format (payload and hdfsstore's trailer, no sidecar) by its
// trailer. A part that matches neither is corrupt (hdfsstore.ErrCorrupt).
func ReadPart(ctx context.Context, st hdfsstore.Store, name string) ([]byte, error) {
	rc, info, err := openPart(ctx, st, name)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var buf bytes.Buffer
	buf.Grow(int(info.Size) + bytes.MinRead)
	if _, err := buf.ReadFrom(rc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Restore never removes a committed part. It publishes the pending parts the
// checkpoint covers, discards this job's and subtask's other pending parts (never
// visible; the replay produces their records again), and leaves committed parts
// newer than the checkpoint where they are, with a warning: they exist only when the
// restore falls back to an older checkpoint than the newest completed one (or starts
// afresh), and the replay writes their records again into new parts.
func (s *fileSink) Restore(ctx context.Context, id int64, state []byte) error {
	var st fileSinkState
	if state != nil {
		if err := json.Unmarshal(state, &st); err != nil {
			return fmt.Errorf("file sink state: %w", err)
		}
	}
	for i, p := range st.Pending {
		if p > id || (i > 0 && p <= st.Pending[i-1]) {
			return fmt.Errorf("file sink state: pending parts %v: want ascending checkpoint IDs ≤ %d", st.Pending, id)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buf, s.lastPre, s.pending, s.spills, s.carry, s.sealing = s.buf[:0], id, nil, nil, nil, 0
	// 0. Spills of an in-progress part are never covered: the replay writes them again.
	spills, err := s.store.List(ctx, s.spillPrefix())
	if err != nil {
		return fmt.Errorf("restore from checkpoint %d: list spills: %w", id, err)
	}
	for _, sp := range spills {
		if err := s.store.Delete(ctx, sp); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restore from checkpoint %d: discard spill %s: %w", id, sp, err)
		}
	}
	// 1. Finish the commit of what checkpoint id covers.
	for _, p := range st.Pending {
		if err := s.publish(ctx, p, id); err != nil {
			return fmt.Errorf("restore from checkpoint %d: %w", id, err)
		}
	}
	// 2. Discard this subtask's pending parts the checkpoint does not cover.
	pend, err := s.ownParts(ctx, s.dir+"/"+pendingDir)
	if err != nil {
		return fmt.Errorf("restore from checkpoint %d: list pending parts: %w", id, err)
	}
	for _, p := range pend {
		if err := s.store.Delete(ctx, p.Name); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("restore from checkpoint %d: discard uncommitted part %s: %w", id, p.Name, err)
		}
		s.log.Info().Str(logging.File, p.Name).Str(logging.Reason, "not covered by the restored checkpoint").
			Msg("file sink restore: discarded an uncommitted part")
	}
	// 3. Committed parts newer than the checkpoint stay.
	final, err := s.ownParts(ctx, s.dir)
	if err != nil {
		return fmt.Errorf("restore from checkpoint %d: list parts: %w", id, err)
	}
	var newer []string
	for _, p := range final {
		if p.Checkpoint > id {
			newer = append(newer, p.Name)
		}
	}
	if len(newer) > 0 {
		s.log.Warn().Int64(logging.Checkpoint, id).Strs(logging.File+"s", newer).
			Msg("file sink restore: committed parts newer than the restored checkpoint stay; the replay writes their records again (duplicates)")
	}
	return nil
}

// ReadCommitted returns the records of every committed (visible) part in a file sink
// directory dir (see OutputDir): every job's, and parts of the old format, as a
// reader of the directory sees them. The order is stable: by job (old-format parts
// first), subtask and checkpoint, then line by line. Pending parts are not read.
func ReadCommitted(ctx context.Context, store hdfsstore.Store, dir string) ([]int64, error) {
	parts, err := CommittedParts(ctx, store, dir)
	if err != nil {
		return nil, err
	}
	return readParts(ctx, store, parts)
}

// ReadCommittedJob returns the records of job's committed parts in dir, by subtask
// and checkpoint, then line by line: the output of that job alone.
func ReadCommittedJob(ctx context.Context, store hdfsstore.Store, dir string, job JobID) ([]int64, error) {
	parts, err := CommittedJobParts(ctx, store, dir, job)
	if err != nil {
		return nil, err
	}
	return readParts(ctx, store, parts)
}

// CommittedJobParts lists job's committed parts directly in dir, by subtask
// and checkpoint.
func CommittedJobParts(ctx context.Context, store hdfsstore.Store, dir string, job JobID) ([]Part, error) {
	if job == "" {
		return nil, fmt.Errorf("job: read committed output %s: no job ID", dir)
	}
	return committedParts(ctx, store, dir, partPrefix+string(job)+"-", func(p Part) bool { return p.Job == job })
}

// CommittedParts lists the committed parts directly in dir, of every job and of the
// old format, by job (old format first), subtask and checkpoint. Select one job's
// by Part.Job; those of a checkpoint newer than the one a job restores from are what
// its replay duplicates.
func CommittedParts(ctx context.Context, store hdfsstore.Store, dir string) ([]Part, error) {
	return committedParts(ctx, store, dir, partPrefix, func(Part) bool { return true })
}

func committedParts(ctx context.Context, store hdfsstore.Store, dir, prefix string, keep func(Part) bool) ([]Part, error) {
	names, err := store.List(ctx, dir+"/"+prefix)
	if err != nil {
		return nil, fmt.Errorf("job: read committed output %s: %w", dir, err)
	}
	var parts []Part
	for _, name := range names {
		if p, ok := ParsePart(name); ok && inDir(name, dir) && keep(p) {
			parts = append(parts, p)
		}
	}
	slices.SortFunc(parts, func(a, b Part) int {
		return cmp.Or(strings.Compare(string(a.Job), string(b.Job)),
			cmp.Compare(a.Subtask, b.Subtask), cmp.Compare(a.Checkpoint, b.Checkpoint))
	})
	return parts, nil
}

func readParts(ctx context.Context, store hdfsstore.Store, parts []Part) ([]int64, error) {
	var out []int64
	for _, p := range parts {
		b, err := ReadPart(ctx, store, p.Name)
		if err != nil {
			return nil, fmt.Errorf("job: read committed output: %w", err)
		}
		sc := bufio.NewScanner(bytes.NewReader(b))
		for line := 1; sc.Scan(); line++ {
			v, err := strconv.ParseInt(sc.Text(), 10, 64)
			if err != nil {
				return nil, fmt.Errorf("job: read committed output: %s:%d: %q is not a number", p.Name, line, sc.Text())
			}
			out = append(out, v)
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("job: read committed output: %s: %w", p.Name, err)
		}
	}
	return out, nil
}
