package conf

import (
	"fmt"
	"strings"
	"time"
)

// crossCheck runs the checks that involve more than one key or file. Each problem is
// reported against the key the operator most likely has to change, with the origin
// of the value that made the check necessary.
func (r *resolver) crossCheck() {
	r.checkZooKeeperTLS()
	r.checkSSL()
	ha := r.values[HAType]
	if r.haMode() == HAZooKeeper {
		because := fmt.Sprintf("is required when high-availability.type is zookeeper (set at %s)", ha.origin)
		if s := r.values[ZKQuorum]; s.parsed == nil && s.valid {
			r.problem(ZKQuorum.key, "", ha.origin, because+": list the ZooKeeper servers as host:port,host:port")
		}
		if s := r.values[HAStorageDir]; s.parsed == nil && s.valid {
			r.problem(HAStorageDir.key, "", ha.origin, because+": for example hdfs:///flink/recovery or file:///var/lib/amkeeper/ha")
		}
		r.checkSessionTimeout()
	} else if !ha.set {
		var zk []string
		var at Origin
		for _, o := range []*Option{ZKQuorum, HAStorageDir} {
			if r.values[o].set {
				if zk == nil {
					at = r.values[o].origin
				}
				zk = append(zk, o.key)
			}
		}
		if len(zk) > 0 {
			r.warn(HAType.key, at,
				"is not set, so high availability is off (NONE) and %s are not used: set high-availability.type: zookeeper to enable it",
				strings.Join(zk, " and "))
		}
	}

	r.checkSASL()
	if acl := r.values[ZKACL]; acl.parsed == string(ACLCreator) && !r.ZooKeeperSASL().Enabled {
		if d := r.values[ZKDigest]; d.parsed == nil && d.valid {
			r.problem(ZKDigest.key, "", acl.origin,
				"is required when high-availability.zookeeper.client.acl is creator and no SASL login is configured: set user:password in the file, with -D or in AMKEEPER_ZK_DIGEST, or configure SASL (amkeeper.zookeeper.sasl.jaas-file or security.kerberos.login.*)")
		}
	}

	iv, to := r.values[HeartbeatInterval], r.values[HeartbeatTimeout]
	if iv.valid && to.valid && durationValue(to) <= durationValue(iv) {
		if to.set || !iv.set {
			r.problem(HeartbeatTimeout.key, to.text, to.origin,
				fmt.Sprintf("is not greater than heartbeat.interval (%s, from %s): want a timeout longer than the interval", iv.text, iv.origin))
		} else {
			r.problem(HeartbeatInterval.key, iv.text, iv.origin,
				fmt.Sprintf("is not less than heartbeat.timeout (%s, from %s): want an interval shorter than the timeout", to.text, to.origin))
		}
	}

	sl, mx := r.values[TaskManagerSlots], r.values[TaskManagerMaxSlots]
	if n, ok := sl.parsed.(int); ok && sl.valid && mx.valid {
		if limit, ok := mx.parsed.(int); ok && n > limit {
			r.problem(TaskManagerSlots.key, sl.text, sl.origin,
				fmt.Sprintf("is above %s (%s, from %s): want at most that many slots per TaskManager, or raise %s",
					TaskManagerMaxSlots.key, mx.text, mx.origin, TaskManagerMaxSlots.key))
		}
	}

	if sb := r.values[StateBackend]; sb.set {
		switch strings.ToLower(strings.TrimSpace(sb.text)) {
		case "filesystem", "hashmap":
		default:
			r.warn(StateBackend.key, sb.origin,
				"%q is accepted but not used: amkeeper keeps state in memory and snapshots it to files, like filesystem/hashmap", sb.text)
		}
	}

	if ms := r.src.masters; len(ms) > 1 && r.haMode() != HAZooKeeper {
		r.warn("", Origin{Kind: OriginFile, File: r.src.mastersPath, Line: ms[1].Line},
			"%d masters are listed but high-availability.type is NONE: standby JobManagers need zookeeper", len(ms))
	}
}

// checkSessionTimeout compares the ZooKeeper session timeout with the bounds of the
// server configured in zoo.cfg. ZooKeeper clamps a requested timeout into its bounds
// and Flink runs with the granted one, so a timeout outside them is a warning that
// says what the session will get, not a refusal.
func (r *resolver) checkSessionTimeout() {
	z := r.src.zoo
	st := r.values[ZKSessionTimeout]
	if z == nil || !st.valid {
		return
	}
	d := durationValue(st)
	if d >= z.MinSessionTimeout && d <= z.MaxSessionTimeout {
		return
	}
	r.warn(ZKSessionTimeout.key, st.origin,
		"%s is outside [%s, %s], the session timeouts the server in %s grants (tickTime %s): the server clamps it to %s; "+
			"set a value in that range or change minSessionTimeout/maxSessionTimeout to get the timeout you asked for",
		st.text, FormatDuration(z.MinSessionTimeout), FormatDuration(z.MaxSessionTimeout), z.Path,
		FormatDuration(z.TickTime), FormatDuration(z.ClampSessionTimeout(d)))
}

func durationValue(s *setting) time.Duration {
	d, _ := s.parsed.(time.Duration)
	return d
}

// suggest returns the registered key closest to an unknown one, for "did you mean":
// first by edit distance (case-insensitive, transpositions count once), then by a
// unique match of the last dotted segment. Deprecated names map to their current key.
func suggest(key string) string {
	lk := strings.ToLower(key)
	limit := maxSuggestDistance(key)
	best, bestDist := "", -1
	consider := func(name, target string) {
		if diff := len(name) - len(key); diff > limit || -diff > limit {
			return // the distance is at least the length difference
		}
		d := editDistance(lk, strings.ToLower(name))
		if d <= limit && (bestDist < 0 || d < bestDist) {
			best, bestDist = target, d
		}
	}
	for _, o := range registry {
		consider(o.key, o.key)
		for _, d := range o.deprecated {
			consider(d, o.key)
		}
	}
	for _, k := range ignoredKeys {
		consider(k, k)
	}
	if best != "" {
		return best
	}
	last := lk[strings.LastIndexByte(lk, '.')+1:]
	match := ""
	for _, o := range registry {
		for _, name := range append([]string{o.key}, o.deprecated...) {
			ln := strings.ToLower(name)
			if ln[strings.LastIndexByte(ln, '.')+1:] != last {
				continue
			}
			if match != "" && match != o.key {
				return ""
			}
			match = o.key
		}
	}
	return match
}

func maxSuggestDistance(key string) int {
	return max(1, min(3, len(key)/6))
}

// editDistance is the optimal-string-alignment distance between a and b, by runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 256 || len(rb) > 256 {
		return len(ra) + len(rb) // not worth comparing
	}
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}
