package httpapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"testing"
	"time"
)

// The wire types of package api are converted to and from the services' own types at this
// edge (wire_*.go). The services' types still carry the JSON tags the API had when it spoke
// them directly; these helpers check, with every field set and with none, that a conversion
// neither drops nor renames a field: the JSON on the wire stays what it was. A field added to
// a service type fails here until its wire type carries it (or the check lists it as one the
// wire does not show).

// fill sets every exported, JSON-visible field of v to a distinct non-zero value.
func fill(v reflect.Value, n *int) {
	*n++
	switch v.Kind() {
	case reflect.String:
		v.SetString(fmt.Sprintf("s%d", *n))
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(int64(*n))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(uint64(*n))
	case reflect.Float32, reflect.Float64:
		v.SetFloat(float64(*n) + 0.5)
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		fill(v.Elem(), n)
	case reflect.Slice:
		if v.Type() == reflect.TypeOf(json.RawMessage{}) {
			v.SetBytes([]byte(fmt.Sprintf(`{"n":%d}`, *n)))
			return
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			v.SetBytes([]byte{byte(*n), 1})
			return
		}
		s := reflect.MakeSlice(v.Type(), 2, 2)
		for i := range 2 {
			fill(s.Index(i), n)
		}
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k := reflect.New(v.Type().Key()).Elem()
		fill(k, n)
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e, n)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Struct:
		if v.Type() == reflect.TypeOf(time.Time{}) {
			v.Set(reflect.ValueOf(time.Date(2026, 11, 28, 10, 0, *n, 0, time.UTC)))
			return
		}
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.IsExported() && f.Tag.Get("json") != "-" {
				fill(v.Field(i), n)
			}
		}
	}
}

func filled[T any]() T {
	var v T
	n := 0
	fill(reflect.ValueOf(&v).Elem(), &n)
	return v
}

func jsonTree(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("encoding %T: %v", v, err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// checkOut checks that the wire form of a service value has the service value's JSON, plus
// only the top-level members wireOnly names.
func checkOut[D, W any](t *testing.T, conv func(D) W, wireOnly ...string) {
	t.Helper()
	for _, d := range []D{*new(D), filled[D]()} {
		want, got := jsonTree(t, d), jsonTree(t, conv(d))
		if m, ok := got.(map[string]any); ok {
			for _, k := range wireOnly {
				delete(m, k)
			}
		}
		if !reflect.DeepEqual(want, got) {
			w, _ := json.Marshal(want)
			g, _ := json.Marshal(got)
			t.Errorf("%T as %T:\nservice JSON %s\nwire JSON    %s", d, *new(W), w, g)
		}
	}
}

// checkIn checks that a request body of the wire type decodes (strictly) into the service's
// request type to the value the conversion gives, and that every body the service type
// accepted the wire type accepts too (but for the members serviceOnly names).
func checkIn[W, D any](t *testing.T, conv func(W) (D, error), serviceOnly ...string) {
	t.Helper()
	checkInWith(t, conv, []W{*new(W), filled[W]()}, serviceOnly...)
}

// checkInWith is checkIn with the wire values given (for a raw member that must hold a
// document of its own).
func checkInWith[W, D any](t *testing.T, conv func(W) (D, error), ws []W, serviceOnly ...string) {
	t.Helper()
	for _, w := range ws {
		body, _ := json.Marshal(w)
		var want D
		if err := DecodeJSON(bytes.NewReader(body), &want); err != nil {
			t.Errorf("%T body %s does not decode as %T: %v", w, body, want, err)
			continue
		}
		got, err := conv(w)
		if err != nil {
			t.Errorf("converting %T %s: %v", w, body, err)
			continue
		}
		if !reflect.DeepEqual(want, got) {
			t.Errorf("%T %s:\ndecoded as the service type %+v\nconverted                 %+v", w, body, want, got)
		}
	}
	for _, d := range []D{*new(D), filled[D]()} {
		tree := jsonTree(t, d)
		if m, ok := tree.(map[string]any); ok {
			for _, k := range serviceOnly {
				delete(m, k)
			}
		}
		body, _ := json.Marshal(tree)
		var w W
		if err := DecodeJSON(bytes.NewReader(body), &w); err != nil {
			t.Errorf("%T body %s is refused as %T: %v", d, body, w, err)
		}
	}
}

// noErr adapts a conversion that cannot fail.
func noErr[W, D any](f func(W) D) func(W) (D, error) {
	return func(w W) (D, error) { return f(w), nil }
}
