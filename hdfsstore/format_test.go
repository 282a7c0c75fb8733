package hdfsstore

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"hash/crc32"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestObjectFormatGolden pins the on-disk format: objects written by this build must
// stay readable by every later one.
func TestObjectFormatGolden(t *testing.T) {
	var buf bytes.Buffer
	tr, err := writeObject(t.Context(), &buf, strings.NewReader("hello"), false)
	require.NoError(t, err)
	require.Equal(t, trailer{size: 5, crc: 0x9a71bb4c}, tr)
	want := "68656c6c6f" + // payload "hello"
		"0000000000000005" + // payload length
		"9a71bb4c" + // CRC32C("hello")
		"00000001" + // format version
		"5653a350" + // CRC32C of the 16 bytes before
		"414d4b53544f5245" // "AMKSTORE"
	require.Equal(t, want, hex.EncodeToString(buf.Bytes()))

	raw := buf.Bytes()
	got, err := readTrailer("x", bytes.NewReader(raw), int64(len(raw)))
	require.NoError(t, err)
	require.Equal(t, tr, got)
}

func TestReadTrailerRejects(t *testing.T) {
	var buf bytes.Buffer
	_, err := writeObject(t.Context(), &buf, strings.NewReader("payload"), false)
	require.NoError(t, err)
	good := buf.Bytes()
	edit := func(f func(b []byte) []byte) []byte { return f(bytes.Clone(good)) }
	cases := map[string]struct {
		raw    []byte
		reason string
	}{
		"short":        {good[:trailerSize-1], "too short"},
		"magic":        {edit(func(b []byte) []byte { b[len(b)-1] = 'X'; return b }), "no trailer"},
		"trailer crc":  {edit(func(b []byte) []byte { b[len(b)-trailerSize+3] ^= 1; return b }), "trailer checksum mismatch"},
		"length":       {append([]byte("extra"), good...), "length mismatch"},
		"zero trailer": {make([]byte, 64), "no trailer"},
	}
	for name, c := range cases {
		_, err := readTrailer("obj", bytes.NewReader(c.raw), int64(len(c.raw)))
		require.ErrorIs(t, err, ErrCorrupt, name)
		require.Contains(t, err.Error(), c.reason, name)
		require.Contains(t, err.Error(), `"obj"`, name)
	}

	// A future version is reported as such, not as garbage.
	b := trailer{}.marshal()
	binary.BigEndian.PutUint32(b[12:], 2)
	binary.BigEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	_, err = readTrailer("obj", bytes.NewReader(b), int64(len(b)))
	require.ErrorIs(t, err, ErrCorrupt)
	require.Contains(t, err.Error(), "unsupported format version 2")
}

// fakeBody is a payload source that can end early.
type fakeBody struct {
	io.Reader
	closed int
}

func (b *fakeBody) Close() error { b.closed++; return nil }

func TestVerifyingReader(t *testing.T) {
	ctx := t.Context()
	payload := []byte("the payload")
	tr := trailer{size: int64(len(payload)), crc: crc32Castagnoli(payload)}

	t.Run("ok", func(t *testing.T) {
		body := &fakeBody{Reader: bytes.NewReader(payload)}
		v := newVerifyingReader(ctx, "n", body, tr)
		got, err := io.ReadAll(v)
		require.NoError(t, err)
		require.Equal(t, payload, got)
		require.Equal(t, int64(len(payload)), v.Size())
		require.NoError(t, v.Close())
		require.NoError(t, v.Close())
		require.Equal(t, 1, body.closed, "Close is idempotent")
		_, err = v.Read(make([]byte, 1))
		require.Error(t, err, "read after close")
	})
	t.Run("stops at the recorded length", func(t *testing.T) {
		body := &fakeBody{Reader: strings.NewReader(string(payload) + "TRAILER")}
		got, err := io.ReadAll(newVerifyingReader(ctx, "n", body, tr))
		require.NoError(t, err)
		require.Equal(t, payload, got)
	})
	t.Run("checksum", func(t *testing.T) {
		bad := bytes.Clone(payload)
		bad[0] ^= 1
		_, err := io.ReadAll(newVerifyingReader(ctx, "n", &fakeBody{Reader: bytes.NewReader(bad)}, tr))
		var ce *ChecksumError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, tr.crc, ce.Want)
		require.Equal(t, crc32Castagnoli(bad), ce.Got)
		require.Contains(t, err.Error(), "checksum mismatch")
	})
	t.Run("short", func(t *testing.T) {
		_, err := io.ReadAll(newVerifyingReader(ctx, "n", &fakeBody{Reader: bytes.NewReader(payload[:4])}, tr))
		var ce *ChecksumError
		require.ErrorAs(t, err, &ce)
		require.Equal(t, tr.size, ce.WantSize)
		require.Equal(t, int64(4), ce.GotSize)
	})
	t.Run("body error", func(t *testing.T) {
		boom := errors.New("boom")
		body := &fakeBody{Reader: io.MultiReader(bytes.NewReader(payload[:3]), errReader{boom})}
		_, err := io.ReadAll(newVerifyingReader(ctx, "n", body, tr))
		require.ErrorIs(t, err, boom)
		require.NotErrorIs(t, err, ErrCorrupt)
	})
	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		_, err := io.ReadAll(newVerifyingReader(cctx, "n", &fakeBody{Reader: bytes.NewReader(payload)}, tr))
		require.ErrorIs(t, err, context.Canceled)
	})
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

func crc32Castagnoli(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
