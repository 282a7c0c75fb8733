package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/amkeeper/amkeeper/internal/fsutil"
)

// propertiesPath is Flink's .yarn-properties-<user> in the temp directory: the
// session later commands use when no -id is given.
func propertiesPath() string {
	return filepath.Join(os.TempDir(), ".yarn-properties-"+userName())
}

// writeProperties records a started session the way Flink does: applicationID,
// parallelism (TaskManagers × slots) and the dynamic properties joined by "@@".
func writeProperties(sp spec) error {
	content := fmt.Sprintf("#Generated YARN properties file\napplicationID=%s\nparallelism=%d\ndynamicPropertiesString=%s\n",
		sp.AppID, sp.TaskManagers*sp.Slots, strings.Join(sp.Dynamic, "@@"))
	return fsutil.WriteFileAtomic(propertiesPath(), []byte(content), 0o600)
}

// readProperties returns the application ID of the last started session.
func readProperties() (string, error) {
	f, err := os.Open(propertiesPath())
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
	return "", fmt.Errorf("%s holds no applicationID", propertiesPath())
}

// removeProperties deletes the properties file if it still names id.
func removeProperties(id string) {
	if cur, err := readProperties(); err == nil && cur == id {
		os.Remove(propertiesPath())
	}
}
