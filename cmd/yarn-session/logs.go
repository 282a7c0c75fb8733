package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/amkeeper/amkeeper/containers"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/supervisor"
)

const flagFollow = "follow"

// followPoll is how often `logs -f` looks for new lines, a new attempt and the
// end of the application.
const followPoll = 100 * time.Millisecond

// attemptLog is one AM attempt's log in the application directory.
type attemptLog struct {
	n    int
	id   string
	path string
}

// attemptLogs lists the attempts that have a log in dir, oldest first. They
// are read from the directory, not from the supervisor, so this works after the
// application ended and while no supervisor runs.
func attemptLogs(dir string) ([]attemptLog, error) {
	entries, err := os.ReadDir(filepath.Join(dir, "attempts"))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var out []attemptLog
	for _, e := range entries {
		name := e.Name()
		i := strings.LastIndexByte(name, '_')
		if !e.IsDir() || !strings.HasPrefix(name, "appattempt_") || i < 0 {
			continue
		}
		n, err := strconv.Atoi(name[i+1:])
		if err != nil {
			continue
		}
		out = append(out, attemptLog{n: n, id: name, path: supervisor.AMLogPath(dir, name)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].n < out[j].n })
	return out, nil
}

func runLogs(c *cli.Context) error {
	asJSON, err := outputJSON(c)
	if err != nil {
		return err
	}
	a, err := appFromFlags(c)
	if err != nil {
		return err
	}
	id, dir := a.id, a.dir
	f := &logPrinter{w: c.App.Writer, json: asJSON, dir: dir}
	follow := c.Bool(flagFollow)
	if cid := c.String(flagContainerLog); cid != "" {
		if _, err := containers.ParseContainerID(cid); err != nil {
			return cli.Exit(fmt.Sprintf("logs --container: %v", err), exitUsage)
		}
		path := filepath.Join(dir, "containers", cid, containers.LogFile)
		if _, err := os.Stat(path); err != nil {
			return cli.Exit(fmt.Sprintf("logs: %s has no container %s (no %s)", id, cid, path), exitUsage)
		}
		return f.file(c.Context, path, follow, func() bool { return f.ended() })
	}
	logs, err := attemptLogs(dir)
	if err != nil {
		return cli.Exit(fmt.Sprintf("logs %s: %v", id, err), exitFailure)
	}
	if c.IsSet(flagAMAttempt) {
		n := c.Int(flagAMAttempt)
		for _, a := range logs {
			if a.n == n {
				// Followed until a later attempt starts or the application ends.
				return f.file(c.Context, a.path, follow, func() bool { return f.ended() || f.newer(n) != nil })
			}
		}
		return cli.Exit(fmt.Sprintf("logs: %s has no attempt %d (attempts with a log: %s)", id, n, attemptNumbers(logs)), exitUsage)
	}
	if len(logs) == 0 && !follow {
		return cli.Exit(fmt.Sprintf("logs: %s has no AM attempt log yet (%s)", id, filepath.Join(dir, "attempts")), exitFailure)
	}
	// The current (or last) attempt; with -f, each later attempt in turn.
	var cur *attemptLog
	if len(logs) > 0 {
		cur = &logs[len(logs)-1]
	}
	for {
		if cur == nil {
			if f.ended() || c.Context.Err() != nil {
				return nil
			}
			if err := f.wait(c.Context); err != nil {
				return err
			}
			cur = f.newer(0)
			continue
		}
		a := *cur
		err := f.file(c.Context, a.path, follow, func() bool { return f.ended() || f.newer(a.n) != nil })
		if err != nil || !follow || c.Context.Err() != nil {
			return err
		}
		if cur = f.newer(a.n); cur == nil {
			return nil // the application ended
		}
		f.banner(*cur)
	}
}

func attemptNumbers(logs []attemptLog) string {
	if len(logs) == 0 {
		return "none"
	}
	var s []string
	for _, a := range logs {
		s = append(s, strconv.Itoa(a.n))
	}
	return strings.Join(s, ", ")
}

// logPrinter prints log files as plain lines, or raw with -o json.
type logPrinter struct {
	w    io.Writer
	json bool
	dir  string
}

// ended reports whether the application recorded its end.
func (p *logPrinter) ended() bool {
	_, err := readEnded(p.dir)
	return err == nil
}

// newer returns the first attempt after n that has a log, or nil.
func (p *logPrinter) newer(n int) *attemptLog {
	logs, _ := attemptLogs(p.dir)
	for _, a := range logs {
		if a.n > n {
			return &a
		}
	}
	return nil
}

func (p *logPrinter) wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil // interrupted: following ends quietly, as tail -f
	case <-time.After(followPoll):
		return nil
	}
}

// banner announces the next attempt's log; with -o json nothing but log lines
// are written.
func (p *logPrinter) banner(a attemptLog) {
	if !p.json {
		fmt.Fprintf(p.w, "==> attempt %d (%s) <==\n", a.n, a.id)
	}
}

func (p *logPrinter) line(s string) {
	if p.json {
		fmt.Fprintln(p.w, s)
		return
	}
	fmt.Fprintln(p.w, logging.ParseLine(s).Plain())
}

// file prints path; with follow, it goes on printing what is appended until
// done says the file is finished (and everything in it was printed) or ctx
// ends.
func (p *logPrinter) file(ctx context.Context, path string, follow bool, done func() bool) error {
	fh, err := os.Open(path)
	for follow && errors.Is(err, fs.ErrNotExist) && !done() && ctx.Err() == nil {
		// The supervisor makes an attempt's directory just before its log.
		_ = p.wait(ctx)
		fh, err = os.Open(path)
	}
	if err != nil {
		return cli.Exit(fmt.Sprintf("logs: %v", err), exitFailure)
	}
	defer fh.Close()
	r := bufio.NewReader(fh)
	var partial strings.Builder
	for {
		s, err := r.ReadString('\n')
		partial.WriteString(s)
		if err == nil {
			p.line(strings.TrimSuffix(partial.String(), "\n"))
			partial.Reset()
			continue
		}
		if !errors.Is(err, io.EOF) {
			return cli.Exit(fmt.Sprintf("logs: %s: %v", path, err), exitFailure)
		}
		// At the end of what is written so far. Checked before one more read, so
		// lines written before done turned true are printed.
		if !follow || ctx.Err() != nil {
			break
		}
		if !done() {
			if err := p.wait(ctx); err != nil {
				return err
			}
			continue
		}
		// Finished: what was written just before done turned true is printed too.
		for {
			s, err := r.ReadString('\n')
			partial.WriteString(s)
			if err != nil {
				break
			}
			p.line(strings.TrimSuffix(partial.String(), "\n"))
			partial.Reset()
		}
		break
	}
	if partial.Len() > 0 { // a last line without its newline
		p.line(partial.String())
	}
	return nil
}
