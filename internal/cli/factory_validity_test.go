package cli

import (
	"encoding/json"
	"net/http"
	"testing"
)

// TestCreateHierarchyFactoryValidity: --factory-validity reaches the request, and without it
// the field is left out so that the server's default (undefined) applies.
func TestCreateHierarchyFactoryValidity(t *testing.T) {
	var got []map[string]any
	srv := fakeServer(t, map[string]http.HandlerFunc{
		"POST /v1/manufacturing/hierarchies": func(w http.ResponseWriter, r *http.Request) {
			var req map[string]any
			if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
				t.Error(err)
			}
			got = append(got, req)
			reply(201, `{"root":{"id":"ca_1","role":"root"},"issuing":{"id":"ca_2","role":"issuing","factory_validity":"issuer"}}`)(w, r)
		},
	})
	for _, args := range [][]string{
		{"ca", "create-hierarchy", "--manufacturer", "acme", "--name", "m", "--factory-validity", "issuer", "-o", "id"},
		{"ca", "create-hierarchy", "--manufacturer", "acme", "--name", "m", "-o", "id"},
	} {
		if code, out, stderr := run(t, append(args, srv...)...); code != 0 || out != "ca_1\nca_2\n" {
			t.Fatalf("exit %d, stdout %q; stderr %s", code, out, stderr)
		}
	}
	if len(got) != 2 || got[0]["factory_validity"] != "issuer" {
		t.Fatalf("requests %v: the first should carry factory_validity issuer", got)
	}
	if _, ok := got[1]["factory_validity"]; ok {
		t.Errorf("without the flag the request carries factory_validity: %v", got[1])
	}
}
