package buildrecord

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/hallmark-id/hallmark/internal/failure"
)

// addSeeds adds every testdata file matching pattern to the corpus.
func addSeeds(f *testing.F, pattern string) {
	files, err := filepath.Glob(filepath.Join("testdata", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seeds match %s: %v", pattern, err)
	}
	for _, name := range files {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
}

// FuzzParseRecord checks that ParseRecord never panics, classifies every error, and that what
// it accepts is valid and survives encoding and parsing again.
func FuzzParseRecord(f *testing.F) {
	addSeeds(f, "record-*.json")
	f.Add([]byte(`{"manufacturer":"m","manufacturer":"m"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := ParseRecord(data)
		if err != nil {
			if k := failure.KindOf(err); k != failure.Invalid && k != failure.TooLarge {
				t.Fatalf("error of kind %v: %v", k, err)
			}
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("ParseRecord accepted a record Validate refuses: %v", err)
		}
		again, err := json.Marshal(r)
		if err != nil {
			t.Fatalf("cannot encode an accepted record: %v", err)
		}
		if len(again) <= MaxRecordSize {
			if _, err := ParseRecord(again); err != nil {
				t.Fatalf("re-encoded record does not parse: %v\n%s", err, again)
			}
		}
	})
}

// FuzzParseEnvelope checks that ParseEnvelope and Verify never panic, classify every error, and
// that nothing but the sample envelopes verifies with the sample key.
func FuzzParseEnvelope(f *testing.F) {
	addSeeds(f, "envelope-*.json")
	pub, err := ParsePublicKeyPEM(mustRead(f, "manufacturer-ecdsa-p256.pub"))
	if err != nil {
		f.Fatal(err)
	}
	sample, err := ParseEnvelope(mustRead(f, "envelope-ecdsa-p256.json"))
	if err != nil {
		f.Fatal(err)
	}
	want, err := PayloadDigest(sample)
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		env, err := ParseEnvelope(data)
		if err != nil {
			if k := failure.KindOf(err); k != failure.Invalid && k != failure.TooLarge {
				t.Fatalf("error of kind %v: %v", k, err)
			}
			return
		}
		v, err := Verify(env, pub)
		if err != nil {
			if k := failure.KindOf(err); k != failure.Invalid && k != failure.TooLarge {
				t.Fatalf("Verify error of kind %v: %v", k, err)
			}
			return
		}
		if v.PayloadDigest != want {
			t.Fatalf("a payload other than the sample's verified: %x", v.PayloadDigest)
		}
	})
}

// FuzzParseStatement exercises the strict decoding of signed payloads without signatures.
func FuzzParseStatement(f *testing.F) {
	addSeeds(f, "statement.json")
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := parseStatement(data)
		if err != nil {
			if k := failure.KindOf(err); k != failure.Invalid {
				t.Fatalf("error of kind %v: %v", k, err)
			}
			return
		}
		if err := st.Predicate.Validate(); err != nil || st.Subject[0].Name != SubjectPrefix+st.Predicate.Serial {
			t.Fatalf("accepted an invalid statement: %v", err)
		}
	})
}

func mustRead(f *testing.F, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	return b
}
