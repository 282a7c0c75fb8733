package conf_test

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/amkeeper/amkeeper/conf"
)

func ExampleLoad() {
	dir, _ := os.MkdirTemp("", "conf-example")
	defer os.RemoveAll(dir)
	_ = os.WriteFile(filepath.Join(dir, "flink-conf.yaml"), []byte(
		"recovery.mode: zookeeper\n"+
			"high-availability.zookeeper.quorum: zk1,zk2:2182\n"+
			"high-availability.storageDir: hdfs:///flink/recovery\n"), 0o600)

	c, err := conf.Load(conf.Options{
		Dir:           dir,
		Dynamic:       []string{"high-availability.zookeeper.client.session-timeout=30 s"},
		ApplicationID: "application_1700000000000_0001",
		LookupEnv:     func(string) (string, bool) { return "", false },
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(c.HAMode(), c.Quorum(), c.ClusterPath(), c.SessionTimeout())
	for _, w := range c.Warnings() {
		fmt.Println("warning:", w.Key, w.Msg)
	}
	// Output:
	// zookeeper [zk1:2181 zk2:2182] /flink/application_1700000000000_0001 30s
	// warning: recovery.mode is deprecated: use high-availability.type
}

func ExampleParsePortSpec() {
	p, err := conf.ParsePortSpec("50010, 50020-50022")
	if err != nil {
		fmt.Println(err)
		return
	}
	for port := range p.Ports() {
		fmt.Print(port, " ")
	}
	fmt.Println(p)
	_, err = conf.ParsePortSpec("50025-50000")
	fmt.Println(err)
	// Output:
	// 50010 50020 50021 50022 50010,50020-50022
	// conf: port spec "50025-50000": entry "50025-50000": the range is reversed: want lo-hi with lo <= hi
}

func ExampleConfig_Entries() {
	c, _ := conf.Load(conf.Options{
		Dynamic:   []string{"amkeeper.zookeeper.digest=flink:secret"},
		LookupEnv: func(string) (string, bool) { return "", false },
	})
	for _, e := range c.Entries() {
		if e.Option == conf.ZKDigest || e.Option == conf.HAClusterID {
			fmt.Printf("%s = %s (%s)\n", e.Option.Key(), e.Display(), e.Origin)
		}
	}
	// Output:
	// high-availability.cluster-id = /default (default)
	// amkeeper.zookeeper.digest = ****** (-D)
}
