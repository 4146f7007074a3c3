package store_test

import (
	"strings"
	"testing"

	"github.com/hallmark-id/hallmark/internal/device"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/store"
)

// TestCurrentFactory: only the serial the device row names as its factory certificate passes
// (in any case of the hex); any other, or any at all when the row names none, is refused as
// denied, naming both serials and rule factory:not-current.
func TestCurrentFactory(t *testing.T) {
	d := device.Device{ID: "dev_1", FactoryCert: "0a1b2c"}
	for _, tc := range []struct {
		name    string
		factory string // the row's
		serial  string // the presented
		ok      bool
		names   []string
	}{
		{"current", "0a1b2c", "0a1b2c", true, nil},
		{"current in another case", "0a1b2c", "A1B2C", true, nil},
		{"superseded", "0a1b2c", "ff01", false, []string{"ff01", "0a1b2c", "dev_1"}},
		{"row names none", "", "ff01", false, []string{"ff01", "no current factory certificate"}},
		{"row names no serial", "not-hex", "not-hex", false, []string{"not-hex"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d.FactoryCert = tc.factory
			err := store.CurrentFactory(d, tc.serial)
			if tc.ok {
				if err != nil {
					t.Fatalf("CurrentFactory = %v, want nil", err)
				}
				return
			}
			if !failure.Is(err, failure.Denied) || failure.RuleOf(err) != store.RuleCurrentFactory || !strings.Contains(err.Error(), "rule "+store.RuleCurrentFactory) {
				t.Fatalf("CurrentFactory = %v (kind %s, rule %q), want denied naming rule %s", err, failure.KindOf(err), failure.RuleOf(err), store.RuleCurrentFactory)
			}
			for _, want := range tc.names {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("%q does not name %q", err, want)
				}
			}
		})
	}
}
