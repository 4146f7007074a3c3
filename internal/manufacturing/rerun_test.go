package manufacturing_test

import (
	"context"
	"errors"
	"testing"

	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/manufacturing"
	"github.com/hallmark-id/hallmark/internal/store"
)

// retriedStore runs every write function once in a transaction it rolls back, lets another
// writer commit (between), then runs the function again for real: a retry after a
// serialization failure, which Update's contract allows.
type retriedStore struct {
	store.Store
	between func()
}

var errFirstRun = errors.New("first run rolled back by the test")

func (s *retriedStore) Update(c context.Context, fn func(store.Tx) error) error {
	if err := s.Store.Update(c, func(tx store.Tx) error { _ = fn(tx); return errFirstRun }); !errors.Is(err, errFirstRun) {
		return err
	}
	if b := s.between; b != nil {
		s.between = nil
		b()
	}
	return s.Store.Update(c, fn)
}

// TestModelNumberedInTheRunThatCommits: a model's hardware type is numbered from the models
// stored in the run that commits. CreateModel used to keep the number of its first run in the
// request's model, so a retry after another model took that number gave two models one
// hardware type.
func TestModelNumberedInTheRunThatCommits(t *testing.T) {
	w := newWorld(t)
	var other error
	rs := &retriedStore{Store: w.st, between: func() {
		_, other = w.svc.CreateModel(ctx, w.actors["gina"], manufacturing.CreateModelRequest{ManufacturerID: "globex", Name: "meter"})
	}}
	svc := manufacturing.New(manufacturing.Config{Store: rs, Authority: w.auth})
	m, err := svc.CreateModel(ctx, w.actors["alice"], manufacturing.CreateModelRequest{ManufacturerID: "acme", Name: "sensor"})
	if err != nil || other != nil {
		t.Fatalf("creating two models: %v, %v", err, other)
	}
	var ms []device.Model
	if err := w.st.View(ctx, func(tx store.Tx) (err error) { ms, err = tx.Catalog().ListModels(""); return err }); err != nil {
		t.Fatal(err)
	}
	seen := map[string]string{}
	for _, x := range ms {
		if prev, ok := seen[x.HardwareType]; ok {
			t.Fatalf("models %s and %s share hardware type %s", prev, x.ID, x.HardwareType)
		}
		seen[x.HardwareType] = x.ID
	}
	if len(ms) != 2 || m.HardwareType == "" {
		t.Fatalf("models %+v, want 2 (the new one %+v)", ms, m)
	}
}
