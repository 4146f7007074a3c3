"""Verify a Hallmark build record with Python and the cryptography package.

Usage: python3 verify.py record.json manufacturer.pub
Prints the payload SHA-256 (the factory certificate's build-record digest) and the subject digest.
"""
import base64, hashlib, json, sys
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

env = json.load(open(sys.argv[1]))
key = serialization.load_pem_public_key(open(sys.argv[2], "rb").read())

def b64(s):  # DSSE allows standard or URL-safe base64
    return base64.urlsafe_b64decode(s) if "-" in s or "_" in s else base64.b64decode(s, validate=True)

assert env["payloadType"] == "application/vnd.in-toto+json"
payload = b64(env["payload"])
t = env["payloadType"].encode()
pae = b"DSSEv1 %d %s %d %s" % (len(t), t, len(payload), payload)

def verifies(sig):
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(sig, pae)
        else:
            h = hashes.SHA384() if key.curve.name == "secp384r1" else hashes.SHA256()
            key.verify(sig, pae, ec.ECDSA(h))
        return True
    except Exception:
        return False

if not any(verifies(b64(s["sig"])) for s in env["signatures"]):
    sys.exit("no valid signature by this key")
st = json.loads(payload)
assert st["_type"] == "https://in-toto.io/Statement/v1"
assert st["predicateType"] == "https://hallmark.dev/build-record/v1"
assert len(st["subject"]) == 1 and st["subject"][0]["name"] == "device:" + st["predicate"]["serial"]
print("Verified OK")
print("payload sha256:", hashlib.sha256(payload).hexdigest())
print("subject sha256:", st["subject"][0]["digest"]["sha256"])
