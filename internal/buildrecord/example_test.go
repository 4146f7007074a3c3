package buildrecord_test

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"os"
	"time"

	"github.com/hallmark-id/hallmark/internal/buildrecord"
)

// Sign a build record for one device with the manufacturer's key. Ed25519 signatures are
// deterministic, so this example's output is too.
func ExampleSign() {
	seed := func(s string) []byte { h := sha256.Sum256([]byte(s)); return h[:] }
	manufacturerKey := ed25519.NewKeyFromSeed(seed("example manufacturer"))
	deviceKey := ed25519.NewKeyFromSeed(seed("example device"))

	rec := &buildrecord.Record{
		Manufacturer: "fabrikam", Model: "sensor-t1", Serial: "T1-000042", Lot: "lot-7", Line: "l1",
		Components: []buildrecord.Component{
			{Name: "mcu", Version: "rev-b", Digest: buildrecord.Digest{SHA256: fmt.Sprintf("%x", sha256.Sum256([]byte("mcu")))}},
		},
		FirmwareDigest: buildrecord.Digest{SHA256: fmt.Sprintf("%x", sha256.Sum256([]byte("firmware 1.0.0")))},
		TestResult:     buildrecord.TestPass,
		BuiltAt:        time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC),
	}
	env, digest, err := buildrecord.Sign(context.Background(), rec, deviceKey.Public(), manufacturerKey)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("payloadType:", env.PayloadType)
	fmt.Println("keyid:", env.Signatures[0].KeyID)
	fmt.Printf("payload sha256 (goes in the factory certificate): %x\n", digest)

	v, err := buildrecord.Verify(env, manufacturerKey.Public())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("verified:", v.Record.Serial, v.Record.TestResult)
	fmt.Println("bound:", buildrecord.CheckBinding(v, deviceKey.Public(), digest) == nil)
	// Output:
	// payloadType: application/vnd.in-toto+json
	// keyid: 14594ee7de0e1653d033f299dd6e90078fce59ef5d583de4d7da3433b825b49f
	// payload sha256 (goes in the factory certificate): 5c101462db44cfe49205057d2c93c5042093e044c95b1feb37bacbc2ed9828c8
	// verified: T1-000042 pass
	// bound: true
}

// Verify a build record offline, as `hallmark buildrecord verify --key manufacturer.pub
// --record record.json` does.
func ExampleVerify() {
	keyPEM, _ := os.ReadFile("testdata/manufacturer-ecdsa-p256.pub")
	envJSON, _ := os.ReadFile("testdata/envelope-ecdsa-p256.json")

	pub, err := buildrecord.ParsePublicKeyPEM(keyPEM)
	if err != nil {
		fmt.Println(err)
		return
	}
	env, err := buildrecord.ParseEnvelope(envJSON)
	if err != nil {
		fmt.Println(err)
		return
	}
	v, err := buildrecord.Verify(env, pub)
	if err != nil {
		fmt.Println(err)
		return
	}
	r := v.Record
	fmt.Println(r.Manufacturer, r.Model, r.HardwareRevision, r.Serial, r.Lot, r.Line, r.TestResult, r.BuiltAt.Format(time.RFC3339))
	for _, c := range r.Components {
		fmt.Printf("  %s %s sha256:%.12s…\n", c.Name, c.Version, c.Digest.SHA256)
	}
	fmt.Printf("device key sha256: %x\n", v.SubjectKeySHA256)
	fmt.Printf("payload sha256:    %x\n", v.PayloadDigest)
	// Output:
	// fabrikam edge-gateway-x200 C2 FBK-X200-0004711 lot-2025-w14 shenzhen-l3 pass 2025-04-02T08:15:30Z
	//   soc imx8mp-1.1 sha256:7114d75b28f2…
	//   secure-element se050-e sha256:ad9a67fefa84…
	//   bootloader u-boot-2024.04-fbk3 sha256:4509beb0ab40…
	//   lte-modem  sha256:b30b83d324e6…
	// device key sha256: fcf423c8cf732a9c502dc69fd9020b8cadae99ea5ca5bac00e9c5fe05c0f4c81
	// payload sha256:    23f35b4abf0424dac5523993c6786e9d8aa9104cd0869a081cf360d79a2f6a58
}
