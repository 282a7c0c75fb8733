package embedded_test

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	if os.Getenv(contenderEnv) != "" {
		os.Exit(runContender())
	}
	goleak.VerifyTestMain(m)
}
