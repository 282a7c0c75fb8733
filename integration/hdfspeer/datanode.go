package hdfspeer

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"net"
)

const (
	dataTransferVersion = 28
	opWriteBlock        = 0x50
	opReadBlock         = 0x51
	maxPacketData       = 64 << 10
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// serveData speaks DataTransferProtocol version 28 on one datanode connection.
func (p *Peer) serveData(c net.Conn) error {
	r := bufio.NewReader(c)
	var hdr [3]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil
	}
	if v := binary.BigEndian.Uint16(hdr[:]); v != dataTransferVersion {
		return fmt.Errorf("data transfer version %d, want %d", v, dataTransferVersion)
	}
	switch hdr[2] {
	case opWriteBlock:
		return p.writeBlock(c, r)
	case opReadBlock:
		return p.readBlock(c, r)
	default:
		return fmt.Errorf("data transfer op 0x%x not implemented", hdr[2])
	}
}

// blockOpResponse is a BlockOpResponseProto, delimited. Every reply is at least five
// bytes long: the client reads replies with a five-byte minimum read.
func blockOpResponse(fields ...any) []byte {
	m := newMsg("hadoop.hdfs.BlockOpResponseProto", fields...)
	if !has(m, "message") {
		setField(m, "firstBadLink", "")
	}
	b := delimited(m)
	if len(b) < 5 {
		panic("hdfspeer: a block op response shorter than five bytes")
	}
	return b
}

func opBlockID(op msg) uint64 {
	return uint64(integer(sub(sub(sub(op, "header"), "baseHeader"), "block"), "blockId"))
}

func (p *Peer) writeBlock(c net.Conn, r *bufio.Reader) error {
	op, err := readDelimited(r, "hadoop.hdfs.OpWriteBlockProto")
	if err != nil {
		return err
	}
	id := opBlockID(op)
	p.mu.Lock()
	drop := p.dropWriteAfter
	p.dropWriteAfter = -1
	p.mu.Unlock()
	if _, err := c.Write(blockOpResponse("status", "SUCCESS")); err != nil {
		return nil
	}
	var data []byte
	for {
		h, sums, payload, err := readPacket(r)
		if err != nil {
			return nil // the client went away; the block stays unfinalized
		}
		seqno := integer(h, "seqno")
		status := "SUCCESS"
		if seqno != -1 {
			if off := integer(h, "offsetInBlock"); off != int64(len(data)) {
				return fmt.Errorf("block %d: packet at offset %d, have %d bytes", id, off, len(data))
			}
			if !checksumsMatch(sums, payload) {
				status = "ERROR_CHECKSUM"
			}
			data = append(data, payload...)
		}
		if drop >= 0 && int64(len(data)) >= drop {
			return nil // the failure knob: the connection drops mid-write
		}
		last := boolean(h, "lastPacketInBlock")
		if last && status == "SUCCESS" {
			p.mu.Lock()
			p.finalized[id] = data
			p.mu.Unlock()
		}
		ack := newMsg("hadoop.hdfs.PipelineAckProto",
			"seqno", seqno, "reply", []string{status}, "downstreamAckTimeNanos", 0)
		if _, err := c.Write(delimited(ack)); err != nil || last || status != "SUCCESS" {
			return nil
		}
	}
}

// readPacket reads one data packet: uint32 length (4 + checksums + data), uint16
// header length, PacketHeaderProto, the CRC32C of each 512-byte chunk, the data.
func readPacket(r *bufio.Reader) (h msg, sums, data []byte, err error) {
	var lens [6]byte
	if _, err := io.ReadFull(r, lens[:]); err != nil {
		return nil, nil, nil, err
	}
	plen := binary.BigEndian.Uint32(lens[:])
	hb := make([]byte, binary.BigEndian.Uint16(lens[4:]))
	if _, err := io.ReadFull(r, hb); err != nil {
		return nil, nil, nil, err
	}
	if h, err = unmarshal("hadoop.hdfs.PacketHeaderProto", hb); err != nil {
		return nil, nil, nil, err
	}
	if plen < 4 || plen > 4+2*maxPacketData {
		return nil, nil, nil, fmt.Errorf("packet length %d", plen)
	}
	body := make([]byte, plen-4)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, nil, nil, err
	}
	dataLen := int(integer(h, "dataLen"))
	nsums := 4 * ((dataLen + bytesPerChecksum - 1) / bytesPerChecksum)
	if nsums+dataLen != len(body) {
		return nil, nil, nil, fmt.Errorf("packet of %d bytes for %d data bytes", len(body), dataLen)
	}
	return h, body[:nsums], body[nsums:], nil
}

func checksumsMatch(sums, data []byte) bool {
	for i := 0; len(data) > 0; i++ {
		n := min(len(data), bytesPerChecksum)
		if binary.BigEndian.Uint32(sums[4*i:]) != crc32.Checksum(data[:n], castagnoli) {
			return false
		}
		data = data[n:]
	}
	return true
}

func appendPacket(b []byte, offset, seqno int64, last bool, data []byte) []byte {
	h := marshal(newMsg("hadoop.hdfs.PacketHeaderProto",
		"offsetInBlock", offset, "seqno", seqno, "lastPacketInBlock", last, "dataLen", len(data)))
	nsums := (len(data) + bytesPerChecksum - 1) / bytesPerChecksum
	b = binary.BigEndian.AppendUint32(b, uint32(4+4*nsums+len(data)))
	b = binary.BigEndian.AppendUint16(b, uint16(len(h)))
	b = append(b, h...)
	for d := data; len(d) > 0; d = d[min(len(d), bytesPerChecksum):] {
		b = binary.BigEndian.AppendUint32(b, crc32.Checksum(d[:min(len(d), bytesPerChecksum)], castagnoli))
	}
	return append(b, data...)
}

func (p *Peer) readBlock(c net.Conn, r *bufio.Reader) error {
	op, err := readDelimited(r, "hadoop.hdfs.OpReadBlockProto")
	if err != nil {
		return err
	}
	id := opBlockID(op)
	offset, length := integer(op, "offset"), integer(op, "len")
	p.mu.Lock()
	data, ok := p.finalized[id]
	p.mu.Unlock()
	if !ok || offset > int64(len(data)) {
		_, _ = c.Write(blockOpResponse("status", "ERROR",
			"message", fmt.Sprintf("block %d: no replica with %d bytes", id, offset)))
		return nil
	}
	start := offset - offset%bytesPerChecksum
	end := min(int64(len(data)), offset+length)
	resp := blockOpResponse("status", "SUCCESS", "readOpChecksumInfo", newMsg("hadoop.hdfs.ReadOpChecksumInfoProto",
		"checksum", newMsg("hadoop.hdfs.ChecksumProto", "type", "CHECKSUM_CRC32C", "bytesPerChecksum", bytesPerChecksum),
		"chunkOffset", start))
	w := bufio.NewWriterSize(c, 2*maxPacketData)
	if _, err := w.Write(resp); err != nil {
		return nil
	}
	seqno := int64(0)
	for pos := start; pos < end; pos += maxPacketData {
		chunk := data[pos:min(end, pos+maxPacketData)]
		if _, err := w.Write(appendPacket(nil, pos, seqno, false, chunk)); err != nil {
			return nil // the client has what it wanted and reset the connection
		}
		seqno++
	}
	if _, err := w.Write(appendPacket(nil, end, seqno, true, nil)); err != nil {
		return nil
	}
	_ = w.Flush()
	// The client may answer with a ClientReadStatusProto, or just close.
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 64))
	return nil
}
