package zkserver

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ErrNotInstalled is wrapped by Locate's error (and Start's) when Java or ZooKeeper
// cannot be found; the message names what is missing and how to install it.
var ErrNotInstalled = errors.New("zkserver: ZooKeeper or Java not installed")

// ClasspathEnv names the environment variable that overrides the ZooKeeper classpath
// (jars or dir/* entries separated by ':'). It should include an SLF4J binding to get
// server logs; log4j 1.2 is configured through log4j.properties if it is present.
const ClasspathEnv = "ZOOKEEPER_CLASSPATH"

// InstallHint tells a user how to get Java and ZooKeeper; errors wrapping
// ErrNotInstalled include it.
const InstallHint = "run scripts/install-deps (make deps), which installs Debian's zookeeper package and a JRE"

// debianJavaDir is where Debian's packages put their jars.
const debianJavaDir = "/usr/share/java"

// Installation is what it takes to launch a ZooKeeper server JVM.
type Installation struct {
	Java      string // path of the java binary
	Classpath string // the -cp argument
	Log4j     bool   // log4j 1.2 is the SLF4J binding: configure it with log4j.properties
	// TLS: the classpath has what ZooKeeper's Netty connection factory needs for
	// a secureClientPort (Debian's zookeeper.jar manifest leaves out netty-codec
	// and netty-resolver; without them every TLS connection fails with
	// NoClassDefFoundError). Assumed for ZOOKEEPER_CLASSPATH.
	TLS bool
}

// nettyJars are the jars a TLS server needs beyond zookeeper.jar's manifest.
var nettyJars = []string{"netty-codec.jar", "netty-resolver.jar"}

// nettyHint says how to get nettyJars.
const nettyHint = "Debian package libnetty-java; scripts/install-deps installs it"

// Locate finds java and the ZooKeeper classpath, reporting everything missing at
// once. java is $JAVA_HOME/bin/java when JAVA_HOME is set, else java on PATH; the
// classpath is $ZOOKEEPER_CLASSPATH when set, else Debian's zookeeper and zookeeper-jute
// jars with Netty's codec and resolver jars (for TLS) and slf4j-log4j12 + log4j
// 1.2 (or slf4j-nop) from /usr/share/java.
func Locate() (Installation, error) {
	var inst Installation
	var missing []string

	if home := os.Getenv("JAVA_HOME"); home != "" {
		java := filepath.Join(home, "bin", "java")
		if isExecutable(java) {
			inst.Java = java
		} else {
			missing = append(missing, fmt.Sprintf("java: JAVA_HOME=%s has no executable bin/java (fix or unset JAVA_HOME)", home))
		}
	} else if java, err := exec.LookPath("java"); err == nil {
		inst.Java = java
	} else {
		missing = append(missing, "java: not on PATH and JAVA_HOME is unset (Debian package default-jre-headless)")
	}

	if cp := os.Getenv(ClasspathEnv); cp != "" {
		for _, entry := range filepath.SplitList(cp) {
			if _, err := os.Stat(strings.TrimSuffix(entry, "/*")); err != nil {
				missing = append(missing, fmt.Sprintf("%s entry %s: %v", ClasspathEnv, entry, err))
			}
		}
		inst.Classpath = cp
		inst.Log4j = true // harmless when log4j is not on the classpath
		inst.TLS = true
	} else {
		jars := []string{jar("zookeeper.jar"), jar("zookeeper-jute.jar")}
		for _, j := range jars {
			if !isFile(j) {
				missing = append(missing, j+" (Debian package zookeeper)")
			}
		}
		inst.TLS = true
		for _, j := range nettyJars {
			if isFile(jar(j)) {
				jars = append(jars, jar(j))
			} else {
				inst.TLS = false
			}
		}
		switch {
		case isFile(jar("slf4j-log4j12.jar")) && isFile(jar("log4j-1.2.jar")):
			jars = append(jars, jar("slf4j-log4j12.jar"), jar("log4j-1.2.jar"))
			inst.Log4j = true
		case isFile(jar("slf4j-nop.jar")):
			jars = append(jars, jar("slf4j-nop.jar"))
		}
		inst.Classpath = strings.Join(jars, string(filepath.ListSeparator))
	}

	if len(missing) > 0 {
		return inst, fmt.Errorf("%w: missing %s; %s, or set %s",
			ErrNotInstalled, strings.Join(missing, "; missing "), InstallHint, ClasspathEnv)
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
