package sessionctl

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/amkeeper/amkeeper/attempts"
	"github.com/amkeeper/amkeeper/job"
	"github.com/amkeeper/amkeeper/jobmanager"
)

// FindLeader asks each of the session's AMs whether it leads and returns the
// leader's REST address, skipping not (a leader known to be gone).
func FindLeader(ctx context.Context, client *attempts.ControlClient, not string) (string, error) {
	st, err := client.Status(ctx)
	if err != nil {
		return "", err
	}
	hc := http.Client{Timeout: 2 * time.Second}
	for _, am := range st.AMs {
		if am.REST == "" || am.REST == not {
			continue
		}
		var o jobmanager.Overview
		if err := GetJSON(ctx, &hc, am.REST+"/overview", &o); err == nil && o.Leader {
			return am.REST, nil
		}
	}
	return "", fmt.Errorf("session %s has no leading AM right now (attempt %d is starting?)", st.ApplicationID, st.Attempt)
}

// WaitLeader waits up to a minute for an AM other than not to lead, and returns
// its REST address.
func WaitLeader(ctx context.Context, client *attempts.ControlClient, not string) (string, error) {
	return Poll(ctx, 60*time.Second, func() (string, bool) {
		l, err := FindLeader(ctx, client, not)
		return l, err == nil
	}, "no AM leads")
}

// GetJSON decodes the JSON answer to GET url into v; anything but 200 OK is an
// error carrying what the server said.
func GetJSON(ctx context.Context, hc *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(string(b)))
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// NewSubmission parses a job spec (file names it in errors) and makes its
// submission: a new job ID and the encoded graph.
func NewSubmission(spec []byte, file string) (jobmanager.JobSubmission, error) {
	s, err := job.ParseSpec(spec, file)
	if err != nil {
		return jobmanager.JobSubmission{}, err
	}
	g := job.Graph{ID: job.NewJobID(), Spec: s}
	encoded, err := g.Encode()
	if err != nil {
		return jobmanager.JobSubmission{}, err
	}
	return jobmanager.JobSubmission{JobID: string(g.ID), Name: s.Name, Graph: encoded}, nil
}

// SubmitJob posts an encoded submission to a leader's REST endpoint; anything but
// 202 Accepted is an error carrying what the leader said.
func SubmitJob(ctx context.Context, rest string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rest+"/jobs", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return errors.New(strings.TrimSpace(string(b)))
	}
	return nil
}

// Submit submits s to the leader, trying again for up to 30 s while it does not
// accept it (it may have just been granted).
func Submit(ctx context.Context, leader string, s jobmanager.JobSubmission) error {
	body, err := json.Marshal(s)
	if err != nil {
		return err
	}
	_, err = Poll(ctx, 30*time.Second, func() (struct{}, bool) {
		return struct{}{}, SubmitJob(ctx, leader, body) == nil
	}, "the leader does not accept the job")
	return err
}
