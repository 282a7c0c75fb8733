package deps
import (
 _ "github.com/go-zookeeper/zk"
 _ "github.com/colinmarc/hdfs/v2"
 _ "github.com/urfave/cli/v2"
 _ "github.com/rs/zerolog"
 _ "github.com/stretchr/testify/require"
 _ "go.yaml.in/yaml/v3"
 _ "github.com/google/uuid"
)
