package hdfsstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"io/fs"
	"math"
	"sync"
)

// The object format, shared by every backend: the payload, then a fixed-size
// trailer. Writing it needs no seek back (HDFS files are append-only), and a
// truncated or foreign file has no valid trailer, so it is detected rather than
// returned. Big-endian:
//
//	offset size field
//	     0    8 payload length in bytes
//	     8    4 CRC32C (Castagnoli) of the payload
//	    12    4 format version, 1
//	    16    4 CRC32C of bytes 0..15 of the trailer
//	    20    8 magic "AMKSTORE"
const (
	trailerSize   = 28
	formatVersion = 1
	trailerMagic  = "AMKSTORE"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// trailer is what an object records about its payload.
type trailer struct {
	size int64
	crc  uint32
}

func (tr trailer) marshal() []byte {
	b := make([]byte, trailerSize)
	binary.BigEndian.PutUint64(b[0:], uint64(tr.size))
	binary.BigEndian.PutUint32(b[8:], tr.crc)
	binary.BigEndian.PutUint32(b[12:], formatVersion)
	binary.BigEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	copy(b[20:], trailerMagic)
	return b
}

// readTrailer reads and checks the trailer of the object name, objectSize bytes
// long (payload and trailer) and readable through ra.
func readTrailer(name string, ra io.ReaderAt, objectSize int64) (trailer, error) {
	if objectSize < trailerSize {
		return trailer{}, &ChecksumError{Name: name, Reason: fmt.Sprintf(
			"%d bytes is too short for the %d-byte trailer: truncated, or not written by hdfsstore",
			objectSize, trailerSize)}
	}
	b := make([]byte, trailerSize)
	if _, err := ra.ReadAt(b, objectSize-trailerSize); err != nil {
		return trailer{}, fmt.Errorf("read trailer: %w", err)
	}
	return parseTrailer(name, b, objectSize)
}

func parseTrailer(name string, b []byte, objectSize int64) (trailer, error) {
	corrupt := func(format string, args ...any) (trailer, error) {
		return trailer{}, &ChecksumError{Name: name, Reason: fmt.Sprintf(format, args...)}
	}
	if string(b[20:]) != trailerMagic {
		return corrupt("no trailer (last bytes are %q, want magic %q): truncated, or not written by hdfsstore",
			b[20:], trailerMagic)
	}
	if want, got := binary.BigEndian.Uint32(b[16:]), crc32.Checksum(b[:16], castagnoli); want != got {
		return corrupt("trailer checksum mismatch: recorded crc32c 0x%08x, computed 0x%08x", want, got)
	}
	if v := binary.BigEndian.Uint32(b[12:]); v != formatVersion {
		return corrupt("unsupported format version %d (this build reads version %d)", v, formatVersion)
	}
	size := binary.BigEndian.Uint64(b[0:])
	found := objectSize - trailerSize
	if size > math.MaxInt64 || int64(size) != found {
		return trailer{}, &ChecksumError{
			Name:     name,
			Reason:   fmt.Sprintf("length mismatch: trailer records %d payload bytes, object holds %d", size, found),
			WantSize: int64(min(size, math.MaxInt64)),
			GotSize:  found,
		}
	}
	tr := trailer{size: found, crc: binary.BigEndian.Uint32(b[8:])}
	return tr, nil
}

// chunkSize is how much Put reads from its source between checks of its context.
const chunkSize = 256 << 10

var chunkPool = sync.Pool{New: func() any { b := make([]byte, chunkSize); return &b }}

// writeObject copies r to w followed by the trailer (none for a plain object),
// checking ctx before each chunk.
func writeObject(ctx context.Context, w io.Writer, r io.Reader, plain bool) (trailer, error) {
	bp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bp)
	buf := *bp
	var tr trailer
	for {
		if err := ctx.Err(); err != nil {
			return tr, err
		}
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			tr.crc = crc32.Update(tr.crc, castagnoli, buf[:n])
			tr.size += int64(n)
			if _, err := w.Write(buf[:n]); err != nil {
				return tr, err
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return tr, fmt.Errorf("read payload: %w", rerr)
		}
	}
	if err := ctx.Err(); err != nil {
		return tr, err
	}
	if plain {
		return tr, nil
	}
	_, err := w.Write(tr.marshal())
	return tr, err
}

// verifyingReader streams a payload whose trailer has been checked, and checks its
// length and checksum as it reaches the end.
type verifyingReader struct {
	ctx    context.Context
	name   string
	body   io.ReadCloser // positioned at the payload's first byte
	want   trailer
	n      int64  // payload bytes read
	crc    uint32 // CRC32C of them
	err    error  // sticky: io.EOF once verified, or the failure
	closed bool
}

func newVerifyingReader(ctx context.Context, name string, body io.ReadCloser, tr trailer) *verifyingReader {
	return &verifyingReader{ctx: ctx, name: name, body: body, want: tr}
}

// Size returns the payload length recorded in the trailer.
func (v *verifyingReader) Size() int64 { return v.want.size }

func (v *verifyingReader) Read(p []byte) (int, error) {
	if v.err != nil {
		return 0, v.err
	}
	if err := v.ctx.Err(); err != nil {
		v.err = fmt.Errorf("hdfsstore: get %q: %w", v.name, err)
		return 0, v.err
	}
	remaining := v.want.size - v.n
	if remaining == 0 {
		v.err = v.verify()
		return 0, v.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if int64(len(p)) > remaining {
		p = p[:remaining]
	}
	n, err := v.body.Read(p)
	v.crc = crc32.Update(v.crc, castagnoli, p[:n])
	v.n += int64(n)
	switch {
	case v.n == v.want.size:
		if verr := v.verify(); verr != io.EOF {
			v.err = verr
			return n, verr
		}
		v.err = io.EOF // for the next call: this one delivers the last bytes
	case err == io.EOF:
		v.err = &ChecksumError{
			Name:     v.name,
			Reason:   fmt.Sprintf("length mismatch: trailer records %d payload bytes, read ended after %d", v.want.size, v.n),
			WantSize: v.want.size,
			GotSize:  v.n,
		}
		return n, v.err
	case err != nil:
		v.err = fmt.Errorf("hdfsstore: get %q: %w", v.name, err)
		return n, v.err
	}
	return n, nil
}

// verify returns io.EOF if the payload read matches the trailer's checksum.
func (v *verifyingReader) verify() error {
	if err := checkPayload(v.name, v.want, v.crc, v.n); err != nil {
		return err
	}
	return io.EOF
}

// checkPayload compares a payload's checksum (of n bytes) with its trailer's.
func checkPayload(name string, want trailer, crc uint32, n int64) error {
	if crc != want.crc {
		return &ChecksumError{
			Name:     name,
			Reason:   fmt.Sprintf("checksum mismatch: trailer records crc32c 0x%08x, payload has 0x%08x", want.crc, crc),
			Want:     want.crc,
			Got:      crc,
			WantSize: want.size,
			GotSize:  n,
		}
	}
	return nil
}

// Close closes the underlying object; it is idempotent.
func (v *verifyingReader) Close() error {
	if v.closed {
		return nil
	}
	v.closed = true
	if v.err == nil || v.err == io.EOF {
		v.err = fmt.Errorf("hdfsstore: get %q: %w", v.name, fs.ErrClosed)
	}
	return v.body.Close()
}
