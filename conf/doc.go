// Package conf loads amkeeper's configuration the way Flink does: flink-conf.yaml,
// conf/masters and conf/zoo.cfg from a configuration directory (and conf/workers
// through ParseWorkers, for start-cluster), -D key=value
// overrides, and a few environment variables.
//
// # What it guarantees
//
//   - One registry. Every key amkeeper reads is an Option in one table (Registry):
//     name, type, default, description, older names, environment variable, secret
//     flag and checks. Typed accessors, validation, Config.Entries (the CLI listing)
//     and WriteReference (docs/configuration.md) all derive from it.
//   - Precedence, highest first: -D (later items win), the option's environment
//     variable, flink-conf.yaml (a later duplicate line wins, with a warning naming
//     both lines), the default. Within one source the current key wins over its
//     deprecated names, which are read in their listed priority order. An empty value
//     means "use the default" (so -D key= clears a file value).
//   - flink-conf.yaml may use flat keys ("a.b: v"), nested YAML ("a: {b: v}"), or
//     both; they flatten to the same dotted keys. Lists join with ",".
//   - Every value remembers its Origin (file:line, the deprecated key it was written
//     under, -D, the environment variable, or default), and every Problem and Warning
//     names it together with the key.
//   - Load reports all problems at once in a *ValidationError, and still returns a
//     usable *Config in which values that fail their own checks are replaced by
//     their defaults (values only inconsistent with each other are kept). It
//     returns a nil *Config only when a file cannot be read, flink-conf.yaml is not
//     valid YAML (a *SyntaxError with file and line), or Options.Dir is missing.
//   - Each deprecated key yields exactly one warning naming the current key, saying
//     whether it was used or ignored in favour of another name.
//   - An unknown key under a prefix amkeeper reads (high-availability., recovery.,
//     zookeeper., yarn., state., security., ...) is a warning with a "did you mean" suggestion;
//     keys under other prefixes are kept silently (Raw returns every key seen).
//   - Nothing recognised is accepted silently: an Option amkeeper does not act on
//     yet (in security.go: high-availability.zookeeper.client.authorization) is
//     flagged "not honoured" on the Option itself; setting
//     it yields a warning naming it, and NotHonoured lists them. Supporting one is
//     deleting its flag.
//   - Secrets (amkeeper.zookeeper.digest, the key store passwords) are returned by their accessor but never
//     appear in a Problem, a Warning or Entry.Display.
//   - A Config is immutable and safe for concurrent use; With derives a new one.
//     Options are immutable package-level values; there is no other package state.
//   - No input makes the package panic.
//
// # What it does not do
//
//   - It does not read Flink 1.19+'s config.yaml (it warns when it finds one without a
//     flink-conf.yaml). Of yarn-site.xml (YARN_CONF_DIR, else HADOOP_CONF_DIR) it reads
//     only yarn.resourcemanager.am.max-attempts, the ResourceManager's setting, below
//     flink-conf.yaml in precedence.
//   - It does not resolve host names, reach ZooKeeper or the storage directory, or
//     check that ports are free: values are checked for form only.
//   - It does not apply yarn.resourcemanager.am.max-attempts as a cap on
//     yarn.application-attempts; the restart policy (package attempts) does.
//   - It does not log: callers print Warnings with their own logger.
//   - It does not support YAML merge keys (<<) or ZooKeeper chroot suffixes in the
//     quorum (use high-availability.zookeeper.path.root).
package conf
