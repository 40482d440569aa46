package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
	binOut  []byte
)

// pitstopBinary builds the pitstop command once for the package's tests, in a directory removed when
// the tests end (TestMain), and returns its path.
func pitstopBinary(t *testing.T) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "pitstop-cli-test-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "pitstop")
		cmd := exec.Command("go", "build", "-o", binPath, ".")
		cmd.Dir = "../.."
		binOut, binErr = cmd.CombinedOutput()
	})
	if binErr != nil {
		t.Fatalf("go build pitstop: %v\n%s", binErr, binOut)
	}
	return binPath
}

// setupCLITests prepares what the package's tests share and returns what undoes it (TestMain, in
// crash_test.go, calls both): runs started in-process listen on control sockets, kept out of the
// user's runtime directory; the binary built by pitstopBinary is removed at the end.
func setupCLITests() (cleanup func()) {
	rt, err := os.MkdirTemp("", "pitstop-cli-rt-")
	if err == nil {
		os.Setenv("XDG_RUNTIME_DIR", rt)
	}
	return func() {
		if binPath != "" {
			os.RemoveAll(filepath.Dir(binPath))
		}
		if rt != "" {
			os.RemoveAll(rt)
		}
	}
}
