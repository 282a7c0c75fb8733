package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/haservices"
)

// endedFile is where a supervisor records how its application ended, in the
// application directory, for `yarn-session status` once the supervisor is gone.
const endedFile = "ended.json"

// ended is how an application ended and what became of its HA data.
type ended struct {
	ApplicationID string `json:"applicationId"`
	Name          string `json:"name,omitempty"`
	// TrackingURL is the REST address of the AM that led last (no longer served).
	TrackingURL string `json:"trackingUrl,omitempty"`
	FinalStatus string `json:"finalStatus"` // FAILED, SUCCEEDED, KILLED or STOPPED
	Reason      string `json:"reason"`
	Attempts    int    `json:"attempts"`
	ClusterID   string `json:"clusterId"`
	ClusterPath string `json:"clusterPath"`
	// HARemoved: every job was globally terminal and the HA data was removed.
	HARemoved bool `json:"haRemoved"`
	// Unfinished are the jobs with HA data and no result in the job result store:
	// suspended, resumable by a new session on the same cluster-id.
	Unfinished []string `json:"unfinishedJobs,omitempty"`
	// HAError says why the HA data could not be examined (then it was kept).
	HAError string `json:"haError,omitempty"`
	// StopError says why the application's processes could not all be stopped
	// (then the HA data was kept: they may still use it).
	StopError string    `json:"stopError,omitempty"`
	End       time.Time `json:"end"`
	// The restart budget and the attempt history when it ended, so that
	// `status` reports the attempts without the storage directory.
	MaxAttempts int               `json:"maxAttempts,omitempty"`
	Window      string            `json:"window,omitempty"`
	History     *attempts.History `json:"history,omitempty"`
}

// resumeCommand is how to resume the application's jobs.
func (e ended) resumeCommand() string {
	return "yarn-session -z " + e.ClusterID + " <the same -D high-availability.* options>"
}

// print writes the end of the application and, when jobs are kept, how to resume them.
func (e ended) print(w io.Writer) {
	fmt.Fprintf(w, "Session %s ended: %s (%s) after %d attempt(s).\n", e.ApplicationID, e.FinalStatus, e.Reason, e.Attempts)
	switch {
	case e.StopError != "":
		fmt.Fprintf(w, "Its HA data (%s) is kept: some of its processes may still be alive (%s).\n"+
			"Once they are gone, a new session on the same cluster-id resumes any jobs it holds:\n  %s\n", e.ClusterPath, e.StopError, e.resumeCommand())
	case e.HARemoved:
		fmt.Fprintf(w, "All its jobs were finished: its HA data (%s) was removed.\n", e.ClusterPath)
	case len(e.Unfinished) > 0:
		fmt.Fprintf(w, "Its HA data (%s) is kept: job(s) %s did not finish and are suspended.\n", e.ClusterPath, strings.Join(e.Unfinished, ", "))
		fmt.Fprintf(w, "To resume them from their latest checkpoints, start a new session on cluster-id %s:\n  %s\n", e.ClusterID, e.resumeCommand())
	case e.HAError != "":
		fmt.Fprintf(w, "Its HA data (%s) is kept: it could not be examined (%s).\nA new session on the same cluster-id resumes any jobs it holds:\n  %s\n", e.ClusterPath, e.HAError, e.resumeCommand())
	default:
		fmt.Fprintf(w, "Its HA data (%s) is kept; a new session on the same cluster-id uses it:\n  %s\n", e.ClusterPath, e.resumeCommand())
	}
}

// endHA decides what becomes of the cluster's HA data when the application ends,
// after Flink: the data of a job goes only when the job is globally terminal (its
// result is in the job result store). When every job with HA data is terminal
// and the application reached a terminal state (terminal), everything is removed;
// otherwise — unfinished jobs, a stop, or data that cannot be examined — nothing
// is removed, so a new session on the same cluster-id resumes the jobs. stopErr is
// why stopping the application's processes failed (the supervisor's
// Outcome.StopErr): then some may still be alive, and nothing is removed either.
// Otherwise the caller must know that no AM of the cluster is alive.
func endHA(log zerolog.Logger, dir string, cfg *conf.Config, terminal bool, stopErr error, e *ended) {
	e.ClusterID, e.ClusterPath = cfg.ClusterID(), cfg.ClusterPath()
	if stopErr != nil {
		e.StopError = stopErr.Error()
		log.Warn().Err(stopErr).Str(logging.ZKPath, e.ClusterPath).Str("resume", e.resumeCommand()).
			Msg("HA data kept: the application's processes could not all be stopped and may still use it")
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), cfg.ConnectionTimeout()+time.Minute)
	defer cancel()
	// The services' loggers add their own zk_path; these lines name the cluster.
	svc, err := haservices.Open(ctx, cfg, haservices.Options{LocalDir: filepath.Join(dir, "ha"), Logger: log})
	log = log.With().Str(logging.ZKPath, e.ClusterPath).Str("cluster_id", e.ClusterID).Logger()
	if err != nil {
		e.HAError = err.Error()
		log.Warn().Err(err).Msg("HA data kept: cannot open the HA services to examine it")
		return
	}
	e.Unfinished, err = unfinishedJobs(ctx, svc)
	if err != nil {
		e.HAError = err.Error()
		_ = svc.Close()
		log.Warn().Err(err).Msg("HA data kept: cannot tell whether its jobs are finished")
		return
	}
	if len(e.Unfinished) > 0 || !terminal {
		if err := svc.Close(); err != nil {
			log.Warn().Err(err).Msg("closing the HA services")
		}
		log.Info().Strs("jobs", e.Unfinished).Str("resume", e.resumeCommand()).
			Msg("HA data kept: the jobs are suspended; a new session on the same cluster-id resumes them")
		return
	}
	if err := svc.CloseAndCleanupAllData(ctx); err != nil {
		e.HAError = err.Error()
		log.Warn().Err(err).Msg("cannot clean up the HA data of the terminated application")
		return
	}
	e.HARemoved = true
	log.Info().Msg("HA data of the terminated application removed: all its jobs were finished")
}

// unfinishedJobs returns, sorted, the jobs that have a job graph, checkpoint or
// checkpoint ID counter in the cluster's HA data and no result in the job result
// store: jobs that are not globally terminal.
func unfinishedJobs(ctx context.Context, svc *recovery.Services) ([]string, error) {
	report, err := svc.Inspector().Inspect(ctx)
	if err != nil {
		return nil, fmt.Errorf("inspect the HA data: %w", err)
	}
	results, err := svc.JobResultStore()
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range report.Nodes {
		if n.JobID == "" || slices.Contains(out, n.JobID) {
			continue
		}
		switch n.Kind {
		case recovery.KindJobGraph, recovery.KindCheckpoint, recovery.KindIDCounter:
		default:
			continue
		}
		done, err := results.Has(ctx, n.JobID)
		if err != nil {
			return nil, fmt.Errorf("job %s: %w", n.JobID, err)
		}
		if !done {
			out = append(out, n.JobID)
		}
	}
	slices.Sort(out)
	return out, nil
}

// writeEnded records e in the application directory.
func writeEnded(dir string, e ended) error {
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, endedFile), b, 0o600)
}

// readEnded reads how the application of dir ended; fs.ErrNotExist when it has not.
func readEnded(dir string) (ended, error) {
	var e ended
	b, err := os.ReadFile(filepath.Join(dir, endedFile))
	if err != nil {
		return e, err
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("%s: %w", filepath.Join(dir, endedFile), err)
	}
	return e, nil
}
