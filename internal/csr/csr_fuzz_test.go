package csr

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse feeds Parse mutations of real requests made with OpenSSL (testdata/*.csr.*):
// it must never panic, and whatever it accepts must satisfy the key policy and verify.
func FuzzParse(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.csr.*"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed requests in testdata: %v", err)
	}
	for _, name := range files {
		b, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		req, err := Parse(data)
		if err != nil {
			if req != nil {
				t.Fatal("request returned with an error")
			}
			return
		}
		if err := CheckKey(req.PublicKey); err != nil {
			t.Fatalf("accepted a request with a refused key: %v", err)
		}
		if err := req.CheckSignature(); err != nil {
			t.Fatalf("accepted a request whose signature does not verify: %v", err)
		}
	})
}
