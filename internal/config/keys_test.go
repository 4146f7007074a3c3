package config

import (
	"strings"
	"testing"
)

// withKeys returns the good configuration with its keys section replaced.
func withKeys(keys string) []byte {
	return []byte(strings.Replace(good, `"keys": {"dir": "/var/lib/hallmark/keys"}`, `"keys": `+keys, 1))
}

func TestKeyKinds(t *testing.T) {
	c, err := Parse(withKeys(`{"backend": "tpm", "tpm": {"storage_dir": "/var/lib/hallmark/tpm"}, "kinds": {"audit": "file"}, "dir": "/var/lib/hallmark/keys"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"ca": "tpm", "build_record": "tpm", "audit": "file", "ocsp": "tpm", "": "tpm"}
	for kind, b := range want {
		if got := c.Keys.BackendFor(kind); got != b {
			t.Errorf("BackendFor(%q) = %q, want %q", kind, got, b)
		}
	}
	if c.Keys.TPM.Device != "/dev/tpmrm0" || c.Keys.PassphraseEnv != "HALLMARK_KEY_PASSPHRASE" {
		t.Errorf("defaults: device %q, passphrase_env %q", c.Keys.TPM.Device, c.Keys.PassphraseEnv)
	}
	// CA keys in a TPM, the rest in an HSM.
	if _, err := Parse(withKeys(`{"backend": "pkcs11", "pkcs11": {"module_path": "/m.so", "token": "t"}, "tpm": {"device": "/run/swtpm.sock", "storage_dir": "/s"}, "kinds": {"ca": "tpm"}}`)); err != nil {
		t.Errorf("CA keys in a TPM, the rest in an HSM: %v", err)
	}

	for _, tc := range []struct{ name, keys, want string }{
		{"audit in a TPM by default", `{"backend": "tpm", "tpm": {"storage_dir": "/s"}}`, `keys.backend: the audit checkpoint key is Ed25519, which a TPM 2.0 cannot hold`},
		{"audit in a TPM by kind", `{"dir": "/k", "tpm": {"storage_dir": "/s"}, "kinds": {"audit": "tpm"}}`, `keys.kinds.audit: the audit checkpoint key is Ed25519`},
		{"tpm without its section", `{"dir": "/k", "kinds": {"ca": "tpm"}}`, `keys.tpm: backend "tpm" needs storage_dir`},
		{"tpm without storage", `{"dir": "/k", "tpm": {"device": "/dev/tpmrm0"}, "kinds": {"ca": "tpm"}}`, `keys.tpm.storage_dir`},
		{"tpm section unused", `{"dir": "/k", "tpm": {"storage_dir": "/s"}}`, `keys.tpm: is for backend "tpm"`},
		{"unknown kind backend", `{"dir": "/k", "kinds": {"ocsp": "vault"}}`, `keys.kinds.ocsp: "vault" is not a key backend`},
		{"unknown kind", `{"dir": "/k", "kinds": {"tls": "file"}}`, `unknown field "tls"`},
		{"files for audit without a folder", `{"backend": "tpm", "tpm": {"storage_dir": "/s"}, "kinds": {"audit": "file"}}`, `keys.dir: the folder for encrypted keys is required`},
		{"pkcs11 for one kind without its section", `{"dir": "/k", "kinds": {"ca": "pkcs11"}}`, `keys.pkcs11: backend "pkcs11" needs module_path and token`},
		{"tpm with a key folder no kind uses", `{"backend": "tpm", "dir": "/k", "tpm": {"storage_dir": "/s"}, "kinds": {"audit": "pkcs11"}, "pkcs11": {"module_path": "/m.so", "token": "t"}}`, `are for backend "file", which no kind of key uses`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(withKeys(tc.keys))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
