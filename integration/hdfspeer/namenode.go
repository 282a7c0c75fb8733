package hdfspeer

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"path"
	"slices"
	"strings"
	"time"
	"unicode"
)

// serveIPC speaks Hadoop IPC version 9, authentication NONE, one call at a time, on
// one namenode connection. A standby answers every call with StandbyException.
func (p *Peer) serveIPC(c net.Conn, standby bool) error {
	r := bufio.NewReader(c)
	pre := make([]byte, 7)
	if _, err := io.ReadFull(r, pre); err != nil {
		return nil // a probe, or a client that went away
	}
	if string(pre[:4]) != "hrpc" || pre[4] != 9 || pre[6] != 0 {
		return fmt.Errorf("preamble %q: want hrpc, version 9, auth NONE", pre)
	}
	// The connection context (callId -3); it gets no answer.
	frame, err := readFrame(r)
	if err != nil {
		return nil
	}
	user, err := connectionUser(frame)
	if err != nil {
		return err
	}
	for {
		frame, err := readFrame(r)
		if err != nil {
			return nil // the client closed the connection
		}
		callID, method, req, err := parseCall(frame)
		if err != nil {
			return err
		}
		var resp msg
		var rerr *rpcError
		if standby {
			rerr = &rpcError{exStandby, "Operation category READ is not supported in state standby"}
		} else {
			resp, rerr = p.call(user, method, req)
		}
		if _, err := c.Write(responseFrame(callID, resp, rerr)); err != nil {
			return nil
		}
	}
}

func readFrame(r *bufio.Reader) ([]byte, error) {
	var n [4]byte
	if _, err := io.ReadFull(r, n[:]); err != nil {
		return nil, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > 128<<20 {
		return nil, fmt.Errorf("frame of %d bytes", size)
	}
	b := make([]byte, size)
	_, err := io.ReadFull(r, b)
	return b, err
}

// parseCall splits a call frame: RpcRequestHeaderProto, RequestHeaderProto, request.
func parseCall(frame []byte) (callID int32, method string, req []byte, err error) {
	hb, rest, err := splitDelimited(frame)
	if err != nil {
		return 0, "", nil, err
	}
	rh, err := unmarshal("hadoop.common.RpcRequestHeaderProto", hb)
	if err != nil {
		return 0, "", nil, err
	}
	qb, rest, err := splitDelimited(rest)
	if err != nil {
		return 0, "", nil, err
	}
	qh, err := unmarshal("hadoop.common.RequestHeaderProto", qb)
	if err != nil {
		return 0, "", nil, err
	}
	req, rest, err = splitDelimited(rest)
	if err != nil {
		return 0, "", nil, err
	}
	if len(rest) != 0 {
		return 0, "", nil, errors.New("trailing bytes after the request")
	}
	return int32(integer(rh, "callId")), str(qh, "methodName"), req, nil
}

func responseFrame(callID int32, resp msg, rerr *rpcError) []byte {
	h := newMsg("hadoop.common.RpcResponseHeaderProto",
		"callId", uint32(callID), "status", "SUCCESS", "serverIpcVersionNum", 9)
	body := []byte(nil)
	if rerr != nil {
		detail := "ERROR_APPLICATION"
		if rerr.class == exNoSuchMethod {
			detail = "ERROR_NO_SUCH_METHOD"
		}
		setField(h, "status", "ERROR")
		setField(h, "exceptionClassName", rerr.class)
		setField(h, "errorMsg", rerr.msg)
		setField(h, "errorDetail", detail)
		body = delimited(h)
	} else {
		body = append(delimited(h), delimited(resp)...)
	}
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// handlers are the ClientNamenodeProtocol methods the peer answers, by method name;
// the request and response types follow the protocol's naming.
var handlers = map[string]func(p *Peer, req msg) (msg, *rpcError){
	"getFileInfo":            (*Peer).getFileInfo,
	"getServerDefaults":      (*Peer).getServerDefaults,
	"create":                 (*Peer).create,
	"addBlock":               (*Peer).addBlock,
	"updateBlockForPipeline": (*Peer).updateBlockForPipeline,
	"complete":               (*Peer).complete,
	"getBlockLocations":      (*Peer).getBlockLocations,
	"rename2":                (*Peer).rename2,
	"delete":                 (*Peer).delete,
	"mkdirs":                 (*Peer).mkdirsCall,
	"getListing":             (*Peer).getListing,
	"renewLease":             (*Peer).renewLease,
}

// connectionUser returns the effective user of the connection context frame.
func connectionUser(frame []byte) (string, error) {
	_, rest, err := splitDelimited(frame)
	if err != nil {
		return "", err
	}
	cb, _, err := splitDelimited(rest)
	if err != nil {
		return "", err
	}
	cc, err := unmarshal("hadoop.common.IpcConnectionContextProto", cb)
	if err != nil {
		return "", err
	}
	return str(sub(cc, "userInfo"), "effectiveUser"), nil
}

func (p *Peer) call(user, method string, reqBytes []byte) (msg, *rpcError) {
	h, ok := handlers[method]
	if !ok {
		return nil, &rpcError{exNoSuchMethod, "hdfspeer does not implement " + method}
	}
	typ := strings.ToUpper(method[:1]) + method[1:]
	req, err := unmarshal("hadoop.hdfs."+typ+"RequestProto", reqBytes)
	if err != nil {
		return nil, &rpcError{exIO, err.Error()}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.calls[method]++
	p.caller = user
	resp, rerr := h(p, req)
	if rerr != nil {
		return nil, rerr
	}
	if resp == nil {
		resp = newMsg("hadoop.hdfs." + typ + "ResponseProto")
	}
	return resp, nil
}

// srcPath returns the clean absolute path in the request field name.
func srcPath(req msg, name string) (string, *rpcError) {
	p := str(req, name)
	if !strings.HasPrefix(p, "/") || strings.ContainsFunc(p, unicode.IsControl) {
		return "", fail(exIllegalArgument, "invalid path %s", p)
	}
	return path.Clean(p), nil
}

func (p *Peer) getFileInfo(req msg) (msg, *rpcError) {
	src, rerr := srcPath(req, "src")
	if rerr != nil {
		return nil, rerr
	}
	resp := newMsg("hadoop.hdfs.GetFileInfoResponseProto")
	if n, _ := p.lookup(src); n != nil {
		setField(resp, "fs", p.status(n, ""))
	}
	return resp, nil
}

func (p *Peer) getServerDefaults(msg) (msg, *rpcError) {
	return newMsg("hadoop.hdfs.GetServerDefaultsResponseProto", "serverDefaults",
		newMsg("hadoop.hdfs.FsServerDefaultsProto",
			"blockSize", p.blockSize,
			"bytesPerChecksum", bytesPerChecksum,
			"writePacketSize", 64<<10,
			"replication", 1,
			"fileBufferSize", 4096,
			"encryptDataTransfer", false,
			"trashInterval", 0,
			"checksumType", "CHECKSUM_CRC32C",
		)), nil
}

func (p *Peer) create(req msg) (msg, *rpcError) {
	src, rerr := srcPath(req, "src")
	if rerr != nil {
		return nil, rerr
	}
	const flagOverwrite = 2
	if n, _ := p.lookup(src); n != nil {
		if n.dir || integer(req, "createFlag")&flagOverwrite == 0 {
			return nil, fail(exFileExists, "%s already exists", src)
		}
	}
	parent, rerr := p.parentOf(src, boolean(req, "createParent"))
	if rerr != nil {
		return nil, rerr
	}
	p.nextID++
	n := &inode{id: p.nextID, owner: p.caller, perm: uint32(integer(sub(req, "masked"), "perm")), mtime: time.Now()}
	parent.children[path.Base(src)] = n
	parent.mtime = n.mtime
	return newMsg("hadoop.hdfs.CreateResponseProto", "fs", p.status(n, "")), nil
}

// openFile returns the file under construction at the request's src.
func (p *Peer) openFile(req msg) (*inode, *rpcError) {
	src, rerr := srcPath(req, "src")
	if rerr != nil {
		return nil, rerr
	}
	n, _ := p.lookup(src)
	switch {
	case n == nil || n.dir:
		return nil, fail(exFileNotFound, "File does not exist: %s", src)
	case n.complete:
		return nil, fail(exLeaseExpired, "%s is not open for writing", src)
	}
	return n, nil
}

func (p *Peer) locatedBlock(b *block, offset int64) msg {
	return newMsg("hadoop.hdfs.LocatedBlockProto",
		"b", newMsg("hadoop.hdfs.ExtendedBlockProto",
			"poolId", blockPoolID, "blockId", b.id, "generationStamp", b.genStamp, "numBytes", b.numBytes),
		"offset", offset,
		"locs", []msg{newMsg("hadoop.hdfs.DatanodeInfoProto", "id", newMsg("hadoop.hdfs.DatanodeIDProto",
			"ipAddr", p.bindAddr(), "hostName", p.bindAddr(), "datanodeUuid", datanodeUUID,
			"xferPort", p.dnPort, "infoPort", 0, "ipcPort", 0))},
		"corrupt", false,
		"blockToken", newMsg("hadoop.common.TokenProto",
			"identifier", []byte{}, "password", []byte{}, "kind", "", "service", ""),
	)
}

func (p *Peer) addBlock(req msg) (msg, *rpcError) {
	n, rerr := p.openFile(req)
	if rerr != nil {
		return nil, rerr
	}
	if has(req, "previous") {
		p.recordLength(sub(req, "previous"))
	}
	var offset int64
	for _, b := range n.blocks {
		offset += b.numBytes
	}
	p.nextBlock++
	b := &block{id: p.nextBlock, genStamp: 1001}
	n.blocks = append(n.blocks, b)
	p.blockIndex[b.id] = b
	return newMsg("hadoop.hdfs.AddBlockResponseProto", "block", p.locatedBlock(b, offset)), nil
}

// recordLength records the length the client reports for a block.
func (p *Peer) recordLength(eb msg) {
	if b := p.blockIndex[uint64(integer(eb, "blockId"))]; b != nil {
		b.numBytes = integer(eb, "numBytes")
	}
}

func (p *Peer) updateBlockForPipeline(req msg) (msg, *rpcError) {
	eb := sub(req, "block")
	b := p.blockIndex[uint64(integer(eb, "blockId"))]
	if b == nil {
		return nil, &rpcError{exIO, fmt.Sprintf("unknown block %d", integer(eb, "blockId"))}
	}
	p.recordLength(eb)
	return newMsg("hadoop.hdfs.UpdateBlockForPipelineResponseProto", "block", p.locatedBlock(b, 0)), nil
}

func (p *Peer) complete(req msg) (msg, *rpcError) {
	n, rerr := p.openFile(req)
	if rerr != nil {
		return nil, rerr
	}
	if has(req, "last") {
		p.recordLength(sub(req, "last"))
	}
	result := func(ok bool) (msg, *rpcError) {
		return newMsg("hadoop.hdfs.CompleteResponseProto", "result", ok), nil
	}
	if p.failComplete > 0 {
		p.failComplete--
		return result(false)
	}
	for _, b := range n.blocks {
		if data, ok := p.finalized[b.id]; !ok || int64(len(data)) != b.numBytes {
			return result(false) // not (yet) minimally replicated
		}
	}
	n.complete = true
	n.mtime = time.Now()
	return result(true)
}

func (p *Peer) getBlockLocations(req msg) (msg, *rpcError) {
	src, rerr := srcPath(req, "src")
	if rerr != nil {
		return nil, rerr
	}
	n, _ := p.lookup(src)
	if n == nil || n.dir {
		return nil, fail(exFileNotFound, "File does not exist: %s", src)
	}
	var blocks []msg
	var offset int64
	for _, b := range n.blocks {
		data, ok := p.finalized[b.id]
		if !ok {
			continue
		}
		lb := p.locatedBlock(&block{id: b.id, genStamp: b.genStamp, numBytes: int64(len(data))}, offset)
		blocks = append(blocks, lb)
		offset += int64(len(data))
	}
	locs := newMsg("hadoop.hdfs.LocatedBlocksProto",
		"fileLength", offset,
		"blocks", blocks,
		"underConstruction", !n.complete,
		"isLastBlockComplete", n.complete,
	)
	return newMsg("hadoop.hdfs.GetBlockLocationsResponseProto", "locations", locs), nil
}

func (p *Peer) rename2(req msg) (msg, *rpcError) {
	src, rerr := srcPath(req, "src")
	if rerr != nil {
		return nil, rerr
	}
	dst, rerr := srcPath(req, "dst")
	if rerr != nil {
		return nil, rerr
	}
	n, _ := p.lookup(src)
	if n == nil || src == "/" {
		return nil, fail(exFileNotFound, "rename source %s is not found", src)
	}
	if dst == src {
		return nil, nil
	}
	if strings.HasPrefix(dst, src+"/") {
		return nil, fail(exIO, "rename destination is below the source: %s", dst)
	}
	dstParent, rerr := p.parentOf(dst, false)
	if rerr != nil {
		return nil, rerr
	}
	if old := dstParent.children[path.Base(dst)]; old != nil {
		switch {
		case !boolean(req, "overwriteDest"):
			return nil, fail(exFileExists, "rename destination %s already exists", dst)
		case old.dir != n.dir:
			return nil, fail(exIO, "rename source and destination %s must both be files or directories", dst)
		case old.dir && len(old.children) > 0:
			return nil, fail(exIO, "rename destination directory %s is not empty", dst)
		}
		p.forget(old)
	}
	srcParent, _ := p.lookup(path.Dir(src))
	delete(srcParent.children, path.Base(src))
	dstParent.children[path.Base(dst)] = n
	now := time.Now()
	srcParent.mtime, dstParent.mtime = now, now
	return nil, nil
}

// forget drops the blocks of the subtree n from the namespace. The datanode keeps
// their replicas, as a real one does for a while after a delete, so that a reader
// that already has the block locations can finish.
func (p *Peer) forget(n *inode) {
	for _, b := range n.blocks {
		delete(p.blockIndex, b.id)
	}
	for _, c := range n.children {
		p.forget(c)
	}
}

func (p *Peer) delete(req msg) (msg, *rpcError) {
	src, rerr := srcPath(req, "src")
	if rerr != nil {
		return nil, rerr
	}
	result := func(ok bool) (msg, *rpcError) {
		return newMsg("hadoop.hdfs.DeleteResponseProto", "result", ok), nil
	}
	n, _ := p.lookup(src)
	switch {
	case n == nil:
		return result(false)
	case src == "/":
		return nil, &rpcError{exIO, "hdfspeer does not delete the root"}
	case n.dir && len(n.children) > 0 && !boolean(req, "recursive"):
		return nil, fail(exNotEmpty, "%s is non empty", src)
	}
	parent, _ := p.lookup(path.Dir(src))
	delete(parent.children, path.Base(src))
	parent.mtime = time.Now()
	p.forget(n)
	return result(true)
}

func (p *Peer) mkdirsCall(req msg) (msg, *rpcError) {
	src, rerr := srcPath(req, "src")
	if rerr != nil {
		return nil, rerr
	}
	if n, _ := p.lookup(src); n != nil && !n.dir {
		return nil, fail(exFileExists, "%s is a file", src)
	}
	if !boolean(req, "createParent") {
		if _, rerr := p.parentOf(src, false); rerr != nil {
			return nil, rerr
		}
	}
	if rerr := p.mkdirs(src, uint32(integer(sub(req, "masked"), "perm"))); rerr != nil {
		return nil, rerr
	}
	return newMsg("hadoop.hdfs.MkdirsResponseProto", "result", true), nil
}

func (p *Peer) getListing(req msg) (msg, *rpcError) {
	src, rerr := srcPath(req, "src")
	if rerr != nil {
		return nil, rerr
	}
	resp := newMsg("hadoop.hdfs.GetListingResponseProto")
	n, _ := p.lookup(src)
	if n == nil {
		return resp, nil
	}
	var entries []msg
	remaining := 0
	if !n.dir {
		entries = append(entries, p.status(n, ""))
	} else {
		after := string(bytesOf(req, "startAfter"))
		names := sortedChildren(n)
		i, _ := slices.BinarySearch(names, after)
		if i < len(names) && names[i] == after {
			i++
		}
		names = names[i:]
		if len(names) > maxListingPageCount {
			remaining = len(names) - maxListingPageCount
			names = names[:maxListingPageCount]
		}
		for _, c := range names {
			entries = append(entries, p.status(n.children[c], c))
		}
	}
	setField(resp, "dirList", newMsg("hadoop.hdfs.DirectoryListingProto",
		"partialListing", entries, "remainingEntries", remaining))
	return resp, nil
}

func (p *Peer) renewLease(msg) (msg, *rpcError) { return nil, nil }
