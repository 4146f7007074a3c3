package manifest

import (
	"path/filepath"
	"testing"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// seeds adds every testdata file matching pattern to the corpus.
func seeds(f *testing.F, pattern string) {
	names, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(names) == 0 {
		f.Fatalf("no seeds match %s: %v", pattern, err)
	}
	for _, name := range names {
		f.Add(read(f, filepath.Base(name)))
	}
}

// checkKind fails unless err is one of the kinds the parsers promise.
func checkKind(t *testing.T, err error) {
	t.Helper()
	if k := failure.KindOf(err); k != failure.Invalid && k != failure.TooLarge {
		t.Fatalf("error of kind %v: %v", k, err)
	}
}

// checkSet checks what every accepted Set promises: entries, no duplicates, and each entry
// admitted by Check with its own serial and key.
func checkSet(t *testing.T, s *Set) {
	t.Helper()
	if s.Len() == 0 {
		t.Fatal("accepted an empty manifest")
	}
	serials, keys := map[string]bool{}, map[[32]byte]bool{}
	for _, e := range s.Entries() {
		if e.Serial == "" && !e.HasSPKI {
			t.Fatalf("accepted an entry with neither serial nor key")
		}
		if e.Serial != "" {
			if serials[e.Serial] {
				t.Fatalf("serial %q listed twice", e.Serial)
			}
			serials[e.Serial] = true
		}
		if e.HasSPKI {
			if keys[e.SPKI] {
				t.Fatalf("key %x listed twice", e.SPKI)
			}
			keys[e.SPKI] = true
		}
		spki := e.SPKI
		if !e.HasSPKI {
			spki[0] ^= 1 // a key no entry lists, most likely
			if _, listed := s.BySPKI(spki); listed {
				continue
			}
		}
		if err := s.Check(e.Serial, spki); err != nil {
			t.Fatalf("entry %+v refused by Check: %v", e, err)
		}
	}
}

// FuzzVerifyDSSE checks that VerifyDSSE never panics, classifies every error, and that
// nothing but the openssl-signed samples verifies with the sample keys.
func FuzzVerifyDSSE(f *testing.F) {
	seeds(f, "envelope-*.json")
	var keys []Key
	for _, name := range []string{"p256", "p384", "ed25519", "rsa"} {
		keys = append(keys, key(f, "maker-"+name+".pub"))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := VerifyDSSE(data, keys, "", Limits{MaxBytes: 1 << 20})
		if err != nil {
			checkKind(t, err)
			return
		}
		checkSet(t, s)
		if s.Len() != 4 || s.Maker != "Acme Sensors" {
			t.Fatalf("a payload other than the samples' verified: %d devices by %q", s.Len(), s.Maker)
		}
	})
}

// FuzzParseDocument exercises the strict decoding of signed payloads without signatures.
func FuzzParseDocument(f *testing.F) {
	seeds(f, "manifest.json")
	f.Add([]byte(`{"manifestType":"` + DocumentType + `","maker":"m","issuedAt":"2026-01-01T00:00:00Z","devices":[{"serial":"a"},{"serial":"a"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := parseDocument(data, data, "", Limits{MaxEntries: 1000}.withDefaults())
		if err != nil {
			checkKind(t, err)
			return
		}
		checkSet(t, s)
	})
}

// FuzzParseCSV checks that ParseCSV never panics, classifies every error, and that what it
// accepts keeps the Set's promises.
func FuzzParseCSV(f *testing.F) {
	seeds(f, "manifest.csv")
	f.Add([]byte("serial\nA\n\"B\"\"\"\n"))
	f.Add([]byte("spki_sha256,serial\r\n" + hexSum("k") + ",A\r\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseCSV(data, Limits{MaxBytes: 1 << 20, MaxEntries: 1000})
		if err != nil {
			checkKind(t, err)
			return
		}
		checkSet(t, s)
	})
}
