package zktest

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNotInstalled is wrapped by the error New returns (and Start and Main report)
// when Java or ZooKeeper cannot be found; the message names what is missing.
var ErrNotInstalled = errors.New("zktest: ZooKeeper or Java not installed")

// ClasspathEnv names the environment variable that overrides the ZooKeeper classpath
// (a list of jars or dir/* entries separated by ':'). It must include an SLF4J binding
// to get server logs; log4j 1.2 is configured through log4j.properties if present.
const ClasspathEnv = "ZOOKEEPER_CLASSPATH"

// debianJavaDir is where Debian's packages put their jars.
const debianJavaDir = "/usr/share/java"

const installHint = "run scripts/install-deps (or make test, which calls it)"

// installation is what New needs to launch a server.
type installation struct {
	java      string // path of the java binary
	classpath string // -cp argument
	log4j     bool   // log4j 1.2 is the SLF4J binding: write log4j.properties
}

// locate finds java and the ZooKeeper classpath, reporting everything missing at once.
func locate() (installation, error) {
	var inst installation
	var missing []string

	if home := os.Getenv("JAVA_HOME"); home != "" {
		java := filepath.Join(home, "bin", "java")
		if isExecutable(java) {
			inst.java = java
		} else {
			missing = append(missing, fmt.Sprintf("java: JAVA_HOME=%s has no executable bin/java (fix or unset JAVA_HOME)", home))
		}
	} else if java, err := exec.LookPath("java"); err == nil {
		inst.java = java
	} else {
		missing = append(missing, "java: not on PATH and JAVA_HOME is unset (Debian package default-jre-headless)")
	}

	if cp := os.Getenv(ClasspathEnv); cp != "" {
		for _, entry := range filepath.SplitList(cp) {
			check := entry
			if strings.HasSuffix(entry, "/*") {
				check = strings.TrimSuffix(entry, "/*")
			}
			if _, err := os.Stat(check); err != nil {
				missing = append(missing, fmt.Sprintf("%s entry %s: %v", ClasspathEnv, entry, err))
			}
		}
		inst.classpath = cp
		inst.log4j = true // harmless if log4j is not on the classpath
	} else {
		jars := []string{jar("zookeeper.jar"), jar("zookeeper-jute.jar")}
		for _, j := range jars {
			if !isFile(j) {
				missing = append(missing, j+" (Debian package zookeeper)")
			}
		}
		switch {
		case isFile(jar("slf4j-log4j12.jar")) && isFile(jar("log4j-1.2.jar")):
			jars = append(jars, jar("slf4j-log4j12.jar"), jar("log4j-1.2.jar"))
			inst.log4j = true
		case isFile(jar("slf4j-nop.jar")):
			jars = append(jars, jar("slf4j-nop.jar"))
		}
		inst.classpath = strings.Join(jars, string(filepath.ListSeparator))
	}

	if len(missing) > 0 {
		return inst, fmt.Errorf("%w: missing %s; %s, or set %s",
			ErrNotInstalled, strings.Join(missing, "; missing "), installHint, ClasspathEnv)
	}
	return inst, nil
}

func jar(name string) string { return filepath.Join(debianJavaDir, name) }

func isFile(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular()
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}
