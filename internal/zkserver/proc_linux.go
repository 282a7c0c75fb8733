package zkserver

import (
	"errors"
	"os"
	"strconv"
	"strings"
)

// processGone reports whether pid no longer runs; a zombie counts as gone.
func processGone(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return errors.Is(err, os.ErrNotExist)
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

// cmdline returns pid's NUL-separated command line from /proc; an error
// satisfying errors.Is(err, os.ErrNotExist) means the process is gone.
func cmdline(pid int) ([]byte, error) {
	return os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
}
