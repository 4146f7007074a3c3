package reports

import (
	"reflect"
	"testing"
)

// TestDriftMemoGenerations: the memory holds at most max digests; a digest read again
// survives a turn of generations, one not read ages out; findings come back as stored.
func TestDriftMemoGenerations(t *testing.T) {
	m := newDriftMemo(4)
	key := func(b byte) [16]byte { return [16]byte{b} }
	plain := deviceDrift{checked: true, evaluated: true}
	found := deviceDrift{checked: true, items: []Drift{{DeviceID: "d-b", Field: "firmware_digest", Recorded: "1", Reported: "2"}}}
	m.put(key('a'), plain)
	m.put(key('b'), found)
	if d, ok := m.get(key('b')); !ok || !reflect.DeepEqual(d, found) {
		t.Fatalf("b: %+v %v", d, ok)
	}
	// The current generation is full: a and b become the previous one; a, read again, moves
	// to the current one.
	m.put(key('c'), plain)
	if d, ok := m.get(key('a')); !ok || !reflect.DeepEqual(d, plain) {
		t.Fatalf("a: %+v %v", d, ok)
	}
	m.put(key('d'), plain) // c and a become the previous generation; b is dropped
	if _, ok := m.get(key('b')); ok {
		t.Fatal("b, not read for a generation, is still remembered")
	}
	for _, k := range []byte("acd") {
		if _, ok := m.get(key(k)); !ok {
			t.Fatalf("%c is forgotten", k)
		}
	}
	if n := len(m.cur.flags) + len(m.prev.flags); n > 4 {
		t.Fatalf("%d digests held; the bound is 4", n)
	}
	if len(m.cur.found)+len(m.prev.found) != 0 {
		t.Fatal("the findings of a dropped digest are still held")
	}
}
