package zktest

import (
	"github.com/amkeeper/amkeeper/internal/zkserver"
)

// ErrNotInstalled is wrapped by the error New returns (and Start and Main report)
// when Java or ZooKeeper cannot be found; the message names what is missing.
// It is zkserver.ErrNotInstalled: the discovery lives there.
var ErrNotInstalled = zkserver.ErrNotInstalled

// ClasspathEnv names the environment variable that overrides the ZooKeeper classpath
// (a list of jars or dir/* entries separated by ':'). It must include an SLF4J binding
// to get server logs; log4j 1.2 is configured through log4j.properties if present.
const ClasspathEnv = zkserver.ClasspathEnv
