package hdfspeer

import (
	"path"
	"slices"
	"strings"
	"time"
)

// Exception classes the client interprets.
const (
	exFileNotFound      = "java.io.FileNotFoundException"
	exFileExists        = "org.apache.hadoop.fs.FileAlreadyExistsException"
	exNotEmpty          = "org.apache.hadoop.fs.PathIsNotEmptyDirectoryException"
	exParentNotDir      = "org.apache.hadoop.fs.ParentNotDirectoryException"
	exIllegalArgument   = "org.apache.hadoop.HadoopIllegalArgumentException"
	exLeaseExpired      = "org.apache.hadoop.hdfs.server.namenode.LeaseExpiredException"
	exStandby           = "org.apache.hadoop.ipc.StandbyException"
	exNoSuchMethod      = "org.apache.hadoop.ipc.RpcNoSuchMethodException"
	exIO                = "java.io.IOException"
	blockPoolID         = "BP-hdfspeer"
	datanodeUUID        = "hdfspeer-datanode-1"
	defaultBlockSize    = 1 << 20
	bytesPerChecksum    = 512
	maxListingPageCount = 100
)

// rpcError is a Java exception as the namenode reports it.
type rpcError struct {
	class, msg string
}

func (e *rpcError) Error() string { return e.class + ": " + e.msg }

func fail(class, format string, p string) *rpcError {
	return &rpcError{class: class, msg: strings.ReplaceAll(format, "%s", p)}
}

// inode is a directory or a file of the in-memory namespace.
type inode struct {
	dir      bool
	children map[string]*inode // directories only
	id       uint64
	owner    string
	perm     uint32
	mtime    time.Time

	// Files only.
	blocks   []*block
	complete bool
}

// block is what the namenode knows of a block; its bytes are in the datanode.
type block struct {
	id, genStamp uint64
	numBytes     int64 // as the client last reported it
}

// lookup returns the inode at the absolute clean path p and whether the walk
// crossed a file (a path below a file).
func (p *Peer) lookup(name string) (n *inode, belowFile bool) {
	n = p.root
	for c := range strings.SplitSeq(strings.TrimPrefix(name, "/"), "/") {
		if c == "" {
			continue
		}
		if !n.dir {
			return nil, true
		}
		n = n.children[c]
		if n == nil {
			return nil, false
		}
	}
	return n, false
}

// parentOf returns the directory that holds p, or an error naming why there is none.
func (p *Peer) parentOf(name string, createParents bool) (*inode, *rpcError) {
	dir := path.Dir(name)
	n, below := p.lookup(dir)
	if n == nil && createParents && !below {
		if err := p.mkdirs(dir, 0o755); err != nil {
			return nil, err
		}
		n, below = p.lookup(dir)
	}
	switch {
	case below || (n != nil && !n.dir):
		return nil, fail(exParentNotDir, "parent of %s is not a directory", name)
	case n == nil:
		return nil, fail(exFileNotFound, "parent of %s does not exist", name)
	}
	return n, nil
}

func (p *Peer) mkdirs(name string, perm uint32) *rpcError {
	n := p.root
	for c := range strings.SplitSeq(strings.TrimPrefix(name, "/"), "/") {
		if c == "" {
			continue
		}
		next := n.children[c]
		if next == nil {
			p.nextID++
			next = &inode{dir: true, children: map[string]*inode{}, id: p.nextID, owner: p.caller, perm: perm, mtime: time.Now()}
			n.children[c] = next
			n.mtime = time.Now()
		} else if !next.dir {
			return fail(exParentNotDir, "a path component of %s is a file", name)
		}
		n = next
	}
	return nil
}

// length is the number of bytes the datanode holds for the file's finalized blocks.
func (p *Peer) length(n *inode) int64 {
	var sum int64
	for _, b := range n.blocks {
		sum += int64(len(p.finalized[b.id]))
	}
	return sum
}

// status returns the HdfsFileStatusProto of n, with localName as its path.
func (p *Peer) status(n *inode, localName string) msg {
	kind, perm := "IS_FILE", n.perm
	var length int64
	if n.dir {
		kind = "IS_DIR"
	} else {
		length = p.length(n)
	}
	mtime := uint64(n.mtime.UnixMilli())
	fs := newMsg("hadoop.hdfs.HdfsFileStatusProto",
		"fileType", kind,
		"path", localName,
		"length", length,
		"permission", newMsg("hadoop.hdfs.FsPermissionProto", "perm", perm),
		"owner", n.owner,
		"group", "supergroup",
		"modification_time", mtime,
		"access_time", mtime,
		"fileId", n.id,
	)
	if !n.dir {
		setField(fs, "block_replication", 1)
		setField(fs, "blocksize", p.blockSize)
	} else {
		setField(fs, "childrenNum", len(n.children))
	}
	return fs
}

// sortedChildren returns the names in the directory n, sorted bytewise.
func sortedChildren(n *inode) []string {
	names := make([]string, 0, len(n.children))
	for c := range n.children {
		names = append(names, c)
	}
	slices.Sort(names)
	return names
}
