package readcache

import (
	"errors"
	"fmt"
	"reflect"
	"testing"

	"github.com/hallmark-id/hallmark/internal/store"
)

// TestCacheOnlyRefusesEveryRead calls every method of every sub-store of the transaction a
// cache-only run gives fn (over an empty cache and no store at all), with zero arguments:
// each returns errNotCached, none panics or reaches a database, and the run is not served.
func TestCacheOnlyRefusesEveryRead(t *testing.T) {
	c := New(nil, Config{})
	var calls int
	var failures []string
	err, served := c.cacheOnly(c.gen, func(tx store.Tx) error {
		v := reflect.ValueOf(tx)
		txType := reflect.TypeFor[store.Tx]()
		for i := range txType.NumMethod() {
			acc := txType.Method(i)
			sub, msg := accessor(v.MethodByName(acc.Name))
			if msg != "" {
				failures = append(failures, acc.Name+"(): "+msg)
				continue
			}
			for j := range sub.NumMethod() {
				m, name := sub.Method(j), acc.Name+"()."+sub.Type().Method(j).Name
				calls++
				if msg := refusal(m); msg != "" {
					failures = append(failures, name+": "+msg)
				}
			}
		}
		return nil
	})
	for _, f := range failures {
		t.Error(f)
	}
	if served || err != nil {
		t.Fatalf("a run whose every read was refused: served %v, err %v; want not served", served, err)
	}
	if calls < 150 {
		t.Fatalf("only %d methods called: the reflection walk missed the sub-stores", calls)
	}
}

// accessor calls a store.Tx accessor, which must return its sub-store without panicking.
func accessor(m reflect.Value) (sub reflect.Value, msg string) {
	defer func() {
		if p := recover(); p != nil {
			msg = fmt.Sprintf("panicked: %v", p)
		}
	}()
	return m.Call(nil)[0], ""
}

// refusal calls m with zero arguments and says what is wrong with its answer ("" when it
// refused with errNotCached).
func refusal(m reflect.Value) (msg string) {
	defer func() {
		if p := recover(); p != nil {
			msg = fmt.Sprintf("panicked: %v", p)
		}
	}()
	ft := m.Type()
	args := make([]reflect.Value, 0, ft.NumIn())
	for k := range ft.NumIn() {
		if ft.IsVariadic() && k == ft.NumIn()-1 {
			break
		}
		args = append(args, reflect.Zero(ft.In(k)))
	}
	out := m.Call(args)
	last := out[len(out)-1]
	if last.IsNil() {
		return "returned no error"
	}
	if err := last.Interface().(error); !errors.Is(err, errNotCached) {
		return fmt.Sprintf("returned %v, not errNotCached", err)
	}
	return ""
}
