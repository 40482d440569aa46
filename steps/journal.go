package steps

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// EvJournalOpened is the first line of a journal: which run wrote it (see JournalHeader).
const EvJournalOpened Kind = "journal-opened"

// EvCommandFinished says one command of a step ended on a host: Host, Text (the command), Status
// (done or failed) and Err.
const EvCommandFinished Kind = "command-finished"

// Journal appends every event of a session to a JSONL file, one event per line. Each line is written
// through to the file at once, and the file is fsynced after every event that changes the world or
// records a decision (Durable), so that a crash or a power cut loses nothing already done.
//
// When a write fails (a full disk), the journal keeps the error, drops later events and calls OnFail
// once: the run must then stop at its next gate (see Halter) rather than go on unrecorded.
type Journal struct {
	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	path string
	err  error
	head JournalHeader // what Begin wrote
	// OnFail, when set, is called once, with the first write error, from the writing goroutine.
	OnFail func(error)
}

// JournalHeader is the first line of a journal: which run of which inventory it records.
type JournalHeader struct {
	Seq       int64     `json:"seq"`
	Time      time.Time `json:"time"`
	Kind      Kind      `json:"kind"`
	Plan      string    `json:"plan"`
	Text      string    `json:"text"`
	Inventory string    `json:"inventory"` // absolute path of the inventory file, or "demo"
	PID       int       `json:"pid"`
	Host      string    `json:"host"`
	// Run identifies the run across resumes: new for a new run, the interrupted run's for a resumed
	// one. Detached commands keep their output under it on each host.
	Run string `json:"run,omitempty"`
}

// OpenJournal opens the journal at path to append to it, creating it and its directory if needed.
// created reports whether this call created the file: no other process has it, since the file is
// created with O_EXCL.
func OpenJournal(path string) (j *Journal, created bool, err error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, false, fmt.Errorf("journal: create directory for %s: %w", path, err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	created = err == nil
	if errors.Is(err, fs.ErrExist) {
		f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	}
	if err != nil {
		return nil, false, fmt.Errorf("journal: open %s: %w", path, err)
	}
	return &Journal{f: f, w: bufio.NewWriter(f), path: path}, created, nil
}

// CreateJournal creates a new journal file in dir named prefix-SUFFIX.jsonl, where SUFFIX is the
// time to the second, the process id and random bytes: two runs started in the same second never
// share a file, and O_EXCL makes sure of it.
func CreateJournal(dir, prefix string, now time.Time) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("journal: create directory %s: %w", dir, err)
	}
	for range 8 {
		var rnd [3]byte
		if _, err := rand.Read(rnd[:]); err != nil {
			return nil, fmt.Errorf("journal: random name: %w", err)
		}
		path := filepath.Join(dir, fmt.Sprintf("%s-%s-%d-%s.jsonl", prefix, now.Format("20060102T150405"), os.Getpid(), hex.EncodeToString(rnd[:])))
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("journal: create %s: %w", path, err)
		}
		return &Journal{f: f, w: bufio.NewWriter(f), path: path}, nil
	}
	return nil, fmt.Errorf("journal: no free name for %s-… in %s", prefix, dir)
}

// Header is the header this process's Begin wrote (zero before Begin).
func (j *Journal) Header() JournalHeader {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.head
}

// Path is the journal's file.
func (j *Journal) Path() string { return j.path }

// Begin writes the header line and fsyncs the file and its directory: a run whose journal cannot be
// written this far must not start.
func (j *Journal) Begin(h JournalHeader) error {
	h.Kind = EvJournalOpened
	if h.Time.IsZero() {
		h.Time = time.Now()
	}
	if h.Host == "" {
		h.Host, _ = os.Hostname()
	}
	if h.PID == 0 {
		h.PID = os.Getpid()
	}
	b, err := json.Marshal(h)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := j.writeLine(b, true); err != nil {
		return fmt.Errorf("journal %s: %w", j.path, err)
	}
	j.head = h
	if d, err := os.Open(filepath.Dir(j.path)); err == nil {
		// The new file's name must survive a crash too.
		d.Sync()
		d.Close()
	}
	return nil
}

// Durable reports whether ev changes the world or records a decision: the journal fsyncs after it.
// Readings, output lines and gates re-evaluated are written through but not synced one by one.
func Durable(ev Event) bool {
	switch ev.Kind {
	case EvReadings, EvOutput, EvGateWaiting, EvPhaseStarted, EvPhaseFinished:
		return false
	case EvStepStarted:
		return ev.Status == StatusRunning // a step about to change the world
	}
	return true
}

// Write appends ev. The first write error is kept and returned by Err and Close, OnFail is called
// with it, and later events are dropped.
func (j *Journal) Write(ev Event) {
	j.mu.Lock()
	if j.err != nil {
		j.mu.Unlock()
		return
	}
	b, err := json.Marshal(ev)
	if err == nil {
		err = j.writeLine(b, Durable(ev))
	}
	j.err = err
	onFail := j.OnFail
	j.mu.Unlock()
	if err != nil && onFail != nil {
		onFail(fmt.Errorf("journal %s: %w", j.path, err))
	}
}

// writeLine writes one line through to the file, and fsyncs it when sync is set. Called with mu held.
func (j *Journal) writeLine(b []byte, sync bool) error {
	b = append(b, '\n')
	if _, err := j.w.Write(b); err != nil {
		return err
	}
	if err := j.w.Flush(); err != nil {
		return err
	}
	if sync {
		return syncFile(j.f)
	}
	return nil
}

// syncFile fsyncs f; a file that cannot be synced (a device such as /dev/null) counts as synced.
func syncFile(f *os.File) error {
	err := f.Sync()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) || errors.Is(err, syscall.EROFS) {
		return nil
	}
	return err
}

// Err is the first write error, or nil.
func (j *Journal) Err() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil {
		return fmt.Errorf("journal %s: %w", j.path, j.err)
	}
	return nil
}

// Close flushes, fsyncs and closes the file.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	ferr := j.w.Flush()
	serr := syncFile(j.f)
	cerr := j.f.Close()
	for _, err := range []error{j.err, ferr, serr, cerr} {
		if err != nil {
			return fmt.Errorf("journal %s: %w", j.path, err)
		}
	}
	return nil
}

// ScanJournal calls fn for each event of a journal, in order, skipping lines a crash cut short; for a
// journal-opened line (the header each process writes when it opens the journal) header is that line's
// header, and nil for every other event.
func ScanJournal(r io.Reader, fn func(ev Event, header *JournalHeader)) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var ev Event
		if json.Unmarshal(sc.Bytes(), &ev) != nil {
			continue
		}
		if ev.Kind == EvJournalOpened {
			var h JournalHeader
			json.Unmarshal(sc.Bytes(), &h)
			fn(ev, &h)
			continue
		}
		fn(ev, nil)
	}
	return sc.Err()
}

// ReadJournal reads every event of a journal file.
func ReadJournal(path string) ([]Event, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Event
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for n := 1; sc.Scan(); n++ {
		var ev Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return out, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		out = append(out, ev)
	}
	return out, sc.Err()
}
