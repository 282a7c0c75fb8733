package zkha

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/go-zookeeper/zk"
	"github.com/rs/zerolog"

	"github.com/amkeeper/amkeeper/internal/logging"
	"github.com/amkeeper/amkeeper/recovery"
	"github.com/amkeeper/amkeeper/recovery/zkha/zkclient"
)

// retrievalConfig configures leader retrieval of one component.
type retrievalConfig struct {
	Client    *zkclient.Client
	Component string
	// TolerateSuspended keeps the known leader while the connection is SUSPENDED;
	// otherwise SUSPENDED clears it. LOST always clears it.
	TolerateSuspended bool
	Logger            zerolog.Logger
}

// retrieve watches the component's connection_info until ctx ends and calls
// notify, on the calling goroutine, with the current leader first and then on
// every change; a zero LeaderInfo means no leader is known. It returns ctx.Err().
func retrieve(ctx context.Context, cfg retrievalConfig, notify func(recovery.LeaderInfo)) error {
	cl := cfg.Client
	log := cfg.Logger.With().Str(logging.Component, cfg.Component).Logger()
	p := ConnectionInfoPath(cfg.Component)
	states := cl.Listen()
	defer states.Close()

	var last recovery.LeaderInfo
	first := true
	report := func(info recovery.LeaderInfo) {
		if first || info != last {
			first = false
			last = info
			log.Debug().Str(logging.Addr, info.Address).Str(logging.LeaderSession, info.SessionID.String()).Msg("leader changed")
			notify(info)
		}
	}
	// clearOn applies connection state changes; it returns true when the leader
	// must be read again: reconnected after the known leader was cleared. The
	// watch survives a reconnection in the same session and fires only when
	// connection_info changes, so a leader that kept it would stay unknown here
	// (TaskManagers refused every command of it as stale until it changed).
	clearOn := func(states *zkclient.Listener) (reread bool) {
		for {
			ev, ok := states.TryNext()
			if !ok {
				return reread
			}
			switch {
			case ev.State == zkclient.Lost:
				report(recovery.LeaderInfo{})
			case ev.State == zkclient.Suspended && !cfg.TolerateSuspended && !cl.Connected():
				report(recovery.LeaderInfo{})
			case ev.State == zkclient.Reconnected && !last.Known():
				reread = true
			}
		}
	}
	for ctx.Err() == nil {
		// The read runs asynchronously so that connection state changes are seen
		// even while it waits on a stalled server.
		rctx, cancel := context.WithCancel(ctx)
		pending := async(func() readOutcome {
			info, watch, err := readLeader(rctx, cl, p)
			return readOutcome{info, watch, err}
		})
		var watch <-chan zk.Event
		var retry <-chan time.Time
	wait:
		for {
			select {
			case r := <-pending:
				pending = nil
				if r.err != nil {
					if ctx.Err() != nil {
						break wait
					}
					log.Debug().Err(r.err).Msg("leader retrieval: cannot read connection info")
					retry = time.After(100 * time.Millisecond)
					continue
				}
				report(r.info)
				watch = r.watch
			case <-watch:
				break wait
			case <-retry:
				break wait
			case <-states.C():
				if clearOn(states) {
					break wait
				}
			case <-ctx.Done():
				break wait
			}
		}
		cancel()
	}
	return ctx.Err()
}

type readOutcome struct {
	info  recovery.LeaderInfo
	watch <-chan zk.Event
	err   error
}

// readLeader reads connection_info and sets a watch on it (on its creation when
// it does not exist). Malformed content counts as no leader.
func readLeader(ctx context.Context, cl *zkclient.Client, p string) (recovery.LeaderInfo, <-chan zk.Event, error) {
	data, _, watch, err := cl.GetW(ctx, p)
	if errors.Is(err, zk.ErrNoNode) {
		var ok bool
		ok, _, watch, err = cl.ExistsW(ctx, p)
		if err != nil {
			return recovery.LeaderInfo{}, nil, err
		}
		if ok {
			return recovery.LeaderInfo{}, firedWatch, nil // created meanwhile: read again
		}
		return recovery.LeaderInfo{}, watch, nil
	}
	if err != nil {
		return recovery.LeaderInfo{}, nil, err
	}
	var info recovery.LeaderInfo
	if json.Unmarshal(data, &info) != nil {
		return recovery.LeaderInfo{}, watch, nil
	}
	return info, watch, nil
}
