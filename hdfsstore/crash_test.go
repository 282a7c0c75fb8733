//go:build unix

package hdfsstore_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/hdfsstore"
	"github.com/amkeeper/amkeeper/internal/leakcheck"
)

// The crash test runs this test binary again as a writer process: the environment
// variables below make TestMain run the writer instead of the tests.
const (
	crashURIEnv = "AMKEEPER_HDFSSTORE_CRASH_URI"
	crashGenEnv = "AMKEEPER_HDFSSTORE_CRASH_FIRST_GEN"
	crashName   = "cluster/jobgraphs/submittedJobGraph-crash"

	crashChunk     = 64 << 10 // the writer reports progress per chunk its Put reads
	crashMaxPuts   = 100      // bounds a writer whose parent never kills it
	crashPutsPerGo = 3        // kill points reach into the first three Puts of a writer
)

// crashContent is the self-describing content of generation gen: a header line, then
// one letter repeated, 4 MiB for even generations ('A'), 3 MiB + 7 bytes for odd ('B').
func crashContent(gen int) []byte {
	letter, size := byte('A'), 4<<20
	if gen%2 == 1 {
		letter, size = 'B', 3<<20+7
	}
	header := fmt.Sprintf("amkeeper crash test gen=%d letter=%c size=%d\n", gen, letter, size)
	b := bytes.Repeat([]byte{letter}, size)
	copy(b, header)
	return b
}

// parseCrashContent checks that b is a whole crashContent and returns its generation.
func parseCrashContent(b []byte) (int, error) {
	line, _, ok := bytes.Cut(b, []byte("\n"))
	if !ok {
		return 0, errors.New("no header line")
	}
	var gen, size int
	var letter byte
	if _, err := fmt.Sscanf(string(line), "amkeeper crash test gen=%d letter=%c size=%d", &gen, &letter, &size); err != nil {
		return 0, fmt.Errorf("header %q: %w", line, err)
	}
	if len(b) != size {
		return gen, fmt.Errorf("gen %d: %d bytes, header says %d", gen, len(b), size)
	}
	if !bytes.Equal(b, crashContent(gen)) {
		return gen, fmt.Errorf("gen %d: body is not all %q", gen, letter)
	}
	return gen, nil
}

// progressReader delivers data in chunks and reports each one on w before it is read.
type progressReader struct {
	data []byte
	gen  int
	off  int
	w    io.Writer
}

func (r *progressReader) Read(p []byte) (int, error) {
	if r.off == len(r.data) {
		fmt.Fprintf(r.w, "crash: read-all %d\n", r.gen)
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), crashChunk)], r.data[r.off:])
	fmt.Fprintf(r.w, "crash: chunk %d %d\n", r.gen, r.off/crashChunk)
	r.off += n
	return n, nil
}

// TestMain turns the re-executed test binary into the crash test's writer when its
// environment says so; otherwise it runs the tests.
func TestMain(m *testing.M) {
	if uri := os.Getenv(crashURIEnv); uri != "" {
		if err := crashWriter(uri); err != nil {
			fmt.Fprintln(os.Stderr, "crash writer:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	// A write that TestHDFSDatanodeDropMidWrite breaks off leaves the HDFS client's
	// acknowledgement loop behind, which no call can end (see leakcheck).
	os.Exit(leakcheck.Code(m.Run(), leakcheck.IgnoreFailedHDFSWrite()))
}

// crashWriter is the writer half of TestPutSurvivesSIGKILL: it publishes
// generation after generation, reporting its progress on stdout, until killed.
func crashWriter(uri string) error {
	first, err := strconv.Atoi(os.Getenv(crashGenEnv))
	if err != nil {
		return fmt.Errorf("%s: %w", crashGenEnv, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	s, err := hdfsstore.Open(ctx, uri)
	if err != nil {
		return err
	}
	for gen := first; gen < first+crashMaxPuts; gen++ {
		fmt.Fprintf(os.Stdout, "crash: begin %d\n", gen)
		if _, err := s.Put(ctx, crashName, &progressReader{data: crashContent(gen), gen: gen, w: os.Stdout}); err != nil {
			return err
		}
		fmt.Fprintf(os.Stdout, "crash: done %d\n", gen)
	}
	return nil
}

// killPoint is the progress line on which the parent kills the writer of a round.
func killPoint(round, firstGen int) string {
	gen := firstGen + round%crashPutsPerGo
	switch round % 5 {
	case 0, 1: // while the payload streams
		return fmt.Sprintf("crash: chunk %d %d", gen, (round*17)%48)
	case 2: // right at the start
		return fmt.Sprintf("crash: chunk %d 0", gen)
	case 3: // payload read: trailer, fsync, rename, directory fsync
		return fmt.Sprintf("crash: read-all %d", gen)
	default: // just published: the next Put is starting
		return fmt.Sprintf("crash: done %d", gen)
	}
}

// TestPutSurvivesSIGKILL kills a writer process with SIGKILL at varied moments of
// Puts of large alternating contents to one name, and checks after each kill that
// the name holds a whole, verified content: the last one published or the one in
// flight, never a torn one; and that leftover temporaries break nothing.
func TestPutSurvivesSIGKILL(t *testing.T) {
	ctx := t.Context()
	root := filepath.Join(t.TempDir(), "store")
	s, err := hdfsstore.Open(ctx, fileURI(root))
	require.NoError(t, err)
	defer s.Close()

	const rounds = 15
	lastDone := -1 // the newest generation known to be published
	for round := range rounds {
		firstGen := round * 1000
		target := killPoint(round, firstGen)
		lastBegin, doneThisRound := runAndKillWriter(t, s.URI(), firstGen, target)
		if doneThisRound >= 0 {
			lastDone = doneThisRound
		}

		got, err := hdfsstore.GetBytes(ctx, s, crashName)
		if lastDone < 0 && errors.Is(err, fs.ErrNotExist) {
			t.Logf("round %d (kill on %q): nothing published yet", round, target)
			continue
		}
		require.NoError(t, err, "round %d: get after the kill on %q", round, target)
		gen, err := parseCrashContent(got)
		require.NoError(t, err, "round %d: torn content after the kill on %q", round, target)
		require.Contains(t, []int{lastDone, lastBegin}, gen,
			"round %d: content of gen %d, want the last published (%d) or the one in flight (%d)",
			round, gen, lastDone, lastBegin)
		st, err := s.Stat(ctx, crashName)
		require.NoError(t, err)
		require.Equal(t, int64(len(got)), st.Size)
		names, err := s.List(ctx, "")
		require.NoError(t, err)
		require.Equal(t, []string{crashName}, names, "round %d: temporaries stay hidden", round)
		t.Logf("round %d (kill on %q): gen %d, %d temporaries on disk", round, target, gen,
			len(temporaries(t, filepath.Dir(localPath(t, s, crashName)))))
	}

	tmps := temporaries(t, filepath.Dir(localPath(t, s, crashName)))
	require.NotEmpty(t, tmps, "no kill landed inside a Put: the test exercised no crash")

	// Leftover temporaries do not get in the way of the next writer, and RemoveAll
	// of the directory takes them with it.
	_, err = hdfsstore.PutBytes(ctx, s, crashName, []byte("after the crashes"))
	require.NoError(t, err)
	got, err := hdfsstore.GetBytes(ctx, s, crashName)
	require.NoError(t, err)
	require.Equal(t, "after the crashes", string(got))
	require.NoError(t, hdfsstore.RemoveAll(ctx, s, "cluster/"))
	require.NoDirExists(t, filepath.Join(root, "cluster"))
}

// runAndKillWriter starts a writer process whose generations start at firstGen,
// SIGKILLs it as soon as it reports target, and returns the last generation it began
// and the last it published (-1 for none).
func runAndKillWriter(t *testing.T, uri string, firstGen int, target string) (lastBegin, lastDone int) {
	t.Helper()
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), crashURIEnv+"="+uri, crashGenEnv+"="+strconv.Itoa(firstGen))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())

	lines := make(chan string)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			lines <- sc.Text()
		}
	}()
	lastBegin, lastDone = -1, -1
	track := func(line string) {
		var gen int
		if _, err := fmt.Sscanf(line, "crash: begin %d", &gen); err == nil {
			lastBegin = gen
		} else if _, err := fmt.Sscanf(line, "crash: done %d", &gen); err == nil {
			lastDone = gen
		}
	}

	deadline := time.NewTimer(time.Minute)
	defer deadline.Stop()
	killed := false
	for !killed {
		select {
		case line, ok := <-lines:
			if !ok {
				_ = cmd.Wait()
				t.Fatalf("writer exited before %q: %v\nstderr:\n%s", target, cmd.ProcessState, stderr.String())
			}
			track(line)
			if line == target {
				require.NoError(t, cmd.Process.Kill())
				killed = true
			}
		case <-deadline.C:
			_ = cmd.Process.Kill()
			for range lines {
			}
			_ = cmd.Wait()
			t.Fatalf("writer did not report %q within a minute\nstderr:\n%s", target, stderr.String())
		}
	}
	// Lines the writer printed before it died are still in the pipe.
	for line := range lines {
		track(line)
	}
	err = cmd.Wait()
	var exitErr *exec.ExitError
	require.ErrorAs(t, err, &exitErr, "stderr:\n%s", stderr.String())
	ws, ok := exitErr.Sys().(syscall.WaitStatus)
	require.True(t, ok)
	require.True(t, ws.Signaled() && ws.Signal() == syscall.SIGKILL,
		"writer ended by %v, not SIGKILL\nstderr:\n%s", exitErr, strings.TrimSpace(stderr.String()))
	return lastBegin, lastDone
}
