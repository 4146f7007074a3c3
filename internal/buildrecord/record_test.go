package buildrecord

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/internal/failure"
)

const (
	hexA = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	hexB = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
)

// validRecord returns a record that passes Validate.
func validRecord() *Record {
	return &Record{
		Manufacturer:     "fabrikam",
		Model:            "edge-gateway-x200",
		HardwareRevision: "C2",
		Serial:           "FBK-X200-0004711",
		Lot:              "lot-2025-w14",
		Line:             "shenzhen-l3",
		Components: []Component{
			{Name: "soc", Version: "imx8mp-1.1", Digest: Digest{SHA256: hexA}},
			{Name: "secure-element", Digest: Digest{SHA256: hexB}},
		},
		FirmwareDigest: Digest{SHA256: hexA},
		TestResult:     TestPass,
		BuiltAt:        time.Date(2025, 4, 2, 8, 15, 30, 0, time.UTC),
	}
}

func TestValidate(t *testing.T) {
	many := make([]Component, MaxComponents+1)
	for i := range many {
		many[i] = Component{Name: strings.Repeat("c", 1+i%60) + string(rune('a'+i/60)), Digest: Digest{SHA256: hexA}}
	}
	tests := []struct {
		name   string
		mutate func(r *Record)
		want   string // substring of the error; "" means valid
	}{
		{"valid", func(r *Record) {}, ""},
		{"optional fields empty", func(r *Record) { r.HardwareRevision, r.Line, r.Components = "", "", nil }, ""},
		{"component without version", func(r *Record) { r.Components[0].Version = "" }, ""},
		{"test failed is a valid record", func(r *Record) { r.TestResult = TestFail }, ""},
		{"unicode text", func(r *Record) { r.Manufacturer = "Fabrikam Électronique & Co." }, ""},
		{"serial with every allowed symbol", func(r *Record) { r.Serial = "aZ09._:-" }, ""},
		{"serial of 64", func(r *Record) { r.Serial = strings.Repeat("9", 64) }, ""},
		{"max components", func(r *Record) { r.Components = many[:MaxComponents] }, ""},

		{"manufacturer missing", func(r *Record) { r.Manufacturer = "" }, "build record: manufacturer: missing"},
		{"manufacturer too long", func(r *Record) { r.Manufacturer = strings.Repeat("m", 129) }, "build record: manufacturer: 129 bytes"},
		{"manufacturer control character", func(r *Record) { r.Manufacturer = "fab\nrikam" }, "build record: manufacturer: contains the control character U+000A"},
		{"manufacturer C1 control", func(r *Record) { r.Manufacturer = "fab\u0085rikam" }, "manufacturer: contains the control character U+0085"},
		{"manufacturer line separator", func(r *Record) { r.Manufacturer = "fab\u2028rikam" }, "manufacturer: contains the control character U+2028"},
		{"manufacturer surrounding space", func(r *Record) { r.Manufacturer = " fabrikam" }, "build record: manufacturer: leading or trailing white space"},
		{"manufacturer invalid UTF-8", func(r *Record) { r.Manufacturer = "fab\xffrikam" }, "build record: manufacturer: not valid UTF-8"},
		{"model missing", func(r *Record) { r.Model = "" }, "build record: model: missing"},
		{"model only spaces", func(r *Record) { r.Model = "   " }, "build record: model: leading or trailing white space"},
		{"hardware revision too long", func(r *Record) { r.HardwareRevision = strings.Repeat("r", 65) }, "build record: hardwareRevision: 65 bytes"},
		{"serial missing", func(r *Record) { r.Serial = "" }, "build record: serial: missing"},
		{"serial with space", func(r *Record) { r.Serial = "FBK 1" }, `build record: serial: "FBK 1" must be 1-64 letters`},
		{"serial with slash", func(r *Record) { r.Serial = "FBK/1" }, "build record: serial:"},
		{"serial non-ASCII", func(r *Record) { r.Serial = "FBKé1" }, "build record: serial:"},
		{"serial too long", func(r *Record) { r.Serial = strings.Repeat("9", 65) }, "build record: serial:"},
		{"lot missing", func(r *Record) { r.Lot = "" }, "build record: lot: missing"},
		{"lot bad charset", func(r *Record) { r.Lot = "lot#1" }, "build record: lot:"},
		{"line bad charset", func(r *Record) { r.Line = "line 3" }, "build record: line:"},
		{"too many components", func(r *Record) { r.Components = many }, "build record: components: 257 components; at most 256"},
		{"component name missing", func(r *Record) { r.Components[1].Name = "" }, "build record: components[1].name: missing"},
		{"component name too long", func(r *Record) { r.Components[1].Name = strings.Repeat("n", 65) }, "build record: components[1].name: 65 bytes"},
		{"component name duplicate", func(r *Record) { r.Components[1].Name = "soc" }, `build record: components[1].name: "soc" is also the name of components[0]`},
		{"component version control", func(r *Record) { r.Components[0].Version = "1\t2" }, "build record: components[0].version: contains the control character U+0009"},
		{"component digest missing", func(r *Record) { r.Components[1].Digest.SHA256 = "" }, "build record: components[1].digest.sha256: not 64 lowercase hex characters"},
		{"component digest uppercase", func(r *Record) { r.Components[0].Digest.SHA256 = strings.ToUpper(hexA) }, "build record: components[0].digest.sha256: not 64 lowercase hex"},
		{"component digest short", func(r *Record) { r.Components[0].Digest.SHA256 = hexA[:63] }, "build record: components[0].digest.sha256"},
		{"component digest not hex", func(r *Record) { r.Components[0].Digest.SHA256 = hexA[:63] + "g" }, "build record: components[0].digest.sha256"},
		{"firmware digest missing", func(r *Record) { r.FirmwareDigest = Digest{} }, "build record: firmwareDigest.sha256: not 64 lowercase hex characters"},
		{"firmware digest too long", func(r *Record) { r.FirmwareDigest.SHA256 = hexA + "a" }, "build record: firmwareDigest.sha256"},
		{"test result missing", func(r *Record) { r.TestResult = "" }, `build record: testResult: "" is not "pass" or "fail"`},
		{"test result other", func(r *Record) { r.TestResult = "PASS" }, `build record: testResult: "PASS" is not`},
		{"built at zero", func(r *Record) { r.BuiltAt = time.Time{} }, "build record: builtAt: missing"},
		{"built at year 10000", func(r *Record) { r.BuiltAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) }, "build record: builtAt: year 10000"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := validRecord()
			tc.mutate(r)
			err := r.Validate()
			if tc.want == "" {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Validate() = nil, want %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Validate() = %q, want it to contain %q", err, tc.want)
			}
			if !failure.Is(err, failure.Invalid) {
				t.Errorf("kind = %v, want invalid", failure.KindOf(err))
			}
		})
	}
}

func TestParseRecord(t *testing.T) {
	good := `{"manufacturer":"fabrikam","model":"m","serial":"S1","lot":"L1","components":[{"name":"a","digest":{"sha256":"` + hexA + `"}}],"firmwareDigest":{"sha256":"` + hexB + `"},"testResult":"pass","builtAt":"2025-04-02T08:15:30Z"}`
	tests := []struct {
		name string
		in   string
		kind failure.Kind // Unclassified means success
		want string
	}{
		{"valid", good, failure.Unclassified, ""},
		{"valid with surrounding space", " \n" + good + "\n\t", failure.Unclassified, ""},
		{"unknown field", strings.Replace(good, `"lot"`, `"colour":"red","lot"`, 1), failure.Invalid, `unknown field "colour"`},
		{"unknown nested field", strings.Replace(good, `{"sha256"`, `{"sha512":"00","sha256"`, 1), failure.Invalid, `unknown field "sha512"`},
		{"duplicate field", strings.Replace(good, `"lot":"L1"`, `"lot":"L1","lot":"L2"`, 1), failure.Invalid, `duplicate field "lot"`},
		{"duplicate nested field", strings.Replace(good, `{"name":"a"`, `{"name":"a","name":"b"`, 1), failure.Invalid, `duplicate field "name"`},
		{"case-folded field", strings.Replace(good, `"serial"`, `"Serial"`, 1), failure.Invalid, `unknown field "Serial"`},
		{"long-s field", strings.Replace(good, `"serial"`, `"\u017Ferial"`, 1), failure.Invalid, `unknown field "ſerial"`},
		{"trailing data", good + "{}", failure.Invalid, "trailing data"},
		{"trailing bracket", good + "]", failure.Invalid, "malformed JSON"},
		{"not JSON", "manufacturer: fabrikam", failure.Invalid, "malformed JSON"},
		{"empty", "", failure.Invalid, "malformed JSON"},
		{"array", "[]", failure.Invalid, "malformed JSON"},
		{"null", "null", failure.Invalid, "manufacturer: missing"},
		{"wrong type", strings.Replace(good, `"S1"`, `42`, 1), failure.Invalid, "malformed JSON"},
		{"bad time", strings.Replace(good, `2025-04-02T08:15:30Z`, `2025-04-02 08:15`, 1), failure.Invalid, "malformed JSON"},
		{"rule broken", strings.Replace(good, `"pass"`, `"ok"`, 1), failure.Invalid, "build record: testResult"},
		{"too large", good + strings.Repeat(" ", MaxRecordSize), failure.TooLarge, "over the limit"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRecord([]byte(tc.in))
			if tc.kind == failure.Unclassified {
				if err != nil {
					t.Fatalf("ParseRecord: %v", err)
				}
				if r.Serial != "S1" || len(r.Components) != 1 || !r.BuiltAt.Equal(time.Date(2025, 4, 2, 8, 15, 30, 0, time.UTC)) {
					t.Errorf("record = %+v", r)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseRecord = %+v, want an error", r)
			}
			if got := failure.KindOf(err); got != tc.kind {
				t.Errorf("kind = %v, want %v (%v)", got, tc.kind, err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not contain %q", err, tc.want)
			}
		})
	}
}

func TestParseRecordTestdata(t *testing.T) {
	files, err := filepath.Glob("testdata/record-*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no testdata records: %v", err)
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := ParseRecord(data); err != nil {
				t.Fatal(err)
			}
		})
	}
}
