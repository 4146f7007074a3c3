#!/bin/sh
# Makes the signed samples with openssl alone, as a maker that does not run Hallmark would:
# fresh keys (the private halves are thrown away), the payload manifest.json, its DSSE PAE,
# and one envelope per key type. Run it from this directory; commit what it writes.
set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
type=application/vnd.hallmark.manifest+json
payload=manifest.json
len() { wc -c <"$1" | tr -d ' '; }
printf 'DSSEv1 %s %s %s ' "$(printf %s "$type" | wc -c | tr -d ' ')" "$type" "$(len $payload)" >"$tmp/pae"
cat $payload >>"$tmp/pae"

openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/p256.key"
openssl dgst -sha256 -sign "$tmp/p256.key" -out "$tmp/p256.sig" "$tmp/pae"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-384 -out "$tmp/p384.key"
openssl dgst -sha384 -sign "$tmp/p384.key" -out "$tmp/p384.sig" "$tmp/pae"
openssl genpkey -algorithm ED25519 -out "$tmp/ed25519.key"
openssl pkeyutl -sign -rawin -inkey "$tmp/ed25519.key" -in "$tmp/pae" -out "$tmp/ed25519.sig"
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$tmp/rsa.key"
openssl dgst -sha256 -sign "$tmp/rsa.key" -sigopt rsa_padding_mode:pss -out "$tmp/rsa.sig" "$tmp/pae"

b64payload=$(base64 -w0 <$payload)
for k in p256 p384 ed25519 rsa; do
	openssl pkey -in "$tmp/$k.key" -pubout -out "maker-$k.pub"
	printf '{\n  "payloadType": "%s",\n  "payload": "%s",\n  "signatures": [{"keyid": "maker-%s-2026", "sig": "%s"}]\n}\n' \
		"$type" "$b64payload" "$k" "$(base64 -w0 <"$tmp/$k.sig")" >"envelope-$k.json"
done
