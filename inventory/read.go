package inventory

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
)

// MaxFileBytes is the largest inventory file Load reads. A real inventory is a few KiB; 1 MiB holds
// about 20,000 hosts. The limit keeps `-i /dev/zero` or a runaway generator from eating the memory.
const MaxFileBytes = 1 << 20

// ErrNotRegular is returned (wrapped) by Load for a path that is not a regular file: a FIFO, a
// device, a socket or a directory. Such a file is never read: reading a FIFO blocks until a writer
// comes, and a device can be endless.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is returned (wrapped) by Load for a file larger than MaxFileBytes.
var ErrTooLarge = errors.New("inventory file too large")

// readFile reads the inventory at path after checking, without reading, that it is a regular file of
// at most MaxFileBytes. It is opened with O_NONBLOCK, so that a FIFO swapped in after the check does
// not block the open, and checked again through the open descriptor; the read stops one byte past
// the limit whatever the file claims.
func readFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w; check the path of the inventory file", err)
	}
	if err := regularSmall(path, st); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("read inventory: %w; check the path and permissions of the inventory file", err)
	}
	defer f.Close()
	if st, err = f.Stat(); err != nil {
		return nil, fmt.Errorf("read inventory %s: %w", path, err)
	}
	if err := regularSmall(path, st); err != nil {
		return nil, err
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read inventory %s: %w", path, err)
	}
	if len(data) > MaxFileBytes {
		return nil, fmt.Errorf("%s: %w: it grew past %d bytes while being read; an inventory is at most 1 MiB", path, ErrTooLarge, MaxFileBytes)
	}
	return data, nil
}

// regularSmall refuses anything but a regular file of at most MaxFileBytes.
func regularSmall(path string, st fs.FileInfo) error {
	if !st.Mode().IsRegular() {
		return fmt.Errorf("%s: %w (it is %s); give the inventory as a regular YAML file of at most 1 MiB, not a pipe, device or directory",
			path, ErrNotRegular, fileKind(st.Mode()))
	}
	if st.Size() > MaxFileBytes {
		return fmt.Errorf("%s: %w: %d bytes, the limit is %d (1 MiB); an inventory that large is likely not one: check the path, or split the application into several inventories",
			path, ErrTooLarge, st.Size(), MaxFileBytes)
	}
	return nil
}

// fileKind names what a non-regular file is.
func fileKind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "not a regular file"
}
