package integration_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/job"
	"github.com/amkeeper/amkeeper/jobmanager"
	"github.com/amkeeper/amkeeper/supervisor"
	"github.com/amkeeper/amkeeper/taskmanager"
)

// unreadable is a session with two counting jobs (A on "counts", B on
// "counts-b"), three retained checkpoints each, and A's checkpoints in
// ZooKeeper at hand.
type unreadable struct {
	c       *cli
	id      string
	client  *supervisor.ControlClient
	a, b    string // job IDs
	store   hdfsstore.Store
	raw     *zk.Conn
	cpDir   string // job A's checkpoint pointers
	storage string // local directory of the storage
	paused  int    // the AM process stopAM paused and killAM has not killed yet
}

func newUnreadable(t *testing.T) *unreadable {
	b := strings.Replace(fastCounting, "path: counts", "path: counts-b", 1)
	b = strings.Replace(b, "name: counting", "name: counting-b", 1)
	// These tests are about restoring a job: with no leaderless grace the
	// TaskManagers cancel the tasks when the AM dies, and the next leader restores
	// them (with a grace period it would adopt them and never read a checkpoint).
	c, id, client, jobs, store := jobSessionWith(t, 2, func(c *cli) {
		c.ha = append(c.ha, "-D", "state.checkpoints.num-retained=3", "-D", "amkeeper.taskmanager.leaderless-grace=0")
	}, fastCounting, b)
	u := &unreadable{c: c, id: id, client: client, a: jobs[0], b: jobs[1], store: store, raw: zkc.Conn(t),
		storage: strings.TrimPrefix(c.haValue("high-availability.storageDir"), "file://")}
	t.Cleanup(func() { // the test ended with the AM paused
		if u.paused != 0 {
			_ = syscall.Kill(u.paused, syscall.SIGCONT)
		}
	})
	u.cpDir = c.haValue("high-availability.zookeeper.path.root") + "/" + c.haValue("high-availability.cluster-id") + "/jobs/" + u.a + "/checkpoints"
	require.Eventually(t, func() bool {
		names, _, err := u.raw.Children(u.cpDir)
		return err == nil && len(names) >= 3 && len(committed(t, store, "counts")) >= 3
	}, 60*time.Second, 20*time.Millisecond, "three retained checkpoints of job A")
	return u
}

// stopAM pauses the leading AM (SIGSTOP), so that nothing completes or subsumes
// a checkpoint of job A any more, and returns A's retained checkpoint IDs,
// ascending. A test damages one, then kills the paused AM (killAM): the next
// attempt cannot have read a checkpoint before its damage.
func (u *unreadable) stopAM(t *testing.T) []int64 {
	st, err := u.client.Status(context.Background())
	require.NoError(t, err)
	var pid int
	for _, am := range st.AMs {
		if am.Leading {
			pid = am.PID
		}
	}
	require.NotZero(t, pid, "the leading AM: %+v", st.AMs)
	require.NoError(t, syscall.Kill(pid, syscall.SIGSTOP))
	u.paused = pid
	names, _, err := u.raw.Children(u.cpDir)
	require.NoError(t, err)
	sort.Strings(names)
	var ids []int64
	for _, n := range names {
		id, err := strconv.ParseInt(n, 10, 64)
		require.NoError(t, err)
		ids = append(ids, id)
	}
	return ids
}

// resumeAM resumes the AM stopAM paused.
func (u *unreadable) resumeAM(t *testing.T) {
	require.NoError(t, syscall.Kill(u.paused, syscall.SIGCONT))
	u.paused = 0
}

// killAM kills the leading AM (SIGKILL, paused or not).
func (u *unreadable) killAM(t *testing.T) {
	_, err := u.client.KillAM(context.Background())
	require.NoError(t, err)
	u.paused = 0
}

// payload returns the local file of checkpoint id's metadata.
func (u *unreadable) payload(t *testing.T, id int64) string {
	data, _, err := u.raw.Get(fmt.Sprintf("%s/%019d", u.cpDir, id))
	require.NoError(t, err)
	var ptr struct {
		Path string `json:"path"`
	}
	require.NoError(t, json.Unmarshal(data, &ptr))
	return filepath.Join(u.storage, ptr.Path)
}

// snapshot is job A's recovery data: its checkpoint pointers (ZooKeeper data)
// and every file of its own in storage (checkpoint metadata, task state,
// committed and pending output), with their bytes. It is taken while the
// TaskManagers may still be carrying out the last commands of the paused or
// killed leader, so what those commands write is left out: files being written
// (hdfsstore temporaries, renamed away at any moment), and the task state and
// sealed parts of checkpoints newer than the newest pointer (triggered, never
// stored: no recovery reads them). A part is keyed by its name without the
// _pending directory, because a completion in flight may publish it meanwhile
// (the same bytes under its visible name).
func (u *unreadable) snapshot(t *testing.T) map[string]string {
	out := map[string]string{}
	names, _, err := u.raw.Children(u.cpDir)
	require.NoError(t, err)
	var newest int64
	for _, n := range names {
		data, _, err := u.raw.Get(u.cpDir + "/" + n)
		require.NoError(t, err)
		out["zk:"+n] = string(data)
		id, err := strconv.ParseInt(n, 10, 64)
		require.NoError(t, err)
		newest = max(newest, id)
	}
	stateDir := "/state/" + u.a + "/chk-"
	require.NoError(t, filepath.WalkDir(u.storage, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(p, u.a) || strings.HasPrefix(d.Name(), hdfsstore.TempPrefix) {
			return err
		}
		key := p
		if _, rest, ok := strings.Cut(p, stateDir); ok {
			chk, _, _ := strings.Cut(rest, "/")
			if id, err := strconv.ParseInt(chk, 10, 64); err == nil && id > newest {
				return nil
			}
		}
		if part, ok := job.ParsePart(p); ok && part.Job == job.JobID(u.a) {
			if part.Checkpoint > newest {
				return nil
			}
			key = "part:" + strings.Replace(p, "/_pending/", "/", 1)
		}
		b, err := os.ReadFile(p)
		if errors.Is(err, fs.ErrNotExist) && strings.Contains(p, "/_pending/") {
			return nil // published meanwhile: read under its visible name
		}
		if strings.HasPrefix(key, "part:") && err == nil {
			// A pending part (with its trailer) may be committed (plain) between two
			// snapshots: compare what either holds, the records.
			name := strings.TrimPrefix(p, u.storage+"/")
			if strings.Contains(p, "/_pending/") {
				b, err = hdfsstore.GetBytes(context.Background(), u.store, name)
			} else {
				b, err = job.ReadPart(context.Background(), u.store, name)
			}
			if errors.Is(err, fs.ErrNotExist) {
				return nil // published or removed meanwhile
			}
		}
		if strings.Contains(filepath.Base(p), "submittedJobGraph-") {
			// The job graph is rewritten, under a new file name, with each
			// execution a leader records before it deploys (issue 18): the
			// graph without its execution must not change.
			payload := string(b[:bytes.LastIndexByte(b, '}')+1])
			out["job graph"] = executionField.ReplaceAllString(payload, "")
			return err
		}
		out[key] = string(b)
		return err
	}))
	return out
}

// executionField matches the execution a job graph payload records.
var executionField = regexp.MustCompile(`"execution":"[0-9a-f-]*",?`)

// jobStatus returns job A as the leader lists it, or false.
func (u *unreadable) jobStatus(jobID string) (jobmanager.JobStatus, bool) {
	rest := leaderOf(u.client)
	var res struct {
		Jobs []jobmanager.JobStatus `json:"jobs"`
	}
	if rest == "" || getJSON(rest+"/jobs", &res) != nil {
		return jobmanager.JobStatus{}, false
	}
	for _, j := range res.Jobs {
		if j.JobID == jobID {
			return j, true
		}
	}
	return jobmanager.JobStatus{}, false
}

// requireFailed waits until job A is listed RECOVERY_FAILED naming checkpoint
// cp (and file, when not empty), while job B runs on; then checks that A's data
// did not change (a resubmission of A's ID is refused), its committed output is
// exact, and the AM logged the failure once.
func (u *unreadable) requireFailed(t *testing.T, cp int64, file string, before map[string]string) jobmanager.JobStatus {
	var st jobmanager.JobStatus
	require.Eventually(t, func() bool {
		var ok bool
		st, ok = u.jobStatus(u.a)
		return ok && st.State == jobmanager.JobRecoveryFailed
	}, 60*time.Second, 20*time.Millisecond, "job A is listed as RECOVERY_FAILED")
	require.Equal(t, cp, st.Checkpoint)
	require.Contains(t, st.Error, fmt.Sprintf("checkpoint %d of job %s", cp, u.a))
	if file != "" {
		require.Contains(t, st.Error, file, "the error names the file")
	}
	n := len(committed(t, u.store, "counts-b"))
	require.Eventually(t, func() bool { return len(committed(t, u.store, "counts-b")) >= n+3 }, 60*time.Second, 20*time.Millisecond,
		"job B runs on")
	requireExactCounts(t, committed(t, u.store, "counts-b"), n+3)
	// A resubmission of A's ID (another graph, another sink) is refused while A is
	// listed failed, and stores nothing.
	other := strings.Replace(strings.Replace(fastCounting, "path: counts", "path: counts-again", 1), "name: counting", "name: again", 1)
	code, body := postJSON(t, appDirFor(u.c, u.id), leaderOf(u.client)+"/jobs",
		jobmanager.JobSubmission{JobID: u.a, Name: "again", Graph: encodeGraph(t, u.a, other)})
	require.Equal(t, http.StatusConflict, code, body)
	require.Contains(t, body, u.a)
	require.Equal(t, before, u.snapshot(t), "ZooKeeper pointers and storage files of job A unchanged")
	requireExactCounts(t, committed(t, u.store, "counts"), 3)
	require.Empty(t, committed(t, u.store, "counts-again"), "the refused resubmission never ran")

	out, err := u.c.run("", "list", "-id", u.id)
	require.NoError(t, err)
	require.Regexp(t, u.a+`\s+(counting\s+)?RECOVERY_FAILED\s+.*checkpoint `+strconv.FormatInt(cp, 10), out)

	status, err := u.client.Status(context.Background())
	require.NoError(t, err)
	amLog, err := os.ReadFile(status.AMLog)
	require.NoError(t, err)
	require.Equal(t, 1, strings.Count(string(amLog), "job recovery failed: its latest checkpoint is unreadable"), "logged once")
	require.Contains(t, string(amLog), fmt.Sprintf(`"checkpoint":%d`, cp))
	require.NotContains(t, string(amLog), "falling back")
	return st
}

// TestCorruptNewestCheckpointFailsRecovery: with the AM paused, one byte of job
// A's newest checkpoint metadata is flipped; then the AM is killed. The next attempt does not fall back: job A
// is listed RECOVERY_FAILED naming the checkpoint and its file, nothing of A's
// changes in ZooKeeper or storage, and job B runs on. The operator's fall-back
// then says which committed parts the replay duplicates, changes nothing without
// --yes, and with it restores A from the older checkpoint; every part committed
// before keeps its bytes, and once the listed parts are set aside the output is
// exact through every window committed before and three more (the replay
// re-produced the duplicated windows, no gap, no other duplicate).
func TestCorruptNewestCheckpointFailsRecovery(t *testing.T) {
	u := newUnreadable(t)
	// Paused when job A has a committed part newer than its oldest retained
	// checkpoint (older), so that the fall-back to older duplicates output. A
	// checkpoint interval may hold no window.
	var ids []int64
	require.Eventually(t, func() bool {
		ids = u.stopAM(t)
		for name := range committedBytes(t, u.store, "counts") {
			if p, ok := job.ParsePart(name); ok && p.Checkpoint > ids[0] {
				return true
			}
		}
		u.resumeAM(t)
		return false
	}, 60*time.Second, 20*time.Millisecond, "a committed part of job A newer than its oldest retained checkpoint")
	newest, older := ids[len(ids)-1], ids[0]
	payload := u.payload(t, newest)
	b, err := os.ReadFile(payload)
	require.NoError(t, err)
	b[0] ^= 0xff
	require.NoError(t, os.WriteFile(payload, b, 0o600))
	u.killAM(t)
	before := u.snapshot(t)
	parts := committedBytes(t, u.store, "counts")

	u.requireFailed(t, newest, strings.TrimPrefix(payload, u.storage+"/"), before)

	// The parts the replay from the older checkpoint duplicates: A's, newer than it.
	var dup []string
	for name := range parts {
		p, ok := job.ParsePart(name)
		require.True(t, ok)
		if p.Checkpoint > older {
			dup = append(dup, name)
		}
	}
	require.NotEmpty(t, dup)
	sort.Strings(dup)
	out, err := u.c.run("", "checkpoints", "fallback", "-id", u.id, "--to", strconv.FormatInt(older, 10), u.a)
	require.NoError(t, err, out)
	for _, name := range dup {
		require.Contains(t, out, "  "+name+"\n")
	}
	require.Equal(t, len(dup), strings.Count(out, "  "+job.OutputDir(taskmanager.OutputRoot, "counts")+"/"), out)
	require.Contains(t, out, "Nothing was changed.")
	require.Equal(t, before, u.snapshot(t), "a dry run changes nothing")
	st, _ := u.jobStatus(u.a)
	require.Equal(t, jobmanager.JobRecoveryFailed, st.State)

	out, err = u.c.run("", "checkpoints", "fallback", "-id", u.id, "--to", strconv.FormatInt(older, 10), "--yes", u.a)
	require.NoError(t, err, out)
	require.Contains(t, out, fmt.Sprintf("restores from checkpoint %d", older))
	var info jobmanager.CheckpointInfo
	require.Eventually(t, func() bool {
		rest := leaderOf(u.client)
		return rest != "" && getJSON(rest+"/jobs/"+u.a+"/checkpoints", &info) == nil && info.Deployed && info.LatestID() > newest
	}, 60*time.Second, 20*time.Millisecond, "job A runs again, checkpointing past the unreadable one")
	require.Equal(t, older, info.RestoredFrom)
	st, _ = u.jobStatus(u.a)
	require.Equal(t, jobmanager.JobRunning, st.State)
	require.Empty(t, st.Error)

	// What the command said: the listed parts are duplicated by the replay; set
	// aside, the rest is exact — no gap, no other duplicate. The replay starts
	// from the older checkpoint, so the rest reaches every window committed
	// before (the duplicated ones included) only once the replay has re-produced
	// them: wait for that and three windows more.
	had := len(windowsOf(t, parts, nil))
	var after map[string][]byte
	var windows []int64
	require.Eventually(t, func() bool {
		after = committedBytes(t, u.store, "counts")
		windows = windowsOf(t, after, dup)
		return len(windows) >= had+3
	}, 60*time.Second, 20*time.Millisecond, "job A re-produces the %d windows committed before and three more", had)
	for name, b := range parts {
		require.Equal(t, b, after[name], "committed part %s keeps its bytes", name)
	}
	requireExactCounts(t, windows, had+3)
}

// windowsOf returns the windows in the committed parts (name to bytes) of a
// job of parallelism 1, in checkpoint order, leaving out the parts named in
// skip.
func windowsOf(t *testing.T, parts map[string][]byte, skip []string) []int64 {
	t.Helper()
	names := make([]string, 0, len(parts))
	for name := range parts {
		if !slices.Contains(skip, name) {
			names = append(names, name)
		}
	}
	sort.Slice(names, func(i, k int) bool {
		pi, _ := job.ParsePart(names[i])
		pk, _ := job.ParsePart(names[k])
		return pi.Checkpoint < pk.Checkpoint
	})
	var windows []int64
	for _, name := range names {
		for _, f := range strings.Fields(string(parts[name])) {
			v, err := strconv.ParseInt(f, 10, 64)
			require.NoError(t, err, "part %s", name)
			windows = append(windows, v)
		}
	}
	return windows
}

// stateFile returns the local file of subtask 0's task state in checkpoint id of
// job A (what its metadata's handle names).
func (u *unreadable) stateFile(t *testing.T, id int64) string {
	b, err := hdfsstore.GetBytes(context.Background(), u.store, strings.TrimPrefix(u.payload(t, id), u.storage+"/"))
	require.NoError(t, err)
	var cp struct {
		Metadata []byte `json:"metadata"`
	}
	require.NoError(t, json.Unmarshal(b, &cp))
	var md jobmanager.CheckpointMetadata
	require.NoError(t, json.Unmarshal(cp.Metadata, &md))
	require.Len(t, md.Handles, 1)
	var h struct {
		Name string `json:"name"`
	}
	require.NoError(t, json.Unmarshal(md.Handles[0], &h))
	require.NotEmpty(t, h.Name)
	return filepath.Join(u.storage, h.Name)
}

// TestCorruptTaskStateFailsRecovery: one byte of the task-state file job A's
// newest checkpoint references is flipped while the AM is paused; then the AM is
// killed. The TaskManager refuses to restore it; job A is listed RECOVERY_FAILED
// naming the checkpoint and the state file, nothing of A's changes, and job B
// runs on.
func TestCorruptTaskStateFailsRecovery(t *testing.T) {
	u := newUnreadable(t)
	ids := u.stopAM(t)
	newest := ids[len(ids)-1]
	file := u.stateFile(t, newest)
	b, err := os.ReadFile(file)
	require.NoError(t, err)
	b[len(b)/2] ^= 0xff
	require.NoError(t, os.WriteFile(file, b, 0o600))
	u.killAM(t)
	u.requireFailed(t, newest, strings.TrimPrefix(file, u.storage+"/"), u.snapshot(t))
}

// TestMissingCheckpointFileFailsRecovery: job A's newest checkpoint metadata file
// is deleted while the AM is paused (its pointer dangles); then the AM is killed.
// Job A is listed RECOVERY_FAILED naming the checkpoint and the missing file, the
// pointer stays, nothing else of A's changes, and job B runs on.
func TestMissingCheckpointFileFailsRecovery(t *testing.T) {
	u := newUnreadable(t)
	ids := u.stopAM(t)
	newest := ids[len(ids)-1]
	payload := u.payload(t, newest)
	require.NoError(t, os.Remove(payload))
	u.killAM(t)
	st := u.requireFailed(t, newest, strings.TrimPrefix(payload, u.storage+"/"), u.snapshot(t))
	require.Contains(t, st.Error, "dangling pointer")
}

// TestStorageErrorDuringRecoveryIsListedAndRetried: job A's graph file cannot be
// read (a symbolic link loop stands in its place) when the next AM recovers. Every answer
// of GET /jobs lists job A, RECOVERING with the error; once the file is back, A
// runs again under the same grant (no new leader session) and its output is exact.
func TestStorageErrorDuringRecoveryIsListedAndRetried(t *testing.T) {
	u := newUnreadable(t)
	graphNode := u.c.haValue("high-availability.zookeeper.path.root") + "/" + u.c.haValue("high-availability.cluster-id") + "/jobgraphs/" + u.a
	data, _, err := u.raw.Get(graphNode)
	require.NoError(t, err)
	var ptr struct {
		Path string `json:"path"`
	}
	require.NoError(t, json.Unmarshal(data, &ptr))
	graph := filepath.Join(u.storage, ptr.Path)
	aside := graph + ".aside"
	require.NoError(t, os.Rename(graph, aside))
	// A symbolic link to itself: opening it fails (ELOOP), as an unreachable
	// storage does; chmod would not stop the root user the tests may run as.
	require.NoError(t, os.Symlink(filepath.Base(graph), graph))
	first, err := u.client.Status(context.Background())
	require.NoError(t, err)
	u.killAM(t)

	// The new leader lists A with its error, again and again: never omitted.
	var session string
	seen := 0
	require.Eventually(t, func() bool {
		rest := leaderOf(u.client)
		var o jobmanager.Overview
		var res struct {
			Jobs []jobmanager.JobStatus `json:"jobs"`
		}
		if rest == "" || getOverview(appDirFor(u.c, u.id), rest, &o) != nil || o.LeaderSession == "" || getJSON(rest+"/jobs", &res) != nil {
			return false
		}
		var a *jobmanager.JobStatus
		for i := range res.Jobs {
			if res.Jobs[i].JobID == u.a {
				a = &res.Jobs[i]
			}
		}
		require.NotNil(t, a, "GET /jobs of leader session %s omits job A: %+v", o.LeaderSession, res.Jobs)
		if a.State != jobmanager.JobRecovering {
			return false
		}
		require.Contains(t, a.Error, ptr.Path, "the error names the file")
		if session == "" {
			session = o.LeaderSession
		}
		seen++
		return seen >= 5
	}, 60*time.Second, 100*time.Millisecond, "job A listed as RECOVERING with its error")
	require.Equal(t, jobmanager.JobRunning, mustStatus(t, u, u.b).State, "job B runs")

	require.NoError(t, os.Remove(graph))
	require.NoError(t, os.Rename(aside, graph))
	require.Eventually(t, func() bool {
		st, ok := u.jobStatus(u.a)
		return ok && st.State == jobmanager.JobRunning && st.Error == ""
	}, 60*time.Second, 20*time.Millisecond, "job A recovers once its graph is readable")
	rest := leaderOf(u.client)
	var o jobmanager.Overview
	require.NoError(t, getOverview(appDirFor(u.c, u.id), rest, &o))
	require.Equal(t, session, o.LeaderSession, "the same grant recovered it")
	last, err := u.client.Status(context.Background())
	require.NoError(t, err)
	require.Equal(t, first.Attempt+1, last.Attempt, "one attempt: the one the kill started")
	n := len(committed(t, u.store, "counts"))
	require.Eventually(t, func() bool { return len(committed(t, u.store, "counts")) >= n+3 }, 60*time.Second, 20*time.Millisecond)
	got, err := job.ReadCommittedJob(context.Background(), u.store, job.OutputDir(taskmanager.OutputRoot, "counts"), job.JobID(u.a))
	require.NoError(t, err)
	requireExactCounts(t, got, n+3)
}

func mustStatus(t *testing.T, u *unreadable, jobID string) jobmanager.JobStatus {
	st, ok := u.jobStatus(jobID)
	require.True(t, ok, "job %s listed", jobID)
	return st
}
