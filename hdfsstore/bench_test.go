package hdfsstore_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/amkeeper/amkeeper/hdfsstore"
)

var benchSizes = []int{4 << 10, 4 << 20}

func sizeName(n int) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%dMiB", n>>20)
	}
	return fmt.Sprintf("%dKiB", n>>10)
}

// BenchmarkPut measures a durable Put (two fsyncs) over an existing object.
func BenchmarkPut(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			s := openFile(b)
			defer s.Close()
			data := bytes.Repeat([]byte{'x'}, size)
			b.SetBytes(int64(size))
			for b.Loop() {
				_, err := s.Put(b.Context(), "bench/obj", bytes.NewReader(data))
				require.NoError(b, err)
			}
		})
	}
}

// BenchmarkGet measures a verified read of a whole object.
func BenchmarkGet(b *testing.B) {
	for _, size := range benchSizes {
		b.Run(sizeName(size), func(b *testing.B) {
			s := openFile(b)
			defer s.Close()
			_, err := hdfsstore.PutBytes(b.Context(), s, "bench/obj", bytes.Repeat([]byte{'x'}, size))
			require.NoError(b, err)
			b.SetBytes(int64(size))
			for b.Loop() {
				got, err := hdfsstore.GetBytes(b.Context(), s, "bench/obj")
				require.NoError(b, err)
				require.Len(b, got, size)
			}
		})
	}
}
