package hdfspeer

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	// The client registers every hadoop.common.* and hadoop.hdfs.* message in
	// protoregistry.GlobalTypes: the peer speaks exactly the client's schema.
	_ "github.com/colinmarc/hdfs/v2"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"
)

// msg is a message of the client's schema, built and read by field name.
type msg = protoreflect.Message

// newMsg returns a new message of the full name, e.g. "hadoop.hdfs.CreateRequestProto",
// with the given fields set: alternating field names and values (see setField).
func newMsg(name string, fields ...any) msg {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(name))
	if err != nil {
		panic(fmt.Sprintf("hdfspeer: message %s: %v", name, err))
	}
	m := mt.New()
	for i := 0; i+1 < len(fields); i += 2 {
		setField(m, fields[i].(string), fields[i+1])
	}
	return m
}

// setField sets a field by name. Values: Go strings for string fields and for enum
// fields (the value's name), []byte, bool, any integer type, msg for a message field,
// []msg for a repeated message field, []string for a repeated enum field.
func setField(m msg, name string, v any) {
	fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
	if fd == nil {
		panic(fmt.Sprintf("hdfspeer: %s has no field %s", m.Descriptor().FullName(), name))
	}
	if fd.IsList() {
		l := m.Mutable(fd).List()
		switch vs := v.(type) {
		case []msg:
			for _, x := range vs {
				l.Append(protoreflect.ValueOfMessage(x))
			}
		case []string:
			for _, x := range vs {
				l.Append(scalar(fd, x))
			}
		default:
			panic(fmt.Sprintf("hdfspeer: list field %s: %T", name, v))
		}
		return
	}
	m.Set(fd, scalar(fd, v))
}

func scalar(fd protoreflect.FieldDescriptor, v any) protoreflect.Value {
	switch fd.Kind() {
	case protoreflect.MessageKind:
		return protoreflect.ValueOfMessage(v.(msg))
	case protoreflect.EnumKind:
		ev := fd.Enum().Values().ByName(protoreflect.Name(v.(string)))
		if ev == nil {
			panic(fmt.Sprintf("hdfspeer: enum %s has no value %s", fd.Enum().FullName(), v))
		}
		return protoreflect.ValueOfEnum(ev.Number())
	case protoreflect.StringKind:
		return protoreflect.ValueOfString(v.(string))
	case protoreflect.BytesKind:
		if s, ok := v.(string); ok {
			return protoreflect.ValueOfBytes([]byte(s))
		}
		return protoreflect.ValueOfBytes(v.([]byte))
	case protoreflect.BoolKind:
		return protoreflect.ValueOfBool(v.(bool))
	}
	var n int64
	switch x := v.(type) {
	case int:
		n = int64(x)
	case int32:
		n = int64(x)
	case int64:
		n = x
	case uint32:
		n = int64(x)
	case uint64:
		n = int64(x)
	default:
		panic(fmt.Sprintf("hdfspeer: integer field %s: %T", fd.Name(), v))
	}
	switch fd.Kind() {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return protoreflect.ValueOfInt32(int32(n))
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return protoreflect.ValueOfInt64(n)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return protoreflect.ValueOfUint32(uint32(n))
	default:
		return protoreflect.ValueOfUint64(uint64(n))
	}
}

func field(m msg, name string) protoreflect.FieldDescriptor {
	fd := m.Descriptor().Fields().ByName(protoreflect.Name(name))
	if fd == nil {
		panic(fmt.Sprintf("hdfspeer: %s has no field %s", m.Descriptor().FullName(), name))
	}
	return fd
}

func has(m msg, name string) bool   { return m.Has(field(m, name)) }
func str(m msg, name string) string { return m.Get(field(m, name)).String() }
func boolean(m msg, name string) bool {
	return m.Get(field(m, name)).Bool()
}
func bytesOf(m msg, name string) []byte { return m.Get(field(m, name)).Bytes() }
func sub(m msg, name string) msg        { return m.Get(field(m, name)).Message() }

func integer(m msg, name string) int64 {
	v := m.Get(field(m, name))
	switch field(m, name).Kind() {
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return int64(v.Uint())
	default:
		return v.Int()
	}
}

func enumName(m msg, name string) string {
	fd := field(m, name)
	ev := fd.Enum().Values().ByNumber(m.Get(fd).Enum())
	if ev == nil {
		return ""
	}
	return string(ev.Name())
}

// marshal encodes m, enforcing required fields as the client does.
func marshal(m msg) []byte {
	b, err := proto.Marshal(m.Interface())
	if err != nil {
		panic(fmt.Sprintf("hdfspeer: marshal %s: %v", m.Descriptor().FullName(), err))
	}
	return b
}

func unmarshal(name string, b []byte) (msg, error) {
	m := newMsg(name)
	if err := proto.Unmarshal(b, m.Interface()); err != nil {
		return nil, fmt.Errorf("unmarshal %s: %w", name, err)
	}
	return m, nil
}

// delimited returns m prefixed with its varint length.
func delimited(m msg) []byte {
	b := marshal(m)
	return append(binary.AppendUvarint(nil, uint64(len(b))), b...)
}

// readDelimited reads one varint-delimited message of the full name.
func readDelimited(r *bufio.Reader, name string) (msg, error) {
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > 64<<20 {
		return nil, fmt.Errorf("%s of %d bytes", name, n)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, err
	}
	return unmarshal(name, b)
}

// splitDelimited splits the next varint-delimited message off b.
func splitDelimited(b []byte) (msgBytes, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return nil, nil, fmt.Errorf("bad varint-delimited message")
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}
