package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/amkeeper/amkeeper/conf"
	"github.com/amkeeper/amkeeper/internal/fsutil"
	"github.com/amkeeper/amkeeper/internal/privdir"
)

// propertiesPath is Flink's .yarn-properties-<user> in the temp directory: the
// session later commands use when no -id is given.
func propertiesPath() string {
	return filepath.Join(os.TempDir(), ".yarn-properties-"+privdir.UserName())
}

// writeProperties records a started session the way Flink does: applicationID,
// parallelism (TaskManagers × slots) and the dynamic properties joined by "@@".
// It is called only once an AM of the session leads (recordSession), so a start
// that fails leaves the record of the session before it as it was.
// The file sits in the shared temp directory and outlives the session, so -D
// items of secret keys (the ZooKeeper digest, passwords: conf's secret flag) are
// left out; session.json, in the private session directory, keeps them.
func writeProperties(sp spec) error {
	content := fmt.Sprintf("#Generated YARN properties file\napplicationID=%s\nparallelism=%d\ndynamicPropertiesString=%s\n",
		sp.AppID, sp.TaskManagers*sp.Slots, strings.Join(publicDynamic(sp.Dynamic), "@@"))
	return fsutil.WriteFileAtomic(propertiesPath(), []byte(content), 0o600)
}

// publicDynamic returns the -D items (key=value) whose key is not a secret one.
func publicDynamic(items []string) []string {
	var out []string
	for _, item := range items {
		key, _, _ := strings.Cut(item, "=")
		if o, ok := conf.Lookup(strings.TrimSpace(key)); ok && o.Secret() {
			continue
		}
		out = append(out, item)
	}
	return out
}

// readProperties returns the application ID of the last started session. The
// file lives in a shared temp directory: one that is not a regular file of this
// user (another user planted it) is refused. The caller validates the ID.
func readProperties() (string, error) {
	path := propertiesPath()
	fi, err := os.Lstat(path)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file (%s): remove it", path, fi.Mode().Type())
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Getuid() {
		return "", fmt.Errorf("%s is owned by uid %d, not by you (uid %d): another user planted it; remove it as root", path, st.Uid, os.Getuid())
	}
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), "="); ok && strings.TrimSpace(k) == "applicationID" {
			return strings.TrimSpace(v), nil
		}
	}
	return "", fmt.Errorf("%s holds no applicationID", path)
}

// removeProperties deletes the properties file if it still names id.
func removeProperties(id string) {
	if cur, err := readProperties(); err == nil && cur == id {
		_ = os.Remove(propertiesPath())
	}
}
