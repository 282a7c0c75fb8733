package hdfsstore_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/amkeeper/amkeeper/hdfsstore"
)

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "hdfsstore-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)

	s, err := hdfsstore.Open(ctx, fileURI(filepath.Join(dir, "ha")))
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()

	// Payload first; the pointer (name and checksum) then goes to ZooKeeper.
	info, err := hdfsstore.PutBytes(ctx, s, "cluster-1/jobgraphs/submittedJobGraph-abc", []byte("job graph"))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("stored %s: %d bytes, crc32c %08x\n", info.Name, info.Size, info.Checksum)

	b, err := hdfsstore.GetBytes(ctx, s, info.Name)
	if err != nil {
		fmt.Println(err) // ErrCorrupt if the bytes are not what was stored
		return
	}
	fmt.Printf("read back %q\n", b)

	names, err := s.List(ctx, "cluster-1/jobgraphs/")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(names)
	// Output:
	// stored cluster-1/jobgraphs/submittedJobGraph-abc: 9 bytes, crc32c 1187c43d
	// read back "job graph"
	// [cluster-1/jobgraphs/submittedJobGraph-abc]
}

func ExampleOpen_errors() {
	ctx := context.Background()
	_, err := hdfsstore.Open(ctx, "/data/flink/ha")
	fmt.Println(err)
	_, err = hdfsstore.Open(ctx, "hdfs://namenode:8020")
	fmt.Println(err)
	// Output:
	// hdfsstore: invalid storage URI "/data/flink/ha": a path, not a URI; did you mean "file:///data/flink/ha"?
	// hdfsstore: invalid storage URI "hdfs://namenode:8020": no absolute path; want hdfs://namenode:port/absolute/path
}

func ExampleValidateName() {
	fmt.Println(hdfsstore.ValidateName("cluster-1/jobgraphs/submittedJobGraph-abc"))
	fmt.Println(hdfsstore.ValidateName("cluster-1//job graph"))
	// Output:
	// <nil>
	// hdfsstore: invalid name: name "cluster-1//job graph": empty component; want slash-separated components of [A-Za-z0-9._-], 1 to 255 bytes each, none "." or ".." or starting with ".amk-tmp-", no leading or trailing slash
}
