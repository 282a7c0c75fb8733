package sessionctl

import (
	"fmt"
	"os"
	"sort"
	"strings"
)

// RSS describes the resident set of pid, with its private part when the kernel
// reports it: "N kB (private M kB)", or "?" when it cannot be read.
func RSS(pid int) string {
	kib, ok := RSSKiB(pid)
	if !ok {
		return "?"
	}
	if anon, ok := ProcKiB(pid, "RssAnon:"); ok {
		return fmt.Sprintf("%.0f kB (private %.0f kB)", kib, anon)
	}
	return fmt.Sprintf("%.0f kB", kib)
}

// RSSAll describes the resident sets of a few processes one by one, or
// summarizes many.
func RSSAll(pids []int) string {
	if len(pids) > 4 {
		var kib, anon []float64
		for _, p := range pids {
			if v, ok := RSSKiB(p); ok {
				kib = append(kib, v)
			}
			if v, ok := ProcKiB(p, "RssAnon:"); ok {
				anon = append(anon, v)
			}
		}
		if len(kib) == 0 {
			return "?"
		}
		out := fmt.Sprintf("%d processes, p50 %.0f kB, max %.0f kB", len(kib), Percentile(kib, 50), Percentile(kib, 100))
		if len(anon) > 0 {
			out += fmt.Sprintf(" (private p50 %.0f kB)", Percentile(anon, 50))
		}
		return out
	}
	var out []string
	for _, p := range pids {
		out = append(out, RSS(p))
	}
	return strings.Join(out, ", ")
}

// RSSKiB is the resident set of pid in KiB, from /proc/<pid>/status.
func RSSKiB(pid int) (float64, bool) { return ProcKiB(pid, "VmRSS:") }

// ProcKiB reads a "<key> N kB" line of /proc/<pid>/status. RssAnon is the
// process's private memory; the rest of VmRSS is mostly the executable's pages,
// which every process running the same binary shares.
func ProcKiB(pid int, key string) (float64, bool) {
	var kib float64
	_, err := fmt.Sscanf(ProcField(fmt.Sprintf("/proc/%d/status", pid), key), "%f kB", &kib)
	return kib, err == nil
}

// ProcField returns the rest of the line of a /proc file that starts with key,
// trimmed ("" when there is none).
func ProcField(path, key string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, key); ok {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// Percentile is the p-th percentile (0–100) of v by the nearest rank below; 0
// for no values. v is not modified.
func Percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}
