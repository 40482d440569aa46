package lab_test

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pitstop-ops/pitstop/internal/lab"
)

// fakeSite stands in for nginx and the application: its mode decides how it answers.
type fakeSite struct {
	mu    sync.Mutex
	mode  string // "prod", "backup" (reads ok, writes refused) or "down" (502)
	names []string
}

func (f *fakeSite) set(mode string) { f.mu.Lock(); f.mode = mode; f.mu.Unlock() }

func (f *fakeSite) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	mode := f.mode
	f.mu.Unlock()
	w.Header().Set("X-App-Version", "v1")
	switch mode {
	case "down":
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("<html>502 Bad Gateway</html>\n"))
		return
	case "backup":
		w.Header().Set("X-Upstream", "127.0.0.12:1")
	default:
		w.Header().Set("X-Upstream", "127.0.0.11:1")
	}
	if r.Method == http.MethodGet {
		w.Write([]byte(`{"items":[]}`))
		return
	}
	var in struct{ Name string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Name == "" {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if mode == "backup" {
		w.Header().Set("Retry-After", "1")
		w.WriteHeader(http.StatusServiceUnavailable)
		w.Write([]byte(`{"error":"read_only"}`))
		return
	}
	f.mu.Lock()
	f.names = append(f.names, in.Name)
	f.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
}

// startFakeSite serves f on 127.0.0.1:17890 (inside this package's port range).
func startFakeSite(t *testing.T, f *fakeSite) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:17890")
	if err != nil {
		t.Fatalf("listen for the fake site: %v", err)
	}
	srv := httptest.NewUnstartedServer(f)
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestLoadClassifiesWhatUsersSee runs the load generator against a site that serves production, then
// the read-only backup, then nothing, then production again, and checks every request is classified
// and summed up as a user would have seen it.
func TestLoadClassifiesWhatUsersSee(t *testing.T) {
	for _, fresh := range []bool{false, true} {
		name := "keep-alive reads"
		if fresh {
			name = "fresh connection per read"
		}
		t.Run(name, func(t *testing.T) {
			site := &fakeSite{mode: "prod"}
			url := startFakeSite(t, site)
			load, err := lab.StartLoad(context.Background(), lab.LoadOptions{
				ReadURL: url + "/items", WriteURL: url + "/items", ReadRate: 200, Readers: 4, FreshReads: fresh,
			})
			if err != nil {
				t.Fatal(err)
			}
			phase := func(mode string, d time.Duration) (time.Time, time.Time) {
				from := time.Now()
				site.set(mode)
				time.Sleep(d)
				return from, time.Now()
			}
			phase("prod", 400*time.Millisecond)
			bFrom, bTo := phase("backup", 400*time.Millisecond)
			dFrom, dTo := phase("down", 400*time.Millisecond)
			pFrom, _ := phase("prod", 400*time.Millisecond)
			rep := load.Stop()
			if again := load.Stop(); again != rep {
				t.Error("a second Stop returned another report")
			}
			s := rep.Summary()
			t.Log(s)

			if s.Reads == 0 || s.Writes == 0 || s.Requests != s.Reads+s.Writes {
				t.Fatalf("counts: %+v", s)
			}
			// The pacing never exceeds the rate (each reader keeps to its slots).
			if max := int(s.Duration.Seconds()*200) + 4; s.Reads > max {
				t.Errorf("%d reads in %s at 200/s: more than %d", s.Reads, s.Duration, max)
			}
			for _, q := range rep.Requests {
				var want lab.Outcome
				switch {
				case !q.Start.Before(dFrom) && q.End().Before(dTo):
					want = lab.Failed
				case !q.Start.Before(bFrom) && q.End().Before(bTo):
					want = lab.OK
					if q.Op == lab.OpWrite {
						want = lab.Refused
					}
				case q.Start.Before(bFrom) && q.End().Before(bFrom), !q.Start.Before(pFrom):
					want = lab.OK
				default:
					continue // straddles a change of mode
				}
				if q.Outcome != want {
					t.Errorf("%s at %s: %s (%d %s), want %s", q.Op, q.Start.Format("15:04:05.000"), q.Outcome, q.Status, q.Err, want)
				}
			}
			if s.FailedReads == 0 || s.RefusedWrites == 0 || s.FailedWrites == 0 {
				t.Errorf("no failed reads, refused or failed writes recorded: %+v", s)
			}
			if s.ReadDowntime < 300*time.Millisecond || s.ReadDowntime > 700*time.Millisecond {
				t.Errorf("read downtime %s, want about the 400ms the site was down", s.ReadDowntime)
			}
			if s.WriteDowntime < 700*time.Millisecond || s.WriteDowntime > 1100*time.Millisecond {
				t.Errorf("write downtime %s, want about the 800ms of refusals and failures", s.WriteDowntime)
			}
			// Every acknowledged write is one the site stored, and the other way round.
			site.mu.Lock()
			stored := slices.Clone(site.names)
			site.mu.Unlock()
			slices.Sort(stored)
			acked := slices.Clone(rep.Acked)
			slices.Sort(acked)
			if !slices.Equal(acked, stored) || len(acked) != s.AckedWrites {
				t.Errorf("acknowledged %d names, the site stored %d", len(acked), len(stored))
			}
			if len(slices.Compact(acked)) != len(rep.Acked) {
				t.Error("write names are not unique")
			}
			// ServedFrom sees the backup serving from the first read after the switch.
			at, err := rep.ServedFrom(bFrom.Add(-100*time.Millisecond), dFrom.Add(-50*time.Millisecond), "127.0.0.12:1")
			if err != nil {
				t.Fatal(err)
			}
			if at.Before(bFrom.Add(-20*time.Millisecond)) || at.Sub(bFrom) > 100*time.Millisecond {
				t.Errorf("backup served from %s, switched at %s", at.Format("15:04:05.000"), bFrom.Format("15:04:05.000"))
			}
			if _, err := rep.ServedFrom(dFrom, pFrom.Add(-50*time.Millisecond), "127.0.0.11:1"); err == nil || !strings.Contains(err.Error(), "failed") {
				t.Errorf("ServedFrom while the site was down: %v, want an error naming the failure", err)
			}
		})
	}
}

// TestLoadSummaryCounts checks the summary on a made-up run whose numbers are known.
func TestLoadSummaryCounts(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	at := func(ms int) time.Time { return t0.Add(time.Duration(ms) * time.Millisecond) }
	rd := func(ms int, o lab.Outcome) lab.Request {
		return lab.Request{Op: lab.OpRead, Start: at(ms), Latency: 5 * time.Millisecond, Outcome: o, Upstream: "p"}
	}
	wr := func(ms int, o lab.Outcome) lab.Request {
		return lab.Request{Op: lab.OpWrite, Start: at(ms), Latency: 10 * time.Millisecond, Outcome: o, Name: "n"}
	}
	rep := &lab.LoadReport{Start: t0, End: at(3000), Requests: []lab.Request{
		rd(0, lab.OK), wr(50, lab.OK),
		rd(1100, lab.Failed), rd(1150, lab.Failed), wr(1200, lab.Refused), rd(1300, lab.OK),
		wr(1400, lab.OK), wr(2100, lab.Failed), rd(2500, lab.OK), rd(2990, lab.Failed),
	}}
	s := rep.Summary()
	want := lab.LoadSummary{Requests: 10, Reads: 6, FailedReads: 3, Writes: 4, AckedWrites: 2, RefusedWrites: 1, FailedWrites: 1,
		ReadSecondsDown: 2, WriteSecondsDown: 2,
		// reads: 1100→1300 and 2990→its end 2995; writes: 1200→1400 and 2100→its end 2110
		ReadDowntime: 205 * time.Millisecond, WriteDowntime: 210 * time.Millisecond,
		// refused: 1200 → the next write that was not refused, 1400
		RefusedFor: 200 * time.Millisecond}
	s.Duration, s.ReadP50, s.ReadP99, s.Timeline = 0, 0, 0, nil
	if !reflect.DeepEqual(s, want) {
		t.Errorf("summary\n got %+v\nwant %+v", s, want)
	}
	if got, want := s.UsersSaw(), "users saw 3 failed reads; writes refused for 0.2 s (1 writes); 1 failed writes"; got != want {
		t.Errorf("UsersSaw = %q, want %q", got, want)
	}
	if got := rep.Summary().Timeline; len(got) != 3 || got[1].FailedReads != 2 || got[1].RefusedWrites != 1 || got[2].FailedWrites != 1 {
		t.Errorf("timeline %+v", got)
	}
}

func TestStartLoadRejectsBadURLs(t *testing.T) {
	for _, o := range []lab.LoadOptions{{}, {ReadURL: "127.0.0.10:17000/items"}, {ReadURL: "http://x/", WriteURL: "ftp://x/"}} {
		if l, err := lab.StartLoad(context.Background(), o); err == nil {
			l.Stop()
			t.Errorf("StartLoad(%+v) succeeded", o)
		}
	}
}
