package minicluster

import "os"

// readTail returns at most the last n bytes of a file.
func readTail(name string, n int) ([]byte, error) {
	b, err := os.ReadFile(name)
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return b, err
}
