package manifest_test

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"os"

	"github.com/hallmark-id/hallmark/internal/manifest"
)

// Verify a maker's signed manifest with the key the operator registered for that maker, then
// check two devices against it.
func ExampleVerifyDSSE() {
	keyPEM, _ := os.ReadFile("testdata/maker-p256.pub")
	envelope, _ := os.ReadFile("testdata/envelope-p256.json")

	key, err := manifest.ParseKey(keyPEM)
	if err != nil {
		fmt.Println(err)
		return
	}
	set, err := manifest.VerifyDSSE(envelope, []manifest.Key{key}, "Acme Sensors", manifest.Limits{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(set.Format, set.Maker, set.Len(), "devices")

	// The SHA-256 of a device certificate's RawSubjectPublicKeyInfo; here, stand-ins.
	listed := sha256.Sum256([]byte("sample device key 1"))
	fmt.Println("AS-000001:", set.Check("AS-000001", listed))

	var refused *manifest.NotListed
	if err := set.Check("AS-000777", sha256.Sum256([]byte("a key nobody listed"))); errors.As(err, &refused) {
		fmt.Println("AS-000777:", refused.Rule)
	}
	// Output:
	// dsse Acme Sensors 4 devices
	// AS-000001: <nil>
	// AS-000777: manifest.device_not_listed
}
