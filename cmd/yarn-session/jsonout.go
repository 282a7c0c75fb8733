package main

import (
	"time"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/recovery"
)

// The JSON shapes of `config -o json` and `ha inspect -o json`: stable field
// names, documented in docs/sessions.md, independent of the Go types behind them.

type configJSON struct {
	Entries     []configEntryJSON `json:"entries"`
	Warnings    []configIssueJSON `json:"warnings"`
	Errors      []configIssueJSON `json:"errors"`
	NotHonoured []notHonouredJSON `json:"notHonoured"`
}

type configEntryJSON struct {
	Key    string `json:"key"`
	Value  string `json:"value"` // "******" for a secret that is set
	Origin string `json:"origin"`
	Set    bool   `json:"set"`
}

type configIssueJSON struct {
	Key     string `json:"key"`
	Origin  string `json:"origin"`
	Message string `json:"message"`
}

type notHonouredJSON struct {
	Key    string `json:"key"`
	Reason string `json:"reason"`
}

func configOutput(cfg *conf.Config, all bool, invalid *conf.ValidationError) configJSON {
	out := configJSON{Entries: []configEntryJSON{}, Warnings: []configIssueJSON{}, Errors: []configIssueJSON{}, NotHonoured: []notHonouredJSON{}}
	for _, e := range cfg.Entries() {
		if !all && !e.Set && !hasAnyPrefix(e.Option.Key(), haPrefixes) {
			continue
		}
		out.Entries = append(out.Entries, configEntryJSON{Key: e.Option.Key(), Value: e.Display(), Origin: e.Origin.String(), Set: e.Set})
	}
	for _, w := range cfg.Warnings() {
		out.Warnings = append(out.Warnings, configIssueJSON{Key: w.Key, Origin: w.Origin.String(), Message: w.Msg})
	}
	if invalid != nil {
		for _, p := range invalid.Problems {
			out.Errors = append(out.Errors, configIssueJSON{Key: p.Key, Origin: p.Origin.String(), Message: p.Error()})
		}
	}
	for _, o := range conf.NotHonoured() {
		out.NotHonoured = append(out.NotHonoured, notHonouredJSON{Key: o.Key(), Reason: o.NotHonoured()})
	}
	return out
}

type haInspectJSON struct {
	Mode        string         `json:"mode"`
	Storage     string         `json:"storage"`
	ClusterPath string         `json:"clusterPath"`
	InspectedAt time.Time      `json:"inspectedAt"`
	Healthy     bool           `json:"healthy"`
	Nodes       []haNodeJSON   `json:"nodes"`
	Orphans     []haOrphanJSON `json:"orphans"`
	Removed     []string       `json:"removed,omitempty"` // with --clean
	Kept        []haKeptJSON   `json:"kept,omitempty"`    // with --clean
}

type haNodeJSON struct {
	Kind    string       `json:"kind"`
	Path    string       `json:"path"`
	JobID   string       `json:"jobId,omitempty"`
	Status  string       `json:"status"`
	Payload string       `json:"payload,omitempty"`
	Detail  string       `json:"detail,omitempty"`
	Marked  bool         `json:"marked,omitempty"`
	Locks   []haLockJSON `json:"locks,omitempty"`
}

type haLockJSON struct {
	Instance string `json:"instance"`
	Session  int64  `json:"session,omitempty"`
	Live     bool   `json:"live"`
}

type haOrphanJSON struct {
	Name       string     `json:"name"`
	ModTime    *time.Time `json:"modTime,omitempty"`
	AgeSeconds float64    `json:"ageSeconds"` // negative when the modification time is unknown
	Detail     string     `json:"detail,omitempty"`
}

type haKeptJSON struct {
	What   string `json:"what"`
	Reason string `json:"reason"`
}

func haInspectOutput(r *recovery.Report) haInspectJSON {
	out := haInspectJSON{Mode: r.Mode, Storage: r.Storage, ClusterPath: r.ClusterPath, InspectedAt: r.InspectedAt,
		Healthy: r.Healthy(), Nodes: []haNodeJSON{}, Orphans: []haOrphanJSON{}}
	for _, n := range r.Nodes {
		node := haNodeJSON{Kind: string(n.Kind), Path: n.Path, JobID: n.JobID, Status: string(n.Status), Payload: n.Payload,
			Detail: n.Detail, Marked: n.Marked}
		for _, l := range n.Locks {
			node.Locks = append(node.Locks, haLockJSON{Instance: l.Instance, Session: l.Session, Live: l.Live})
		}
		out.Nodes = append(out.Nodes, node)
	}
	for _, o := range r.Orphans {
		oj := haOrphanJSON{Name: o.Name, AgeSeconds: o.Age.Seconds(), Detail: o.Detail}
		if !o.ModTime.IsZero() {
			mt := o.ModTime
			oj.ModTime = &mt
		}
		out.Orphans = append(out.Orphans, oj)
	}
	return out
}
