package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
)

func TestLock(t *testing.T) {
	p := sharedPair(t)
	ctx := context.Background()
	first := New(inventoryFor(p), Options{ApplicationName: "pitstop alice@cockpit1"})
	defer first.Close()
	second := New(inventoryFor(p), Options{ApplicationName: "pitstop bob@cockpit2"})
	defer second.Close()
	prod := p.primary.name

	release, err := first.Lock(ctx, prod)
	if err != nil {
		t.Fatalf("first Lock: %v", err)
	}
	_, err = second.Lock(ctx, prod)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Lock while the first holds it: want ErrLocked, got %v", err)
	}
	for _, want := range []string{prod, "pitstop alice@cockpit1", "pid ", "127.0.0.1"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error should show the holder (%q): %v", want, err)
		}
	}
	// The same cockpit cannot take it twice either: each Lock is a session of its own.
	if _, err := first.Lock(ctx, prod); !errors.Is(err, ErrLocked) {
		t.Fatalf("a second Lock from the same cluster: want ErrLocked, got %v", err)
	}

	release()
	release() // a second release is harmless
	release2, err := second.Lock(ctx, prod)
	if err != nil {
		t.Fatalf("Lock after the holder released it: %v", err)
	}
	release2()
}
