#!/bin/sh
# Verify a Hallmark build record with jq and openssl only.
# Usage: verify-openssl.sh record.json manufacturer.pub [device.pub]
# Writes payload.json, sig.bin and pae.bin in the current directory.
set -eu
record=$1 key=$2 device=${3:-}

# 1. Take the payload and the first signature out of the envelope.
jq -j .payload "$record" | base64 -d > payload.json
jq -j '.signatures[0].sig' "$record" | base64 -d > sig.bin

# 2. Rebuild the DSSE pre-authentication encoding (PAE):
#    "DSSEv1" SP len(type) SP type SP len(payload) SP payload, lengths in decimal bytes.
type=$(jq -j .payloadType "$record")
test "$type" = "application/vnd.in-toto+json"
printf 'DSSEv1 %d %s %d ' "${#type}" "$type" "$(wc -c < payload.json)" > pae.bin
cat payload.json >> pae.bin

# 3. Check the signature over the PAE with the manufacturer's key.
case $(openssl pkey -pubin -in "$key" -text -noout | head -n 1) in
ED25519*)       openssl pkeyutl -verify -pubin -inkey "$key" -rawin -in pae.bin -sigfile sig.bin ;;
*"(384 bit)"*)  openssl dgst -sha384 -verify "$key" -signature sig.bin pae.bin ;;
*)              openssl dgst -sha256 -verify "$key" -signature sig.bin pae.bin ;;
esac

# 4. The statement must be about a build record.
test "$(jq -r ._type payload.json)" = "https://in-toto.io/Statement/v1"
test "$(jq -r .predicateType payload.json)" = "https://hallmark.dev/build-record/v1"
test "$(jq -r '.subject | length' payload.json)" = 1
test "$(jq -r '.subject[0].name' payload.json)" = "device:$(jq -r .predicate.serial payload.json)"

# 5. The binding. The factory certificate's build-record extension must hold this digest:
echo "payload sha256: $(sha256sum < payload.json | cut -d' ' -f1)"
# and the device key (from the certificate, or as a PEM file) must hash to the subject digest.
if [ -n "$device" ]; then
	want=$(jq -r '.subject[0].digest.sha256' payload.json)
	got=$(openssl pkey -pubin -in "$device" -outform DER | sha256sum | cut -d' ' -f1)
	test "$got" = "$want" && echo "device key matches subject"
fi
