package embedded_test

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	if os.Getenv(contenderEnv) != "" {
		os.Exit(runContender())
	}
	os.Exit(m.Run())
}
