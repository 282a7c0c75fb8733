package containers

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// ErrBadID is wrapped by every ID parse error.
var ErrBadID = errors.New("containers: malformed ID")

// AppID identifies one application, as YARN prints it: application_<ts>_<seq %04d>.
type AppID struct {
	ClusterTimestamp int64 // when the cluster (ResourceManager) started, in ms
	Seq              int   // the application's number within that cluster, ≥ 1
}

// String returns application_<ts>_<seq %04d>.
func (a AppID) String() string {
	return fmt.Sprintf("application_%d_%04d", a.ClusterTimestamp, a.Seq)
}

// ParseAppID parses the form String returns.
func ParseAppID(s string) (AppID, error) {
	const want = "application_<clusterTimestamp>_<seq>"
	f, err := splitID(s, "application", 2, want)
	if err != nil {
		return AppID{}, err
	}
	ts, err := idField(s, want, "clusterTimestamp", f[0], 1)
	if err != nil {
		return AppID{}, err
	}
	seq, err := idField(s, want, "seq", f[1], 1)
	if err != nil {
		return AppID{}, err
	}
	return AppID{ClusterTimestamp: ts, Seq: int(seq)}, nil
}

// ContainerID identifies one container:
// container_<clusterTimestamp>_<appSeq %04d>_<attempt %02d>_<seq %06d>.
// Attempt is the AM attempt that allocated the container; it does not change when a
// later attempt adopts the container. Seq counts per application across attempts;
// as in YARN, sequence 1 is each attempt's AM container, so a Manager numbers
// TaskManager containers from 2.
type ContainerID struct {
	App     AppID
	Attempt int   // allocating attempt, ≥ 1
	Seq     int64 // ≥ 1
}

// String returns container_<ts>_<appSeq %04d>_<attempt %02d>_<seq %06d>. Wider
// numbers print in full, as in YARN.
func (c ContainerID) String() string {
	return fmt.Sprintf("container_%d_%04d_%02d_%06d", c.App.ClusterTimestamp, c.App.Seq, c.Attempt, c.Seq)
}

// ParseContainerID parses the form String returns. YARN's epoch form
// (container_e<epoch>_…, written after a ResourceManager restart) is rejected: amkeeper
// never writes it.
func ParseContainerID(s string) (ContainerID, error) {
	const want = "container_<clusterTimestamp>_<appSeq>_<attempt>_<seq>"
	if strings.HasPrefix(s, "container_e") {
		return ContainerID{}, fmt.Errorf("%w: container ID %q: the epoch form container_e<epoch>_… is not supported; want %s", ErrBadID, s, want)
	}
	f, err := splitID(s, "container", 4, want)
	if err != nil {
		return ContainerID{}, err
	}
	var n [4]int64
	names := [4]string{"clusterTimestamp", "appSeq", "attempt", "seq"}
	for i := range f {
		if n[i], err = idField(s, want, names[i], f[i], 1); err != nil {
			return ContainerID{}, err
		}
	}
	if n[1] > maxInt32 || n[2] > maxInt32 {
		return ContainerID{}, fmt.Errorf("%w: container ID %q: appSeq or attempt out of range; want %s", ErrBadID, s, want)
	}
	return ContainerID{App: AppID{ClusterTimestamp: n[0], Seq: int(n[1])}, Attempt: int(n[2]), Seq: n[3]}, nil
}

const maxInt32 = 1<<31 - 1

func splitID(s, prefix string, fields int, want string) ([]string, error) {
	rest, ok := strings.CutPrefix(s, prefix+"_")
	if !ok {
		return nil, fmt.Errorf("%w: %s ID %q: does not start with %q; want %s", ErrBadID, prefix, s, prefix+"_", want)
	}
	f := strings.Split(rest, "_")
	if len(f) != fields {
		return nil, fmt.Errorf("%w: %s ID %q: has %d number fields, not %d; want %s", ErrBadID, prefix, s, len(f), fields, want)
	}
	return f, nil
}

func idField(s, want, name, v string, min int64) (int64, error) {
	if v == "" || strings.TrimLeft(v, "0123456789") != "" {
		return 0, fmt.Errorf("%w: ID %q: %s %q is not a decimal number; want %s", ErrBadID, s, name, v, want)
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: ID %q: %s %q is out of range; want %s", ErrBadID, s, name, v, want)
	}
	if n < min {
		return 0, fmt.Errorf("%w: ID %q: %s is %d, must be at least %d; want %s", ErrBadID, s, name, n, min, want)
	}
	return n, nil
}
