package hdfsstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Plain is the optional capability of storing plain objects: files holding the
// payload only, without the trailer, for files people read with ordinary tools (a
// file sink's output parts, the attempt history). A plain object is published
// atomically and durably exactly as Put publishes an object; its integrity is the
// caller's to keep: PutPlain returns the payload's size and CRC32C for the caller to
// record (in a sidecar object, in checkpoint metadata, inside the payload), and
// GetPlain checks the object against such a record. Get and Stat refuse a plain
// object as they refuse any file without a trailer (ErrCorrupt); List lists it.
// Both backends implement Plain; use PutPlainBytes and GetPlainBytes.
type Plain interface {
	// PutPlain stores the content of r under name with no trailer; see Store.Put
	// for atomicity and durability. The Info holds the size and CRC32C written.
	PutPlain(ctx context.Context, name string, r io.Reader) (Info, error)
	// GetPlain streams the plain object name. With want set, a file of another
	// size is ErrCorrupt at once and the reader checks the CRC32C at the end, as
	// Get's does (a *ChecksumError instead of io.EOF). With want nil the bytes are
	// returned as they are: the caller checks them its own way.
	GetPlain(ctx context.Context, name string, want *Info) (io.ReadCloser, error)
}

// ErrNoPlain matches the error of PutPlainBytes and GetPlainBytes on a Store that
// does not implement Plain.
var ErrNoPlain = errors.New("hdfsstore: the store cannot keep plain objects")

// PutPlainBytes stores b under name as a plain object; see Plain.
func PutPlainBytes(ctx context.Context, s Store, name string, b []byte) (Info, error) {
	p, ok := s.(Plain)
	if !ok {
		return Info{}, fmt.Errorf("put %q: %w", name, ErrNoPlain)
	}
	return p.PutPlain(ctx, name, bytes.NewReader(b))
}

// GetPlainBytes reads the whole plain object name, checked against want when it is
// set; see Plain.
func GetPlainBytes(ctx context.Context, s Store, name string, want *Info) ([]byte, error) {
	p, ok := s.(Plain)
	if !ok {
		return nil, fmt.Errorf("get %q: %w", name, ErrNoPlain)
	}
	rc, err := p.GetPlain(ctx, name, want)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// Checksum returns the CRC32C (Castagnoli) of b, as Info.Checksum records it.
func Checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// checkPlainSize compares a plain object's file size with the caller's record.
func checkPlainSize(name string, want *Info, size int64) error {
	if want == nil || want.Size == size {
		return nil
	}
	return &ChecksumError{Name: name, WantSize: want.Size, GotSize: size, Want: want.Checksum,
		Reason: fmt.Sprintf("length mismatch: the record says %d bytes, the file has %d", want.Size, size)}
}

// plainReader returns a reader of a plain object's body: verifying against want, or
// the bytes as they are.
func plainReader(ctx context.Context, name string, body io.ReadCloser, want *Info, size int64) io.ReadCloser {
	if want == nil {
		return body
	}
	return newVerifyingReader(ctx, name, body, trailer{size: size, crc: want.Checksum})
}
