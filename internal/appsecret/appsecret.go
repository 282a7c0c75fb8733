package appsecret

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"syscall"

	"github.com/amkeeper/amkeeper/internal/fsutil"
)

const (
	// FileName is the secret's file in the session directory.
	FileName = "app.secret"
	// EnvFile names the environment variable that holds the secret file's path
	// for the processes the supervisor starts.
	EnvFile = "AMKEEPER_SECRET_FILE"
	// Size is the secret's length in bytes (its file holds it in hex).
	Size = 32
	// HeaderAuthorization carries a request's signature (see Scheme).
	HeaderAuthorization = "Authorization"
)

// ErrInvalid: a secret file is not one this package wrote for this user.
var ErrInvalid = errors.New("appsecret: invalid secret file")

// Secret is an application secret. The zero value is no secret: Require refuses
// every call with it and Client signs none. Copies share one record of the
// nonces seen, so every server of a process given the same Secret refuses a
// replay to any of them.
type Secret struct {
	b      []byte
	nonces *nonces
	limit  int64 // the body bound of Check; 0: DefaultMaxBody
}

// New returns a fresh secret from crypto/rand.
func New() (Secret, error) {
	b := make([]byte, Size)
	if _, err := rand.Read(b); err != nil {
		return Secret{}, fmt.Errorf("appsecret: random bytes: %w", err)
	}
	return Secret{b: b, nonces: newNonces()}, nil
}

// Create makes a new secret and writes it to path (mode 0600, created with
// O_EXCL under a temporary name, synced and renamed into place, replacing an
// older secret there).
func Create(path string) (Secret, error) {
	s, err := New()
	if err != nil {
		return Secret{}, err
	}
	if err := fsutil.WriteFileAtomic(path, []byte(hex.EncodeToString(s.b)+"\n"), 0o600); err != nil {
		return Secret{}, fmt.Errorf("appsecret: create: %w", err)
	}
	return s, nil
}

// Load reads the secret at path. It refuses (ErrInvalid) a symlink, anything
// but a regular file, a file not owned by this process's user or open to group
// or others, and content that is not Size bytes in hex. The checks are made on
// the file it opened (without following a symlink), not on the name.
func Load(path string) (Secret, error) {
	if fi, err := os.Lstat(path); err == nil && !fi.Mode().IsRegular() {
		return Secret{}, fmt.Errorf("%w: %s is a %s, want a regular file", ErrInvalid, path, kind(fi.Mode()))
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return Secret{}, fmt.Errorf("appsecret: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Secret{}, fmt.Errorf("appsecret: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return Secret{}, fmt.Errorf("%w: %s is a %s, want a regular file", ErrInvalid, path, kind(fi.Mode()))
	}
	if perm := fi.Mode().Perm(); perm&0o077 != 0 {
		return Secret{}, fmt.Errorf("%w: %s has mode %04o, want 0600 (no access for group or others)", ErrInvalid, path, perm)
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return Secret{}, fmt.Errorf("%w: %s is owned by uid %d, want uid %d (this user)", ErrInvalid, path, st.Uid, os.Getuid())
	}
	data, err := io.ReadAll(io.LimitReader(f, 4*Size))
	if err != nil {
		return Secret{}, fmt.Errorf("appsecret: read %s: %w", path, err)
	}
	b, err := hex.DecodeString(strings.TrimSpace(string(data)))
	if err != nil || len(b) != Size {
		return Secret{}, fmt.Errorf("%w: %s does not hold %d bytes in hex", ErrInvalid, path, Size)
	}
	return Secret{b: b, nonces: newNonces()}, nil
}

// Copy loads the secret at src (with Load's checks) and writes it to dst as
// Create writes a new one: a shared secret kept beside a session's own files.
func Copy(src, dst string) (Secret, error) {
	s, err := Load(src)
	if err != nil {
		return Secret{}, err
	}
	if err := fsutil.WriteFileAtomic(dst, []byte(hex.EncodeToString(s.b)+"\n"), 0o600); err != nil {
		return Secret{}, fmt.Errorf("appsecret: copy to %s: %w", dst, err)
	}
	return s, nil
}

// FromEnv loads the secret whose path the environment variable EnvFile holds
// (lookup nil: os.LookupEnv).
func FromEnv(lookup func(string) (string, bool)) (Secret, error) {
	if lookup == nil {
		lookup = os.LookupEnv
	}
	path, ok := lookup(EnvFile)
	if !ok || path == "" {
		return Secret{}, fmt.Errorf("appsecret: no application secret: %s is not set (the supervisor sets it to <session directory>/%s)", EnvFile, FileName)
	}
	return Load(path)
}

func kind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symlink"
	case m.IsDir():
		return "directory"
	default:
		return "special file"
	}
}

// IsZero reports whether s is no secret.
func (s Secret) IsZero() bool { return len(s.b) == 0 }

// String never shows the secret.
func (s Secret) String() string { return "appsecret(redacted)" }

// GoString never shows the secret either (%#v).
func (s Secret) GoString() string { return s.String() }

// MarshalJSON never shows the secret.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"redacted"`), nil }
