package control

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"time"
)

// ErrNoRun is returned by the client when no run listens on the socket.
var ErrNoRun = errors.New("no pitstop run is listening")

// Ask sends one request to the socket at path and returns the reply.
func Ask(path string, req Request) (*Reply, error) {
	c, err := net.DialTimeout("unix", path, 2*time.Second)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%w on %s", ErrNoRun, path)
		}
		return nil, fmt.Errorf("control: %w", err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(AnswerTimeout + 5*time.Second))
	b, _ := json.Marshal(req)
	if _, err := c.Write(append(b, '\n')); err != nil {
		return nil, fmt.Errorf("control: send to %s: %w", path, err)
	}
	line, err := bufio.NewReader(c).ReadBytes('\n')
	if err != nil {
		return nil, fmt.Errorf("control: no answer from %s: %w", path, err)
	}
	var rep Reply
	if err := json.Unmarshal(line, &rep); err != nil {
		return nil, fmt.Errorf("control: a bad answer from %s: %w", path, err)
	}
	return &rep, nil
}

// MyTTY is this process's terminal (its standard input), e.g. "pts/3", or "".
func MyTTY() string {
	l, err := os.Readlink("/proc/self/fd/0")
	if err != nil || !strings.HasPrefix(l, "/dev/") || l == "/dev/null" {
		return ""
	}
	return strings.TrimPrefix(l, "/dev/")
}
