package privdir

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// EnvHome overrides Home.
const EnvHome = "AMKEEPER_HOME"

// ErrUntrusted is wrapped by every refusal.
var ErrUntrusted = errors.New("privdir: not a private directory")

// Error is a refusal: Path is the directory or socket refused, Problem what is
// wrong with it and Fix what the user can do.
type Error struct {
	Path    string
	Problem string
	Fix     string
}

func (e *Error) Error() string {
	return fmt.Sprintf("%s is not private to this user: %s; %s", e.Path, e.Problem, e.Fix)
}

// Unwrap makes errors.Is(err, ErrUntrusted) true.
func (e *Error) Unwrap() error { return ErrUntrusted }

// Home is the per-user directory that holds amkeeper's sessions: $AMKEEPER_HOME
// when set, else $XDG_RUNTIME_DIR/amkeeper when XDG_RUNTIME_DIR is set, else
// <temp dir>/amkeeper-<user name> (the temp dir is $TMPDIR, else /tmp). It only
// names the directory: Ensure or Check it before use.
func Home() string {
	if h := os.Getenv(EnvHome); h != "" {
		return h
	}
	if x := os.Getenv("XDG_RUNTIME_DIR"); x != "" {
		return filepath.Join(x, "amkeeper")
	}
	return filepath.Join(os.TempDir(), "amkeeper-"+UserName())
}

// UserName is the current user's name, or the uid when it has none.
func UserName() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}

// Ensure makes path a private directory: every directory above it must be
// trusted (see the package doc), path and any missing directory on the way are
// created with mode 0700, and path itself must then be a directory of the
// current user that no one else may write to; one of its that others may read
// or enter is made 0700.
func Ensure(path string) error {
	_, err := EnsureTightened(path)
	return err
}

// EnsureTightened is Ensure that also says whether an existing directory of
// ours was open to others (readable or enterable) and had to be made 0700, for
// callers that warn about it.
func EnsureTightened(path string) (tightened bool, err error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return false, fmt.Errorf("privdir: %s: %w", path, err)
	}
	if err := checkAbove(abs, true); err != nil {
		return false, err
	}
	if err := os.Mkdir(abs, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return false, fmt.Errorf("privdir: create %s: %w", abs, err)
	}
	if err := own(abs); err != nil {
		return false, err
	}
	// Ours, and no one else may write to it; no one else may enter it either,
	// so a socket made in it is out of reach even before its own mode is set.
	fi, err := os.Lstat(abs)
	if err != nil {
		return false, fmt.Errorf("privdir: %w", err)
	}
	if fi.Mode().Perm()&0o077 == 0 {
		return false, nil
	}
	if err := os.Chmod(abs, 0o700); err != nil {
		return false, fmt.Errorf("privdir: make %s private (chmod 0700): %w", abs, err)
	}
	return true, nil
}

// Check is Ensure without creating anything: a missing directory is an error
// for which errors.Is(err, fs.ErrNotExist) holds.
func Check(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("privdir: %s: %w", path, err)
	}
	if err := checkAbove(abs, false); err != nil {
		return err
	}
	return own(abs)
}

// CheckSocket checks the unix socket at path before a connection to it: its
// directory must pass Check and the socket must be owned by the current uid. A
// missing socket is an error for which errors.Is(err, fs.ErrNotExist) holds.
func CheckSocket(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("privdir: %s: %w", path, err)
	}
	if err := Check(filepath.Dir(abs)); err != nil {
		return err
	}
	fi, err := os.Lstat(abs)
	if err != nil {
		return fmt.Errorf("privdir: %w", err)
	}
	if fi.Mode()&fs.ModeSocket == 0 {
		return &Error{Path: abs, Problem: "it is " + kind(fi) + ", not a unix socket",
			Fix: "remove it; amkeeper creates its sockets itself"}
	}
	if uid := owner(fi); uid != os.Getuid() {
		return &Error{Path: abs, Problem: fmt.Sprintf("the socket is owned by uid %d, not by you (uid %d)", uid, os.Getuid()),
			Fix: "another user planted it: do not use this directory; remove it as root"}
	}
	return nil
}

// own checks that the directory abs is the current user's and not writable by
// anyone else.
func own(abs string) error {
	fi, err := os.Lstat(abs)
	if err != nil {
		return fmt.Errorf("privdir: %w", err)
	}
	me := os.Getuid()
	if fi.Mode()&fs.ModeSymlink != 0 {
		target, _ := os.Readlink(abs)
		return &Error{Path: abs, Problem: fmt.Sprintf("it is a symlink (to %s, owned by uid %d), not a directory", target, owner(fi)),
			Fix: fmt.Sprintf("remove the link (rm %s) or use a directory of your own", abs)}
	}
	if !fi.IsDir() {
		return &Error{Path: abs, Problem: "it is " + kind(fi) + ", not a directory",
			Fix: fmt.Sprintf("remove it (rm %s) or use a directory of your own", abs)}
	}
	if uid := owner(fi); uid != me {
		return &Error{Path: abs, Problem: fmt.Sprintf("it is owned by uid %d, not by you (uid %d)", uid, me),
			Fix: fmt.Sprintf("another user may have made it: remove it as root (rm -r %s) or use a directory of your own", abs)}
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 {
		return &Error{Path: abs, Problem: fmt.Sprintf("its mode is %04o: group or others may write to it", perm),
			Fix: fmt.Sprintf("chmod 0700 %s", abs)}
	}
	return nil
}

// checkAbove checks every directory above abs, following trusted symlinks;
// with create, missing directories on the way are created (mode 0700) and must
// then be the current user's.
func checkAbove(abs string, create bool) error {
	parts := strings.Split(strings.TrimPrefix(filepath.Dir(abs), "/"), "/")
	cur := "/"
	if err := trusted(cur); err != nil {
		return err
	}
	for _, p := range parts {
		if p == "" {
			continue
		}
		next := filepath.Join(cur, p)
		fi, err := os.Lstat(next)
		if errors.Is(err, fs.ErrNotExist) && create {
			if err := os.Mkdir(next, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("privdir: create %s: %w", next, err)
			}
			if err := own(next); err != nil {
				return err
			}
			cur = next
			continue
		}
		if err != nil {
			return fmt.Errorf("privdir: %w", err)
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if uid := owner(fi); uid != 0 && uid != os.Getuid() {
				return &Error{Path: next, Problem: fmt.Sprintf("it is a symlink owned by uid %d", uid),
					Fix: "use a path without links owned by other users"}
			}
			resolved, err := filepath.EvalSymlinks(next)
			if err != nil {
				return fmt.Errorf("privdir: %w", err)
			}
			if err := checkChain(resolved); err != nil {
				return err
			}
			cur = resolved
			continue
		}
		if err := trusted(next); err != nil {
			return err
		}
		cur = next
	}
	return nil
}

// checkChain checks every directory of a resolved path (no symlinks left).
func checkChain(resolved string) error {
	cur := "/"
	for _, p := range strings.Split(strings.TrimPrefix(resolved, "/"), "/") {
		if p == "" {
			continue
		}
		cur = filepath.Join(cur, p)
		if err := trusted(cur); err != nil {
			return err
		}
	}
	return nil
}

// trusted checks a directory above the one amkeeper owns: owned by root or the
// current user, and either closed to others' writes or sticky.
func trusted(dir string) error {
	fi, err := os.Lstat(dir)
	if err != nil {
		return fmt.Errorf("privdir: %w", err)
	}
	if !fi.IsDir() {
		return &Error{Path: dir, Problem: "it is " + kind(fi) + ", not a directory", Fix: "use another path"}
	}
	me := os.Getuid()
	if uid := owner(fi); uid != 0 && uid != me {
		return &Error{Path: dir, Problem: fmt.Sprintf("it is owned by uid %d, neither root nor you (uid %d)", uid, me),
			Fix: "use a directory below one that only root or you control"}
	}
	if perm := fi.Mode().Perm(); perm&0o022 != 0 && fi.Mode()&fs.ModeSticky == 0 {
		return &Error{Path: dir, Problem: fmt.Sprintf("its mode is %04o: group or others may write to it and it has no sticky bit", perm),
			Fix: fmt.Sprintf("chmod o-w,g-w %s (or chmod +t for a shared temp directory), or use another directory", dir)}
	}
	return nil
}

func owner(fi fs.FileInfo) int {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return int(st.Uid)
	}
	return -1
}

func kind(fi fs.FileInfo) string {
	switch m := fi.Mode(); {
	case m.IsRegular():
		return "a regular file"
	case m.IsDir():
		return "a directory"
	case m&fs.ModeSymlink != 0:
		return "a symlink"
	case m&fs.ModeSocket != 0:
		return "a socket"
	default:
		return "a special file (" + m.Type().String() + ")"
	}
}
