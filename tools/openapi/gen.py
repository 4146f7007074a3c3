# Generates internal/httpapi/openapi.json (run: python3 tools/openapi/gen.py). The JSON is
# committed; TestOpenAPICoversRoutes checks it against the server's routes, and
# TestOpenAPISchemasMatchAPITypes its schemas against the wire types of package api.
import json, os
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', 'internal', 'httpapi', 'openapi.json')
S=lambda name: {"$ref": "#/components/schemas/"+name}
def arr(x): return {"type":"array","items":x}
def page(x): return {"type":"object","required":["items"],"properties":{"items":arr(x)}}
str_={"type":"string"}; dt={"type":"string","format":"date-time"}; b=lambda: {"type":"boolean"}
schemas={
 "Problem":{"type":"object","description":"RFC 9457 problem details. Types are https://hallmark.dev/problems/{invalid,not-found,conflict,denied,not-owner,unauthenticated,unavailable,too-large,internal}. A not-owner refusal names the ownership-matrix cell the caller's party lacked.",
   "required":["type","title","status"],"properties":{"type":str_,"title":str_,"status":{"type":"integer"},"detail":str_,"instance":str_,
   "stage":str_,"duty":str_,"scope":{"type":"string","example":"lot:lot_abc"},"owner":{"type":"string","description":"party owning the cell; empty when nobody does"},
   "approval_id":{"type":"string","description":"the approval request a pending (202) answer waits for"}}},
 "Party":{"type":"object","properties":{"id":str_,"name":str_,"kind":S("PartyKind"),"created_at":dt}},
 "PartyKind":{"type":"string","enum":["manufacturer","contract-manufacturer","distributor","integrator","operator","support-vendor","auditor"]},
 "CreateParty":{"type":"object","required":["id","name","kind"],"additionalProperties":False,"properties":{"id":{"type":"string","pattern":"^[a-z0-9][a-z0-9-]{0,62}$"},"name":str_,"kind":S("PartyKind")}},
 "Principal":{"type":"object","description":"a person or service account of a party, or a deployment administrator (party_id \"*\": the deployment scope, which is no party)","properties":{"id":str_,"party_id":str_,"name":str_,"kind":{"type":"string","enum":["person","service"]},
   "admin":{"type":"boolean","description":"an administrator of its party (manages its principals, tokens and duty limits) or, with party_id \"*\", of the deployment"},"created_at":dt,
   "created_by":{"type":"string","description":"the principal that created this one"},"access_id":{"type":"string","description":"the break-glass request it was created under, if any"},"disabled_at":dt,"last_used_at":dt}},
 "CreatePrincipal":{"type":"object","required":["party_id","name"],"additionalProperties":False,"properties":{"party_id":{"type":"string","description":"a party, or \"*\" for a deployment administrator"},"name":str_,"kind":{"type":"string","enum":["person","service"]},"admin":b(),
   "token_lifetime":{"type":"string","example":"720h","description":"the first token's lifetime; absent: the deployment's maximum (principals.token_lifetime, 90 days by default); a hand-over token (a deployment administrator's minting for a party's principal) lives at most, and by default, 72h: longer is refused with 400"}}},
 "PrincipalWithToken":{"allOf":[S("Principal"),{"type":"object","properties":{"token":{"type":"string","description":"bearer token, shown once; only its SHA-256 is stored"},"token_id":str_,"token_expires_at":dt}}]},
 "PrincipalToken":{"type":"object","description":"the record of one bearer token; the token itself is shown only when it is made","properties":{"id":str_,"principal_id":str_,
   "state":{"type":"string","enum":["active","overlap","expired","revoked","upgrade-pending"],"description":"overlap: superseded by a rotation, working until expires_at"},
   "created_at":dt,"created_by":str_,"expires_at":dt,"last_used_at":dt,"revoked_at":dt,"superseded_by":str_,
   "handover":{"type":"boolean","description":"a hand-over token: minted by a deployment administrator for a principal of a party, or in a request authenticated by a hand-over token; it lives at most 72h"}}},
 "IssuedToken":{"allOf":[S("PrincipalToken"),{"type":"object","properties":{"token":{"type":"string","description":"bearer token, shown once; only its SHA-256 is stored"}}}]},
 "RotateToken":{"type":"object","additionalProperties":False,"properties":{"overlap":{"type":"string","example":"24h","description":"how long the current tokens keep working beside the new one; absent or 0s: they stop now; at most principals.max_overlap"},
   "lifetime":{"type":"string","example":"720h","description":"the new token's lifetime; absent: the deployment's maximum (a hand-over token, minted by a deployment administrator under break-glass: at most and by default 72h)"}}},
 "AccessRequest":{"type":"object","required":["reason"],"additionalProperties":False,"properties":{"reason":str_,"duration":{"type":"string","example":"1h","description":"the window asked for, 1m to 24h, starting at approval; absent: 1h"}}},
 "Access":{"type":"object","description":"a break-glass request: a deployment administrator's time-bound right to manage one party's principals, decided by an administrator of that party","properties":{"id":str_,"party_id":str_,
   "principal_id":{"type":"string","description":"the deployment administrator who asked"},"reason":str_,"duration":str_,
   "state":{"type":"string","enum":["pending","approved","denied","ended","expired","over"]},"requested_at":dt,"expires_at":{"type":"string","format":"date-time","description":"an undecided request lapses then"},
   "decided_by":str_,"decided_at":dt,"comment":str_,"until":{"type":"string","format":"date-time","description":"approved: the end of the window"},"ended_at":dt,"ended_by":str_}},
 "AccessDecision":{"type":"object","required":["approve"],"additionalProperties":False,"properties":{"approve":b(),"comment":str_}},
 "Cell":{"type":"object","required":["stage","duty","scope","party_id"],"additionalProperties":False,"properties":{"stage":{"type":"string","enum":["manufacturing","operational","support"]},"duty":{"type":"string","enum":["issue","renew","revoke","audit","approve"]},
   "scope":{"type":"object","required":["kind","id"],"properties":{"kind":{"type":"string","enum":["deployment","manufacturer","model","lot","operator","environment","vendor"]},"id":str_}},"party_id":str_}},
 "Hierarchy":{"type":"object","description":"a new root CA and the issuing CA under it","properties":{"issuing":S("CA"),"root":S("CA")}},
 "CA":{"type":"object","properties":{"id":str_,"party_id":str_,"stage":str_,"role":{"type":"string","enum":["root","issuing","anchor"]},"parent_id":str_,"name":str_,"key_id":str_,"imported":b(),"created_at":dt,"retired_at":{"type":"string","format":"date-time","description":"when a whole-CA revocation retired the CA; it issues nothing after"},"crl_partitions":{"type":"integer","description":"CRL partitions (0: one full CRL only)"},"subject":str_,"not_after":dt,"certificate_pem":str_}},
 "CreateHierarchy":{"type":"object","required":["manufacturer_id","name"],"additionalProperties":False,"properties":{"manufacturer_id":str_,"name":str_,"algorithm":{"type":"string","enum":["ecdsa-p256","ecdsa-p384","ed25519","rsa-3072"]},"crl_partitions":{"type":"integer","minimum":0,"maximum":1024,"description":"CRL partitions of the issuing CA, fixed for its life; 0 or absent: 16"}}},
 "ImportCA":{"type":"object","required":["manufacturer_id","name","certificate_pem"],"additionalProperties":False,"description":"give key_uri (a key in the server's HSM, docs/ceremony.md: no private key crosses the API) or key_pem (file backend only), not both","properties":{"manufacturer_id":str_,"name":str_,"certificate_pem":str_,"key_uri":{"type":"string","description":"RFC 7512 PKCS#11 URI of the CA key in the server's HSM, e.g. pkcs11:token=hallmark;id=%01%02"},"key_pem":str_,"passphrase":str_,"crl_partitions":{"type":"integer","minimum":0,"maximum":1024,"description":"CRL partitions of the issuing CA, fixed for its life; 0 or absent: 16"}}},
 "RegisterAnchor":{"type":"object","required":["name","certificate_pem"],"additionalProperties":False,"properties":{"name":str_,"certificate_pem":str_}},
 "Model":{"type":"object","properties":{"id":str_,"manufacturer_id":str_,"name":str_,"hardware_type":{"type":"string","description":"dotted OID, hwType of hardwareModuleName"},"created_at":dt}},
 "CreateModel":{"type":"object","required":["manufacturer_id","name"],"additionalProperties":False,"properties":{"manufacturer_id":str_,"name":str_,"hardware_type":str_}},
 "Lot":{"type":"object","properties":{"id":str_,"manufacturer_id":str_,"model_id":str_,"name":str_,"line":str_,"issuing_ca_id":str_,"created_at":dt}},
 "CreateLot":{"type":"object","required":["model_id","name","issuing_ca_id"],"additionalProperties":False,"properties":{"model_id":str_,"name":str_,"line":str_,"issuing_ca_id":str_,"delegate_to":{"type":"string","description":"a contract manufacturer that will own manufacturing/issue on this lot"}}},
 "Digest":{"type":"object","required":["sha256"],"additionalProperties":False,"properties":{"sha256":{"type":"string","pattern":"^[0-9a-f]{64}$"}}},
 "BuildRecord":{"type":"object","additionalProperties":False,"required":["manufacturer","model","serial","lot","line","firmwareDigest","testResult","builtAt"],
   "properties":{"manufacturer":{"type":"string","description":"manufacturer party id"},"model":str_,"hardwareRevision":str_,"serial":str_,"lot":str_,"line":str_,
   "components":arr({"type":"object","additionalProperties":False,"required":["name","digest"],"properties":{"name":str_,"version":str_,"digest":S("Digest")}}),
   "firmwareDigest":S("Digest"),"testResult":{"type":"string","enum":["pass","fail"]},"builtAt":dt}},
 "IssueFactory":{"type":"object","required":["csr","build_record"],"additionalProperties":False,"properties":{"csr":{"type":"string","description":"PKCS#10, PEM or base64 DER"},"build_record":S("BuildRecord")}},
 "Device":{"type":"object","properties":{"id":str_,"manufacturer_id":str_,"model_id":str_,"lot_id":str_,"serial":str_,"state":{"type":"string","enum":["registered","active","quarantined","suspended","released","factory-revoked","handed-off"]},"custodian_id":str_,"factory_certificate":str_,"created_at":dt,"updated_at":dt}},
 "FactoryIdentity":{"type":"object","properties":{"device":S("Device"),"certificate_pem":str_,"chain_pem":str_,"build_record":{"type":"string","contentEncoding":"base64","description":"the DSSE envelope (JSON), base64"},"build_record_sha256":str_}},
 "Certificate":{"type":"object","properties":{"serial":str_,"ca_id":str_,"device_id":str_,"profile":str_,"state":{"type":"string","enum":["reserved","issued","revoked"]},"not_before":dt,"not_after":dt,"created_at":dt,"issued_at":dt,"revoked_at":dt,"revocation_reason":{"type":"integer"}}},
 "DevicePage":{"type":"object","required":["items"],"description":"one page of devices, by id; next_after is set when the page is full: pass it as after","properties":{"items":arr(S("Device")),"next_after":str_}},
 "IDPage":{"type":"object","required":["items"],"description":"one page of ids; next_after is set when the page is full","properties":{"items":arr(str_),"next_after":str_}},
 "DeviceView":{"allOf":[S("Device"),{"type":"object","properties":{"certificates":arr(S("Certificate")),"build_record":{"type":"object","description":"DSSE envelope"},"custody":arr(S("CustodyLink")),"external":{"allOf":[S("DeviceOrigin")],"description":"a device of a maker that does not run Hallmark: its maker and factory certificate"}}}]},
 "CustodyLink":{"type":"object","properties":{"transfer_id":str_,"from_party_id":str_,"to_party_id":str_,"at":dt}},
 "Offer":{"type":"object","required":["to"],"additionalProperties":False,"description":"name devices or a lot, not both","properties":{"to":str_,"device_ids":arr(str_),"lot_id":str_,"note":str_}},
 "Transfer":{"type":"object","properties":{"id":str_,"from_party_id":str_,"to_party_id":str_,"state":{"type":"string","enum":["offered","accepted","refused","cancelled"]},"device_count":{"type":"integer","description":"devices the transfer moves; GET /v1/transfers/{id}/devices lists them"},"note":str_,"offered_by":str_,"offered_at":dt,"decided_by":str_,"decided_at":dt}},
 "AuditEvent":{"type":"object","properties":{"seq":{"type":"integer"},"at":dt,"party_id":str_,"principal_id":str_,"action":str_,"stage":str_,"scope":str_,"subject":str_,"detail":{"type":"object"}}},
}
err=lambda *codes: {str(c):{"description":{400:"invalid input",401:"no or bad token",403:"not allowed (denied or not-owner)",404:"not found",409:"conflict with current state",413:"body too large"}[c],"content":{"application/problem+json":{"schema":S("Problem")}}} for c in codes}
def op(summary, ok, okschema=None, body=None, errs=(400,401,403,404), public=False, params=(), desc=None, okctype="application/json"):
  o={"summary":summary,"responses":{str(ok):{"description":"success"}}}
  if desc: o["description"]=desc
  if okschema is not None: o["responses"][str(ok)]["content"]={okctype:{"schema":okschema}}
  o["responses"].update(err(*errs))
  if body: o["requestBody"]={"required":True,"content":{"application/json":{"schema":S(body)}}}
  if public: o["security"]=[]
  if params: o["parameters"]=list(params)
  return o
q=lambda n,d: {"name":n,"in":"query","required":False,"schema":{"type":"string"},"description":d}
pid=lambda n="id": {"name":n,"in":"path","required":True,"schema":{"type":"string"}}
pem={"type":"string","description":"PEM"}
paths={
 "/v1/openapi.json":{"get":op("This document",200,{"type":"object"},errs=(),public=True)},
 "/v1/whoami":{"get":op("The authenticated principal",200,S("Principal"),errs=(401,))},
 "/v1/parties":{"post":op("Create a party with its default ownership cells (deployment administrators)",201,S("Party"),"CreateParty",errs=(400,401,403,409)),
   "get":op("List parties",200,page(S("Party")),errs=(401,))},
 "/v1/principals":{"post":op("Create a principal with its first token, shown once: an administrator of the party; a deployment administrator for deployment administrators, for the first administrator of a party without one, or under an approved break-glass request",201,S("PrincipalWithToken"),"CreatePrincipal",errs=(400,401,403,404,409))},
 "/v1/parties/{id}/principals":{"get":op("List a party's principals (own party, auditors, deployment administrators; * lists the deployment administrators)",200,page(S("Principal")),params=[pid()],errs=(401,403,404))},
 "/v1/principals/{id}":{"get":op("One principal",200,S("Principal"),params=[pid()],errs=(401,404)),
   "delete":op("Delete a principal with its tokens and duty limits (an administrator of its party, not itself; refused for the last administrator that can sign in)",204,params=[pid()],errs=(401,403,404,409))},
 "/v1/principals/{id}/disable":{"post":op("Disable a principal: its tokens stop working at once (an administrator of its party, not itself)",200,S("Principal"),params=[pid()],errs=(401,403,404,409))},
 "/v1/principals/{id}/enable":{"post":op("Enable a disabled principal again",200,S("Principal"),params=[pid()],errs=(401,403,404,409))},
 "/v1/principals/{id}/tokens":{"get":op("A principal's tokens with their state, expiry and last use, newest first; never the tokens themselves",200,page(S("PrincipalToken")),params=[pid()],errs=(401,404)),
   "post":op("Rotate: a new token, shown once; the principal's other valid tokens keep working until the overlap ends (the principal itself or an administrator of its party)",201,S("IssuedToken"),"RotateToken",params=[pid()],errs=(400,401,403,404,409))},
 "/v1/principals/{id}/tokens/{token}/revoke":{"post":op("Revoke one token at once, on every replica: the next request with it is refused",200,S("PrincipalToken"),params=[pid(),pid("token")],errs=(401,403,404,409))},
 "/v1/parties/{id}/access":{"post":op("Ask for break-glass access to a party's principals (deployment administrators); nothing opens until an administrator of the party approves",201,S("Access"),"AccessRequest",params=[pid()],errs=(400,401,403,404)),
   "get":op("A party's break-glass requests, newest first (its principals, deployment administrators, auditors)",200,page(S("Access")),params=[pid()],errs=(401,403,404))},
 "/v1/access/{id}":{"get":op("One break-glass request",200,S("Access"),params=[pid()],errs=(401,404))},
 "/v1/access/{id}/decision":{"post":op("Approve or deny a pending break-glass request (an administrator of its party); approval opens the window at once",200,S("Access"),"AccessDecision",params=[pid()],errs=(400,401,403,404,409))},
 "/v1/access/{id}/end":{"post":op("Close an open break-glass window early (an administrator of its party or the requester)",200,S("Access"),params=[pid()],errs=(401,403,404,409))},
 "/v1/ownership":{"get":op("The ownership matrix",200,page(S("Cell")),errs=(401,)),
   "put":op("Set one cell: a deployment administrator over the deployment scope; an administrator of the party a scope belongs to; a party may delegate a cell over a lot or model it owns the parent duty of; refused when it would give a principal duties a separation-of-duties rule keeps apart",200,S("Cell"),"Cell",errs=(400,401,403,404)),
   "delete":op("Delete one cell (as PUT: a deployment administrator over the deployment scope, the scope's party's administrators, a party a delegation over a lot or model whose parent duty it owns); the scope then inherits or, with nothing above, becomes a governance gap",204,
     params=[{"name":"stage","in":"query","required":True,"schema":{"type":"string"}},{"name":"duty","in":"query","required":True,"schema":{"type":"string"}},{"name":"scope","in":"query","required":True,"schema":{"type":"string","example":"lot:lot_abc"}}],errs=(400,401,403,404))},
 "/v1/manufacturing/hierarchies":{"post":op("Create a manufacturing root and issuing CA (manufacturing/issue on the manufacturer)",201,S("Hierarchy"),"CreateHierarchy",errs=(400,401,403,404,409))},
 "/v1/manufacturing/imports":{"post":op("Import an existing manufacturing CA (certificate and key; the key is checked before anything is stored)",201,S("CA"),"ImportCA",errs=(400,401,403,404,409,413))},
 "/v1/anchors":{"post":op("Register another maker's trust anchor (certificate only) for the caller's party",201,S("CA"),"RegisterAnchor",errs=(400,401,409,413))},
 "/v1/cas":{"get":op("List CAs: the caller's party's, or any party's for auditors",200,page(S("CA")),params=[q("party","party id")],errs=(401,403))},
 "/v1/cas/{id}/certificate":{"get":op("A CA certificate (public)",200,pem,errs=(404,),public=True,params=[pid()],okctype="application/x-pem-file")},
 "/v1/manufacturers/{id}/build-record-key":{"get":op("A manufacturer's build-record verification key, PKIX PEM (public)",200,pem,errs=(404,),public=True,params=[pid()],okctype="application/x-pem-file")},
 "/v1/models":{"post":op("Define a model (manufacturing/issue on the manufacturer)",201,S("Model"),"CreateModel",errs=(400,401,403,404,409)),
   "get":op("List models",200,page(S("Model")),params=[q("manufacturer","manufacturer party id")],errs=(401,))},
 "/v1/lots":{"post":op("Define a lot, optionally delegating its issuance to a contract manufacturer",201,S("Lot"),"CreateLot",errs=(400,401,403,404,409)),
   "get":op("List lots",200,page(S("Lot")),params=[q("manufacturer","manufacturer party id")],errs=(401,))},
 "/v1/lots/{id}":{"get":op("One lot",200,S("Lot"),params=[pid()],errs=(401,404))},
 "/v1/lots/{id}/devices":{"post":op("Register a device of the lot and issue its factory identity: IDevID certificate plus signed build record (manufacturing/issue on the lot)",201,S("FactoryIdentity"),"IssueFactory",params=[pid()],errs=(400,401,403,404,409,413))},
 "/v1/devices":{"get":op("List devices the caller may see (maker, holder, auditor), by id, paginated",200,S("DevicePage"),
   params=[q("lot","lot id"),q("state","device state"),q("custodian","party id"),q("manufacturer","party id"),q("after","return ids after this one"),q("limit","1-1000")],errs=(400,401))},
 "/v1/devices/{id}":{"get":op("A device with its certificates, build record and custody chain",200,S("DeviceView"),params=[pid()],errs=(401,404))},
 "/v1/devices/{id}/certificates/{serial}":{"get":op("One certificate of a device, PEM",200,pem,params=[pid(),dict(pid("serial"),description="The certificate's serial in hexadecimal: as the API writes it (lower case, no leading zeros, e.g. a1b2) or as openssl prints it (upper case, leading zeros, optional colons between octets, e.g. 0A1B2C or 0A:1B:2C); every form names the same certificate. At most 20 octets; anything else is a 400.")],errs=(400,401,404),okctype="application/x-pem-file")},
 "/v1/devices/{id}/build-record":{"get":op("The device's signed build record (DSSE envelope)",200,{"type":"object"},params=[pid()],errs=(401,404))},
 "/v1/transfers":{"post":op("Offer custody of devices or of every device of a lot the caller holds (a principal limited to some duties needs custody/transfer); refused (409) while one of them is active, suspended or quarantined: its holder releases it first",201,S("Transfer"),"Offer",errs=(400,401,403,404,409,413)),
   "get":op("The caller's party's transfers, both directions",200,page(S("Transfer")),errs=(401,))},
 "/v1/transfers/{id}":{"get":op("One transfer",200,S("Transfer"),params=[pid()],errs=(401,404))},
 "/v1/transfers/{id}/devices":{"get":op("The IDs of a transfer's devices, in order, paginated (whoever may see the transfer)",200,S("IDPage"),
   params=[pid(),q("after","device id to start after"),q("limit","1-1000, default 1000")],errs=(400,401,404))},
 "/v1/transfers/{id}/accept":{"post":op("Accept an offer (receiving party; a limited principal needs custody/transfer); custody moves in the same transaction, refused (409) while a device of it is active, suspended or quarantined",200,S("Transfer"),params=[pid()],errs=(401,403,404,409))},
 "/v1/transfers/{id}/refuse":{"post":op("Refuse an offer (receiving party)",200,S("Transfer"),params=[pid()],errs=(401,403,404,409))},
 "/v1/transfers/{id}/cancel":{"post":op("Cancel an open offer (offering party)",200,S("Transfer"),params=[pid()],errs=(401,403,404,409))},
 "/v1/audit/events":{"get":op("Audit events after a sequence number (auditors)",200,page(S("AuditEvent")),params=[q("after","sequence number")],errs=(401,403))},
}
doc={"openapi":"3.1.0","info":{"title":"Hallmark API","version":"0.1.0","description":"Device identity authority: manufacturing and operational identities with separate owners. Every operation except those marked public needs a bearer token; every refusal is RFC 9457 problem+json."},
 "servers":[{"url":"/"}],"security":[{"bearer":[]}],
 "components":{"securitySchemes":{"bearer":{"type":"http","scheme":"bearer"}},"schemas":schemas},"paths":paths}


# --- operational stage ---
schemas.update({
 "CreateOperationalHierarchy":{"type":"object","required":["operator_id","name"],"additionalProperties":False,"properties":{"operator_id":str_,"name":str_,"algorithm":{"type":"string","enum":["ecdsa-p256","ecdsa-p384","ed25519","rsa-3072"]},"crl_partitions":{"type":"integer","minimum":0,"maximum":1024,"description":"CRL partitions of the issuing CA, fixed for its life; 0 or absent: 16"}}},
 "PolicySpec":{"type":"object","description":"CEL rules; see docs/policies.md","required":["rules"],"properties":{"rules":arr({"type":"object","required":["name","expr"],"properties":{"name":str_,"expr":str_,"message":str_}}),"require_approval":str_}},
 "CreateEnvironment":{"type":"object","required":["operator_id","name","issuing_ca_id","trust_domain","lifetime","max_age"],"additionalProperties":False,
   "properties":{"operator_id":str_,"name":str_,"site":str_,"zone":str_,"issuing_ca_id":str_,"trust_domain":str_,"lifetime":{"type":"string","example":"24h"},"max_age":{"type":"string","example":"168h"},
   "services":arr(str_),"support_max_window":{"type":"string","example":"8h","description":"longest support grant window (default 8h, at most 168h)"},"onboarding_policy":S("PolicySpec"),"renewal_policy":S("PolicySpec")}},
 "Environment":{"type":"object","properties":{"id":str_,"operator_id":str_,"name":str_,"site":str_,"zone":str_,"issuing_ca_id":str_,"trust_domain":str_,"lifetime":str_,"max_age":str_,"services":arr(str_),"support_max_window":{"type":"string","description":"longest support grant window allowed"},"created_at":dt}},
 "PolicyVersion":{"type":"object","properties":{"environment_id":str_,"kind":{"type":"string","enum":["onboarding","renewal"]},"version":{"type":"integer"},"spec":S("PolicySpec"),"created_by":str_,"created_at":dt}},
 "PolicyVersionList":{"type":"object","properties":{"items":{"type":"array","items":S("PolicyVersion")}}},
 "EnvironmentView":{"allOf":[S("Environment"),{"type":"object","properties":{"onboarding_policy":S("PolicyVersion"),"renewal_policy":S("PolicyVersion"),
   "est_label":{"type":"string","description":"the label EST clients reach the environment at: its name when it was the first environment, of any operator, to claim that name, else its ID (docs/est.md)"}}}]},
 "ChallengeRequest":{"type":"object","required":["purpose","csr_key_sha256"],"additionalProperties":False,"description":"what the proof will serve (docs/design.md, Proof of possession)","properties":{
   "purpose":{"type":"string","enum":["onboard","renew"],"description":"onboard proves the factory key at /v1/environments/{id}/onboard; renew proves the current operational key at /v1/renewals"},
   "environment_id":{"type":"string","description":"purpose onboard: the environment to onboard into (the caller needs operational/issue over it)"},
   "certificate_serial":{"type":"string","description":"purpose renew: hex serial of the operational certificate to renew (the caller needs operational/renew over its device's environment; a certificate it may not renew is not found)"},
   "csr_key_sha256":{"type":"string","pattern":"^[0-9a-fA-F]{64}$","description":"hex SHA-256 of the DER SubjectPublicKeyInfo of the key in the CSR the proof will be sent with"}}},
 "Challenge":{"type":"object","properties":{"id":str_,"nonce":{"type":"string","contentEncoding":"base64","description":"32 random bytes; this base64 text goes into the proof message as is"},
   "purpose":{"type":"string","enum":["onboard","renew"]},"environment_id":{"type":"string","description":"the environment the proof is for (at renewal: the device's)"},"csr_key_sha256":str_,"expires_at":dt}},
 "Proof":{"type":"object","required":["challenge_id","signature"],"properties":{"challenge_id":str_,"signature":{"type":"string","description":"base64 signature over the challenge's proof message (docs/design.md, Proof of possession: five lines binding purpose, environment, nonce and CSR key): ECDSA/RSA over SHA-256 of it, Ed25519 over it"}}},
 "Facts":{"type":"object","additionalProperties":False,"properties":{"firmware_digest":str_,"hardware_revision":str_,"extra":{"type":"object","additionalProperties":str_}}},
 "Onboard":{"type":"object","required":["csr","factory_certificate","proof"],"additionalProperties":False,"properties":{"csr":str_,"factory_certificate":{"type":"string","description":"IDevID PEM, optionally followed by its chain"},"proof":S("Proof"),"facts":S("Facts")}},
 "Renew":{"type":"object","required":["csr","current_certificate","proof"],"additionalProperties":False,"properties":{"csr":str_,"current_certificate":str_,"proof":S("Proof"),"facts":S("Facts")}},
 "Evidence":{"type":"object","properties":{"serial":str_,"device_id":str_,"environment_id":str_,"kind":{"type":"string","enum":["onboard","renew"]},"based_on":str_,"superseded":{"type":"string","description":"the operational certificate this one replaced and revoked, if any"},"factory_serial":str_,"protocol":str_,"policy_kind":str_,"policy_version":{"type":"integer"},"principal_id":str_,"facts":{"type":"object"},"created_at":dt}},
 "Identity":{"type":"object","properties":{"device":S("Device"),"certificate_pem":str_,"chain_pem":str_,"evidence":S("Evidence")}},
 "ReadmitResult":{"type":"object","properties":{"device":S("Device"),"approval":S("Approval")}},
 "RuntimeRevoke":{"type":"object","required":["reason"],"additionalProperties":False,"properties":{"reason":{"type":"string","enum":["unspecified","keyCompromise","affiliationChanged","superseded","cessationOfOperation","privilegeWithdrawn"]}}},
 "FactorySelector":{"type":"object","required":["manufacturer_id"],"additionalProperties":False,"properties":{"manufacturer_id":str_,"device_id":str_,"lot_id":str_,"line":str_,"issuing_ca_id":str_,"issued_from":dt,"issued_to":dt}},
 "FactoryRevoke":{"type":"object","required":["selector","reason"],"additionalProperties":False,"properties":{"selector":S("FactorySelector"),"reason":{"type":"string","enum":["unspecified","keyCompromise","cACompromise","affiliationChanged","superseded","cessationOfOperation"]},"dry_run":{"type":"boolean","default":True},"why":{"type":"string","description":"the justification a whole-CA revocation's approval request shows its approvers"},
   "limit":{"type":"integer","minimum":0,"maximum":10000,"description":"dry run only: list at most this many factory identities and this many suspensions per environment; counts stay whole (0: every row)"}}},
 "RevocationCascade":{"type":"object","properties":{"items":arr({"type":"object","properties":{"run_id":str_,"serial":str_,"device_id":str_,"action":{"type":"string","enum":["factory-revoked","operational-suspended"]},"at":dt}}),
   "run":{"type":"object","properties":{"id":str_,"manufacturer_id":str_,"selector":S("FactorySelector"),"reason":{"type":"integer","description":"RFC 5280 CRLReason code"},"requested_by":str_,"created_at":dt,"finished_at":dt}}}},
 "FactoryRevokeResult":{"type":"object","properties":{"dry_run":b(),"run_id":str_,"reason":str_,"factory":arr({"type":"object","properties":{"serial":str_,"device_id":str_,"lot_id":str_,"state":str_}}),
   "suspended":arr({"type":"object","properties":{"device_id":str_,"serial":str_,"environment_id":str_}}),"already_revoked":{"type":"integer"},
   "counts":{"type":"object","description":"whole counts, also when a dry run's limit shortened the lists","properties":{"factory":{"type":"integer"},"suspended":{"type":"integer"},
     "environments":arr({"type":"object","properties":{"environment_id":str_,"suspended":{"type":"integer"}}})}},
   "approval":{"$ref":"#/components/schemas/Approval","description":"the approval a whole-CA revocation waits for (202); nothing was revoked yet"}}},
})
schemas["DeviceView"]["allOf"][1]["properties"]["lineage"]=arr(S("Evidence"))
schemas["DeviceView"]["allOf"][1]["properties"]["support_grants"]=arr(S("Grant"))
schemas["Device"]["properties"].update({"environment_id":str_,"operational_certificate":str_})
paths["/v1/devices"]["get"]["parameters"]+= [q("environment","environment id"),q("expiring_before","RFC 3339 time: current operational certificate ends before it")]
paths.update({
 "/v1/operational/hierarchies":{"post":op("Create an operational root and issuing CA (operational/issue on the operator)",201,S("Hierarchy"),"CreateOperationalHierarchy",errs=(400,401,403,404,409))},
 "/v1/environments":{"post":op("Define an environment with version 1 of its onboarding and renewal policies (defaults when omitted). Its trust_domain must be new, or held by its operator: the first operator whose environment names a SPIFFE trust domain holds it for good, and another operator's environment naming it is refused (409, rule environment:trust-domain-owned)",201,S("EnvironmentView"),"CreateEnvironment",errs=(400,401,403,404,409)),
   "get":op("The caller's environments (all for auditors)",200,page(S("Environment")),errs=(401,))},
 "/v1/environments/{id}":{"get":op("An environment with its current policies",200,S("EnvironmentView"),params=[pid()],errs=(401,404))},
 "/v1/environments/{id}/policies/{kind}":{"get":op("The stored versions of the onboarding or renewal policy, newest first (at most 200)",200,S("PolicyVersionList"),params=[pid(),pid("kind")],errs=(400,401,404)),"put":op("Store a new version of the onboarding or renewal policy (compiled first; nothing stored if it does not compile)",200,S("PolicyVersion"),"PolicySpec",params=[pid(),pid("kind")],errs=(400,401,403,404))},
 "/v1/challenges":{"post":op("A single-use challenge (5 minutes) bound to the caller, a purpose, an environment and a CSR key, for a device to sign with the key it proves. Needs the duty the proof serves (operational/issue or operational/renew over the environment); at most limits.challenges per principal per 5 minutes (403 beyond)",201,S("Challenge"),"ChallengeRequest",errs=(400,401,403,404))},
 "/v1/environments/{id}/onboard":{"post":op("Exchange a factory identity for an operational certificate in this environment (operational/issue; custody; policy)",201,S("Identity"),"Onboard",params=[pid()],errs=(400,401,403,404,409,413))},
 "/v1/renewals":{"post":op("Renew an operational identity with the current certificate's key, under the renewal policy (operational/renew)",201,S("Identity"),"Renew",errs=(400,401,403,404,409))},
 "/v1/devices/{id}/revoke":{"post":op("Runtime revocation: revoke the device's operational identity and quarantine it; the factory identity is untouched (operational/revoke)",200,S("Device"),"RuntimeRevoke",params=[pid()],errs=(400,401,403,404,409))},
 "/v1/devices/{id}/readmit":{"post":op("Ask to re-admit a quarantined device (back to onboarding) or a suspended one (hold lifted). Re-admission waits for an approval (kind readmit) by another principal of the party owning operational/approve; the pending request is returned, or the one already pending",202,S("ReadmitResult"),"ReadmitRequest",params=[pid()],errs=(400,401,403,404,409))},
 "/v1/manufacturing/revocations":{"post":op("Manufacturing revocation by device, lot, line, time window or issuing CA, with the suspension cascade. Dry run unless dry_run is false (200 for a dry run, 201 when executed)",201,S("FactoryRevokeResult"),"FactoryRevoke",errs=(400,401,403,404))},
 "/v1/manufacturing/revocations/{id}":{"get":op("A revocation run and its cascade items",200,S("RevocationCascade"),params=[pid()],errs=(401,404))},
})
paths["/v1/manufacturing/revocations"]["post"]["responses"]["200"]={"description":"dry run: what would be revoked and suspended","content":{"application/json":{"schema":S("FactoryRevokeResult")}}}
# --- tamper-evident audit log (docs/audit.md) ---
b64=lambda d: {"type":"string","contentEncoding":"base64","description":d}
note_={"type":"string","description":"C2SP signed note: origin line, tree size, base64 RFC 6962 root hash, blank line, signature lines"}
schemas.update({
 "InclusionProof":{"type":"object","description":"RFC 6962 section 2.1.1 audit path; leaf index i is the event with seq i+1","properties":{"index":{"type":"integer"},"size":{"type":"integer"},"leaf_hash":b64("SHA-256(0x00 || canonical leaf encoding)"),"root":b64("root of the tree of this size"),"hashes":arr(b64("node hash"))}},
 "ConsistencyProof":{"type":"object","description":"RFC 6962 section 2.1.2 proof that the tree of size from is a prefix of the tree of size to","properties":{"from":{"type":"integer"},"to":{"type":"integer"},"from_root":b64("root at from"),"to_root":b64("root at to"),"hashes":arr(b64("node hash"))}},
 "LeafHashes":{"type":"object","properties":{"start":{"type":"integer"},"hashes":arr({"type":["string","null"],"contentEncoding":"base64"})}},
})
schemas["AuditEvent"]["description"]="seq is the event's leaf index + 1 in the audit Merkle tree: dense and in commit order"
qi=lambda n,d,req=False: {"name":n,"in":"query","required":req,"schema":{"type":"integer","minimum":0},"description":d}
paths.update({
 "/v1/audit/key":{"get":op("The checkpoint verifier key, a note verifier key '<origin>+<hash>+<base64 Ed25519 key>' (public)",200,{"type":"string"},errs=(),public=True,okctype="text/plain")},
 "/v1/audit/checkpoint":{"get":op("The latest signed checkpoint of the audit tree (auditors); a GET never signs (sign with POST; the former ?new=1 is refused with 400)",200,note_,errs=(400,401,403),okctype="text/plain"),
   "post":op("Sign a checkpoint of the current size now, or return the stored one of that size (auditors)",200,note_,errs=(401,403),okctype="text/plain")},
 "/v1/audit/proofs/inclusion":{"get":op("Inclusion proof of a leaf in the tree of a size (auditors)",200,S("InclusionProof"),params=[qi("index","leaf index (seq - 1)",True),qi("size","tree size; 0 or absent: the current size")],errs=(400,401,403))},
 "/v1/audit/proofs/consistency":{"get":op("Consistency proof between two tree sizes (auditors)",200,S("ConsistencyProof"),params=[qi("from","smaller tree size",True),qi("to","larger tree size; 0 or absent: the current size")],errs=(400,401,403))},
 "/v1/audit/leaves":{"get":op("Recorded leaf hashes from a leaf index, for exports (auditors)",200,S("LeafHashes"),params=[qi("start","first leaf index"),qi("count","at most 10000")],errs=(400,401,403))},
})
# --- reconciliation of state rows with the audit log (docs/audit.md) ---
schemas.update({
 "Disagreement":{"type":"object","description":"a row that says something the audit log does not","required":["kind","id","row","log"],"properties":{
   "kind":{"type":"string","enum":["certificate","device","origin"]},"id":{"type":"string","description":"serial (hex), or device ID (device, origin)"},
   "row":{"type":"string","description":"what the row says"},"log":{"type":"string","description":"what the log says"},
   "seq":{"type":"integer","description":"the last event that named it"}}},
 "Reconciliation":{"type":"object","required":["at","after_seq","events","last_seq","certificates","devices","origins","uncovered","disagreements"],"properties":{
   "at":{"type":"string","format":"date-time"},"after_seq":{"type":"integer","description":"0: every event was read"},
   "events":{"type":"integer"},"last_seq":{"type":"integer"},"certificates":{"type":"integer"},"devices":{"type":"integer"},
   "origins":{"type":"integer","description":"origin rows of makers' devices compared (a full reconciliation)"},
   "uncovered":{"type":"integer","description":"certificate rows of CA profiles, which reconciliation does not cover"},
   "disagreements":{"type":["array","null"],"items":S("Disagreement")},"truncated":{"type":"boolean"}}},
})
paths.update({
 "/v1/audit/reconcile":{"post":op("Recompute every certificate's state and every maker's device's origin from the audit events and list each row that disagrees; OCSP answers tryLater for those certificates (auditors)",200,S("Reconciliation"),errs=(400,401,403))},
})
# --- security reports (internal/reports) ---
int_={"type":"integer"}
cs_={"type":"object","properties":{"serial":str_,"state":str_,"not_after":dt}}
schemas.update({
 "InventoryReport":{"type":"object","properties":{"items":arr({"type":"object","properties":{"device_id":str_,"serial":str_,"manufacturer_id":str_,"state":str_,"custodian_id":str_,"environment_id":str_,"factory":cs_,"operational":cs_}}),"next_after":str_}},
 "RotationReport":{"type":"object","properties":{"generated_at":dt,"active":int_,"compliant":int_,"share":{"type":"number"},
   "environments":arr({"type":"object","properties":{"environment_id":str_,"name":str_,"operator_id":str_,"max_age":str_,"active":int_,"compliant":int_,"share":{"type":"number"}}}),
   "overdue":arr({"type":"object","properties":{"device_id":str_,"environment_id":str_,"serial":str_,"issued_at":dt,"age":str_,"max_age":str_}}),
   "overdue_count":{"type":"integer","description":"all overdue identities; overdue lists at most 1000, never-issued then oldest first"},
   "trend":{"type":"array","description":"present when since and every are given: compliance at each instant, oldest first, from certificate history","items":{"type":"object","properties":{"at":dt,"active":int_,"compliant":int_,"share":{"type":"number"},
     "environments":arr({"type":"object","properties":{"environment_id":str_,"active":int_,"compliant":int_,"share":{"type":"number"}}})}}},
   "credentials":{"type":"object","description":"Hallmark's own credentials: principal tokens and CA certificates (the caller's party's; all for auditors and deployment administrators)","properties":{
     "max_lifetime":str_,"idle_after":str_,"tokens":{"type":"integer","description":"tokens valid now"},"compliant":int_,
     "offenders":arr({"type":"object","properties":{"token_id":str_,"principal_id":str_,"party_id":str_,"name":str_,"kind":str_,"issue":{"type":"string","enum":["long-lived","idle","lapsed"]},"created_at":dt,"expires_at":dt,"last_used_at":dt,"lifetime":str_}}),
     "offender_count":int_,
     "cas":arr({"type":"object","properties":{"ca_id":str_,"party_id":str_,"name":str_,"stage":str_,"role":str_,"not_after":dt,"remaining":str_,"retired":b(),"issue":{"type":"string","enum":["expired","expiring"]}}}),
     "ca_issues":int_}}}},
 "SummaryReport":{"type":"object","properties":{"generated_at":dt,"devices":int_,"by_state":{"type":"object","additionalProperties":int_},"active":int_,"compliant":int_,"share":{"type":"number"},"expiring_24h":int_}},
 "ExpiringReport":{"type":"object","properties":{"generated_at":dt,"within":str_,"count":int_,"truncated":{"type":"boolean","description":"only the 1000 soonest are listed; counts cover all"},"groups":arr({"type":"object","properties":{"environment_id":str_,"name":str_,"operator_id":str_,"count":int_,
   "items":arr({"type":"object","properties":{"device_id":str_,"serial":str_,"not_after":dt,"remaining":str_,"device_state":str_,"environment_id":str_,"operator_id":str_}})}})}},
 "DriftReport":{"type":"object","properties":{"generated_at":dt,"checked":int_,"policy_checked":{"type":"boolean"},"items":arr({"type":"object","properties":{"device_id":str_,"environment_id":str_,
   "field":{"type":"string","enum":["firmware_digest","hardware_revision","build_record"]},"recorded":str_,"reported":str_,"reported_at":dt,"serial":str_}}),
   "policy_evaluated":int_,
   "policy":{"type":"array","description":"active devices the environment's current policy would no longer admit: the decision that issued the current operational certificate, evaluated again with the same inputs under the current version of the same policy kind",
     "items":{"type":"object","properties":{"device_id":str_,"environment_id":str_,"serial":str_,"policy_kind":{"type":"string","enum":["onboarding","renewal"]},"admitted_version":int_,"current_version":int_,"admitted_at":dt,
     "failed":arr({"type":"object","properties":{"rule":str_,"message":str_,"error":str_}}),"approval_required":{"type":"boolean"}}}}}},
 "StandardsReport":{"type":"object","properties":{"generated_at":dt,"rows":arr({"type":"object","properties":{"framework":str_,"id":str_,"title":str_,"coverage":{"type":"string","enum":["addressed","partial","not-addressed"]},"control":str_,
   "evidence":{"type":"object","properties":{"count":int_,"total":int_,"oldest":str_,"note":str_,"checked_at":dt,"status":{"type":"string","enum":["ok","attention","no data","n/a"]},"offenders":arr(str_)}}}})}},
})
paths.update({
 "/v1/reports/inventory":{"get":op("Every device the caller may see with both identity stages (auditors: all; others: devices made, held or in environments operated)",200,S("InventoryReport"),params=[q("after","device id to start after"),q("limit","1-1000, default 1000")],errs=(400,401))},
 "/v1/reports/summary":{"get":op("Device counts by state, rotation compliance and certificates expiring within 24 hours, for what the caller may see",200,S("SummaryReport"),errs=(401,))},
 "/v1/reports/rotation":{"get":op("Share of active operational identities issued within their environment's max_age, per environment, the overdue list and, with since and every, the trend",200,S("RotationReport"),
   params=[q("since","trend: how far back, such as 30d, 2w or 12h (with every)"),q("every","trend: step between instants, such as 1d (with since); at most 1000 instants")],errs=(400,401))},
 "/v1/reports/expiring":{"get":op("Current operational certificates ending within a window, grouped by environment and operator",200,S("ExpiringReport"),params=[q("within","Go duration, default 72h")],errs=(400,401))},
 "/v1/reports/drift":{"get":op("Devices whose newest reported facts differ from their verified build record, and active devices their environment's current policy would no longer admit",200,S("DriftReport"),errs=(401,))},
 "/v1/reports/standards":{"get":op("OWASP NHI Top 10 (2025) and NIST CSF 2.0 mapping with live evidence, Hallmark's own credentials included (auditors and deployment administrators; devices are not named to the latter)",200,S("StandardsReport"),errs=(401,403))},
})
# --- approvals, separation of duties, support grants (docs/governance.md) ---
pair_={"type":"object","properties":{"stage":{"type":"string","enum":["manufacturing","operational","support"]},"duty":{"type":"string","enum":["issue","renew","revoke","audit","approve"]}}}
kind_={"type":"string","enum":["support-grant","readmit","revoke-ca","onboard","manifest","repair","reorigin"]}
schemas.update({
 "ReadmitRequest":{"type":"object","required":["reason"],"additionalProperties":False,"properties":{"reason":str_}},
 "Approval":{"type":"object","properties":{"id":str_,"kind":kind_,"state":{"type":"string","enum":["pending","approved","denied","expired","cancelled","executed"]},
   "requester_party":str_,"requester_principal":str_,"approver_party":str_,"scope":str_,"subject":str_,"reason":str_,"until":dt,"payload":{"type":"object"},
   "approvers":{"type":"integer"},"other_party":b(),"decisions":arr({"type":"object","properties":{"party_id":str_,"principal_id":str_,"approve":b(),"comment":str_,"at":dt}}),
   "created_at":dt,"expires_at":dt,"decided_at":dt,
   "execute_by":{"type":"string","format":"date-time","description":"on an approved request, when it lapses (state expired, rule approval:lapsed) unless its action has run: as long after the approval as it had to be decided in"},
   "executed_at":dt}},
 "Decision":{"type":"object","required":["approve"],"additionalProperties":False,"properties":{"approve":b(),"comment":str_}},
 "DecideResult":{"type":"object","properties":{"approval":S("Approval"),"executed":b(),"execution_error":str_}},
 "ApprovalRule":{"type":"object","properties":{"kind":kind_,"approvers":{"type":"integer","enum":[1,2]},"other_party":b(),"expiry":str_,"stored":b()}},
 "SetApprovalRule":{"type":"object","required":["approvers","expiry"],"additionalProperties":False,"properties":{"approvers":{"type":"integer","enum":[1,2]},"other_party":b(),"expiry":{"type":"string","example":"72h"}}},
 "SoDRule":{"type":"object","properties":{"id":str_,"a":pair_,"b":pair_,"created_by":str_,"created_at":dt}},
 "CreateSoDRule":{"type":"object","required":["id","a","b"],"additionalProperties":False,"properties":{"id":str_,"a":{"type":"string","example":"operational/issue"},"b":{"type":"string","example":"operational/audit"}}},
 "PrincipalDuties":{"type":"object","required":["duties"],"additionalProperties":False,"properties":{"duties":arr({"type":"string","example":"operational/issue"})}},
 "CreateSupportHierarchy":{"type":"object","required":["operator_id","name"],"additionalProperties":False,"properties":{"operator_id":str_,"name":str_,"algorithm":{"type":"string","enum":["ecdsa-p256","ecdsa-p384","ed25519","rsa-3072"]}}},
 "SupportRequest":{"type":"object","required":["environment_id","reason","not_after","csr"],"additionalProperties":False,"description":"name devices or a lot, not both",
   "properties":{"environment_id":str_,"devices":arr(str_),"lot_id":str_,"reason":str_,"not_before":dt,"not_after":dt,"csr":{"type":"string","description":"the engineer's PKCS#10 request, PEM"},"engineer":str_}},
 "Grant":{"type":"object","properties":{"id":str_,"approval_id":str_,"requester_party":str_,"requester_principal":str_,"engineer":str_,"environment_id":str_,"operator_id":str_,
   "lot_id":str_,"devices":arr(str_),"reason":str_,"not_before":dt,"not_after":dt,"state":{"type":"string","enum":["requested","active","denied","revoked"]},
   "certificate_serial":str_,"created_at":dt,"revoked_at":dt,"revoked_by":str_}},
 "SupportGrant":{"allOf":[S("Grant"),{"type":"object","properties":{
   "status":{"type":"string","enum":["requested","active","denied","revoked","expired"]},"approval":S("Approval"),"certificate":pem,"chain":pem}}]},
 "RevokeGrant":{"type":"object","additionalProperties":False,"properties":{"reason":{"type":"string","description":"RFC 5280 reason; default privilegeWithdrawn"}}},
 "SupportCheck":{"type":"object","required":["certificate","device_id"],"additionalProperties":False,"properties":{"certificate":pem,"device_id":str_}},
 "GapsReport":{"type":"object","properties":{"generated_at":dt,"idle_after":str_,"total":{"type":"integer"},
   "unowned":arr({"type":"object","properties":{"scope":str_,"stage":str_,"duty":str_}}),
   "devices_without_owner":arr({"type":"object","properties":{"scope":str_,"stage":str_,"duty":str_,"devices":{"type":"integer"}}}),
   "lifetimes":arr({"type":"object","properties":{"environment_id":str_,"name":str_,"operator_id":str_,"lifetime":str_,"limit":str_,"why":str_}}),
   "support_grants":arr({"type":"object","properties":{"grant_id":str_,"environment_id":str_,"requester_party":str_,"not_after":dt,"window":str_,"limit":str_}}),
   "idle_principals":arr({"type":"object","properties":{"principal_id":str_,"party_id":str_,"name":str_,"admin":b(),"last_used_at":dt,"created_at":dt}}),
   "self_approval":arr({"type":"object","properties":{"scope":str_,"approval_kind":str_,"duty":str_,"party_id":str_}})}},
 "Reach":{"type":"object","properties":{"allowed":b(),"reason":str_,"grant_id":str_,"engineer":str_,"not_after":dt}},
})
schemas.update({
 "MakerPolicy":{"type":"object","additionalProperties":False,"properties":{"revocation":{"type":"string","enum":["fail-closed","fail-open"],"description":"when no CRL or OCSP source answers: refuse (default) or admit with a warning"},
   "require_manifest":b(),"require_hardware_module_name":b(),"key_types":arr({"type":"string","enum":["ecdsa-p256","ecdsa-p384","ed25519","rsa"]})}},
 "RegisterMaker":{"type":"object","required":["name","anchors_pem"],"additionalProperties":False,"properties":{"operator_id":{"type":"string","description":"default: the caller's party"},"name":str_,
   "anchors_pem":{"type":"string","description":"the maker's root CA certificates, PEM"},"intermediates_pem":str_,"crl_urls":arr(str_),"ocsp_urls":arr(str_),
   "manifest_keys_pem":arr({"type":"string","description":"PUBLIC KEY PEM"}),"build_record_keys_pem":arr({"type":"string","description":"PUBLIC KEY PEM"}),"policy":S("MakerPolicy")}},
 "UpdateMaker":{"type":"object","additionalProperties":False,"properties":{"intermediates_pem":str_,"crl_urls":arr(str_),"ocsp_urls":arr(str_),"manifest_keys_pem":arr(str_),"build_record_keys_pem":arr(str_),"policy":S("MakerPolicy")}},
 "MakerCertificate":{"type":"object","properties":{"subject":str_,"not_after":dt,"sha256":str_,"certificate_pem":str_}},
 "Maker":{"type":"object","properties":{"id":str_,"operator_id":str_,"name":str_,"anchors":arr(S("MakerCertificate")),"intermediates":arr(S("MakerCertificate")),
   "crl_urls":arr(str_),"ocsp_urls":arr(str_),"manifest_keys_pem":arr(str_),"build_record_keys_pem":arr(str_),"policy":S("MakerPolicy"),"created_by":str_,"created_at":dt,"updated_at":dt}},
 "Manifest":{"type":"object","properties":{"id":str_,"maker_id":str_,"format":{"type":"string","enum":["dsse","csv"]},"sha256":str_,"entries":{"type":"integer"},"issued_at":dt,
   "state":{"type":"string","enum":["pending","active","superseded","denied"]},"approval_id":str_,"uploaded_by":str_,"uploaded_at":dt,"activated_at":dt}},
 "ManifestResult":{"type":"object","properties":{"manifest":S("Manifest"),"approval":S("Approval")}},
 "MakerSource":{"type":"object","properties":{"kind":{"type":"string","enum":["crl","ocsp"]},"url":str_,"issuer":str_,"outcome":str_,"error":str_,"last_attempt":dt,"last_ok":dt,"held_next_update":dt,"gap":b()}},
 "MakerCheck":{"type":"object","properties":{"started":dt,"elapsed_ms":{"type":"integer"},"crls":{"type":"object","additionalProperties":{"type":"integer"}},"ocsp":{"type":"object","additionalProperties":{"type":"integer"}},
   "devices":{"type":"integer"},"by_crl":{"type":"integer"},"by_ocsp":{"type":"integer"},"unknown":{"type":"integer"},"revoked":{"type":"integer"},"recorded":{"type":"integer"},"sources":arr(S("MakerSource"))}},
 "RevocationEvidence":{"type":"object","properties":{"kind":{"type":"string","enum":["crl","ocsp"]},"url":str_,"this_update":dt,"next_update":dt,"reason":str_,"revoked_at":dt}},
 "DeviceOrigin":{"type":"object","properties":{"maker_id":str_,"maker_name":str_,"serial":str_,"factory_serial":str_,"factory_certificate_pem":str_,"issuer":str_,
   "state":{"type":"string","enum":["good","revoked"]},"revoked_at":dt,"evidence":S("RevocationEvidence"),"created_at":dt}},
})
paths.update({
 "/v1/approvals":{"get":op("Approval requests the caller's party asked for or decides (auditors: all), newest first; expiry is applied as of now",200,page(S("Approval")),params=[q("kind","support-grant, readmit, revoke-ca, onboard, manifest, or a governance change kind (policy-change, ownership-change, sod-change, approval-rule-change, duty-change, environment-change, waiver)"),q("subject","e.g. device:dev_abc"),q("state","pending, approved, ..."),q("limit","at most 1000")],errs=(400,401))},
 "/v1/approvals/{id}":{"get":op("One approval request",200,S("Approval"),params=[pid()],errs=(401,404))},
 "/v1/approvals/{id}/decision":{"post":op("Approve or deny. The decider must be of the approver party, not the requester, not have decided already, and own the approve duty; an approved request's action runs at once",200,S("DecideResult"),"Decision",params=[pid()],errs=(400,401,403,404,409))},
 "/v1/approvals/{id}/execute":{"post":op("Run the action of an approved request that did not run when it was approved",200,S("DecideResult"),params=[pid()],errs=(400,401,404,409))},
 "/v1/approvals/{id}/cancel":{"post":op("Withdraw a pending request, or an approved one whose action did not run (the requester's party)",200,S("Approval"),params=[pid()],errs=(401,403,404,409))},
 "/v1/approval-rules":{"get":op("The rule of every kind of request: approvers, other party, expiry",200,page(S("ApprovalRule")),errs=(401,))},
 "/v1/approval-rules/{kind}":{"put":op("Set the rule of one kind (deployment administrators); pending requests keep theirs",200,S("ApprovalRule"),"SetApprovalRule",params=[pid("kind")],errs=(400,401,403))},
 "/v1/sod-rules":{"get":op("Separation-of-duties rules",200,page(S("SoDRule")),errs=(401,)),
   "post":op("Add a rule (deployment administrators); refused when a principal already breaks it",201,S("SoDRule"),"CreateSoDRule",errs=(400,401,403,409))},
 "/v1/sod-rules/{id}":{"delete":op("Remove a rule (deployment administrators)",204,params=[pid()],errs=(401,403,404))},
 "/v1/principals/{id}/duties":{"get":op("The duties a principal is limited to (empty: all its party's)",200,page(pair_),params=[pid()],errs=(401,404)),
   "put":op("Limit a principal to some of its party's duties, or custody/transfer (empty: lift the limit): an administrator of its party, not itself; refused when it would break a separation-of-duties rule",200,page(pair_),"PrincipalDuties",params=[pid()],errs=(400,401,403,404))},
 "/v1/support/hierarchies":{"post":op("Create an operator's support root and issuing CA (support/approve over the operator)",201,S("Hierarchy"),"CreateSupportHierarchy",errs=(400,401,403,404,409))},
 "/v1/support/grants":{"post":op("Ask for a support grant (support-vendor or manufacturer, support/issue over its own scope); waits for the operator's approval (kind support-grant)",202,S("SupportGrant"),"SupportRequest",errs=(400,401,403,404)),
   "get":op("Support grants the caller's party asked for or operates (auditors: all)",200,page(S("SupportGrant")),params=[q("environment","environment id"),q("device","grants reaching this device"),q("lot","lot id"),q("state","requested, active, denied, revoked")],errs=(401,))},
 "/v1/support/grants/{id}":{"get":op("One grant with its approval and, once issued, its certificate and chain",200,S("SupportGrant"),params=[pid()],errs=(401,404))},
 "/v1/support/grants/{id}/revoke":{"post":op("End an active grant early and revoke its certificate (the operator or the requesting party)",200,S("SupportGrant"),"RevokeGrant",params=[pid()],errs=(400,401,403,404,409))},
 "/v1/reports/gaps":{"get":op("Governance gaps: unowned duties per scope, devices whose current stage has no renewal or revocation owner, environments over a lifetime maximum, support grants without an allowed bound, idle principals, and approvals decided inside the acting party (auditors: all; others: their own scopes)",200,S("GapsReport"),params=[q("idle","principals unused for longer than this are listed: 90d (default) or a Go duration")],errs=(400,401))},
 "/v1/support/check":{"post":op("May this support certificate reach this device now? For gateways and devices: the environment's operator, the requesting party or an auditor",200,S("Reach"),"SupportCheck",errs=(400,401,403))},
})
# IDevID validity (issue 15, point 5): what notAfter a manufacturing issuing CA gives factory certificates.
fv_=lambda d: {"type":"string","enum":["undefined","issuer"],"description":d}
schemas["CA"]["properties"]["factory_validity"]=fv_("a manufacturing issuing CA's: the notAfter of the factory certificates it issues, 99991231235959Z (IEEE 802.1AR) or its own; absent on other CAs")
schemas["CreateHierarchy"]["properties"]["factory_validity"]=fv_("the notAfter of the factory certificates the issuing CA issues, fixed for its life: undefined (99991231235959Z, IEEE 802.1AR; the default) or issuer (the issuing CA's notAfter)")

# --- CA rotation, root rollover and key histories (docs/rotation.md) ---
schemas["CA"]["properties"].update({"successor_id":{"type":"string","description":"the CA that succeeded this one (rotation or rollover)"},"succeeded_at":dt,
  "issues_until":{"type":"string","format":"date-time","description":"end of the overlap: after it a succeeded CA signs only its OCSP responder"}})
schemas.update({
 "RotateCA":{"type":"object","additionalProperties":False,"properties":{"name":{"type":"string","description":"the successor's name (a slug); empty: <name>-<n>"},"overlap":{"type":"string","description":"how long the old CA goes on signing, a Go duration from 0s to 168h; default 1h"}}},
 "CrossCertificate":{"type":"object","properties":{"serial":str_,"subject_ca_id":{"type":"string","description":"the CA whose name and key it certifies"},"issuer_ca_id":{"type":"string","description":"the CA that signed it"},"created_at":dt,"certificate_pem":str_}},
 "Succession":{"type":"object","properties":{"predecessor":S("CA"),"successor":S("CA"),"lots_moved":int_,"environments_moved":int_,"cross_certificates":arr(S("CrossCertificate"))}},
 "BuildRecordKey":{"type":"object","properties":{"id":str_,"party_id":str_,"purpose":str_,"key_id":{"type":"string","description":"the key provider's ID"},
   "keyid":{"type":"string","description":"the DSSE keyid its signatures carry: lowercase hex SHA-256 of the SubjectPublicKeyInfo"},"created_at":dt,"retired_at":dt,"public_key_pem":str_}},
 "AuditKey":{"type":"object","properties":{"key_id":{"type":"string","description":"the key provider's ID"},"verifier_key":{"type":"string","description":"note verifier key '<origin>+<hash>+<base64 Ed25519 key>'"},"created_at":dt,"retired_at":dt}},
 "CAExpiry":{"type":"object","properties":{"ca_id":str_,"name":str_,"party_id":str_,"stage":str_,"role":{"type":"string","enum":["root","issuing","anchor"]},
   "status":{"type":"string","enum":["active","overlap","succeeded","retired","expired","anchor"]},"not_after":dt,"remaining":{"type":"string","description":"a Go duration; negative once expired"},
   "warning":{"type":"string","enum":["90d","30d","7d","expired"],"description":"absent while more than 90 days remain"},"successor_id":str_}},
 "CAExpiryReport":{"type":"object","properties":{"generated_at":dt,"items":arr(S("CAExpiry")),"warnings":{"type":"integer","description":"CAs in service (no successor, not retired) with a warning"}}},
})
schemas["GapsReport"]["properties"]["ca_expiry"]={"type":"array","description":"CAs in service ending within 90 days, or ended, without a successor",
  "items":{"allOf":[S("CAExpiry"),{"type":"object","properties":{"why":str_}}]}}
schemas["GapsReport"]["properties"]["maker_sources"]={"type":"array","description":"revocation sources of makers that do not run Hallmark whose last fetch failed, or that hold no CRL valid now",
  "items":{"type":"object","properties":{"maker_id":str_,"maker_name":str_,"operator_id":str_,"kind":{"type":"string","enum":["crl","ocsp"]},"url":str_,"issuer":str_,
    "outcome":{"type":"string","enum":["ok","stale","bad_signature","oversized","unreachable","parse_error","invalid","responder_error"]},"error":str_,
    "since":{"type":"string","format":"date-time","description":"since when the source gives no fresh answer: the first failed fetch in a row, or the held CRL's nextUpdate"},
    "last_attempt":dt,"last_ok":dt,"held_until":{"type":"string","format":"date-time","description":"nextUpdate of the last good CRL, still used until then"},"why":str_}}}
schemas["GapsReport"]["properties"]["change_rules"]={"type":"array","description":"parties' change rules that no change can meet: whichever enabled principal proposes, too few others independent of it may approve",
  "items":{"type":"object","properties":{"party_id":str_,"kind":{"type":"string","description":"a governance change kind, e.g. policy-change"},
    "quorum":{"type":"string","description":"the rule's quorum, e.g. 1 of *"},"stored":{"type":"boolean","description":"false: the built-in default rule"},"why":str_}}}
schemas["GapsReport"]["properties"]["handover"]={"type":"array","description":"enabled principals of parties whose only working tokens a deployment administrator minted (a first administrator's, or under break-glass): the hand-over was never completed by a rotation of the party's; auditor parties first",
  "items":{"type":"object","properties":{"party_id":str_,"principal_id":str_,"name":str_,"admin":{"type":"boolean"},"token_id":{"type":"string","description":"the hand-over token that works longest"},
    "minted_by":{"type":"string","description":"the deployment administrator that minted it"},"minted_at":dt,"expires_at":dt,
    "auditor":{"type":"boolean","description":"the party owns an audit cell over the deployment scope: whoever holds the token reads every device"},"why":str_}}}
paths["/v1/reports/gaps"]["get"]["summary"]="Governance gaps: unowned duties per scope, devices whose current stage has no renewal or revocation owner, environments over a lifetime maximum, support grants without an allowed bound, idle principals, approvals decided inside the acting party, CAs ending within 90 days without a successor, revocation sources of registered makers that fail or are stale, change rules no change can meet, principals whose only working tokens a deployment administrator minted (hand-over not completed), and environments whose SPIFFE trust domain another operator holds (auditors: all; others: their own scopes; hand-overs also to deployment administrators, and an auditor party's to everyone; a trust-domain gap also to the holder, without the environment)"
schemas["GapsReport"]["properties"]["trust_domains"]={"type":"array","description":"environments whose SPIFFE trust domain another operator holds (it named the domain first; both named it before trust domains were claimed): their SPIFFE IDs are in the holder's domain. The environment's operator sees the environment without the holder; the holder sees the domain without the environment; auditors see both",
  "items":{"type":"object","properties":{"trust_domain":str_,"environment_id":str_,"name":{"type":"string","description":"the environment's name"},"operator_id":{"type":"string","description":"the environment's operator"},
    "holder_id":{"type":"string","description":"the operator that holds the trust domain"},"why":str_}}}
# a manufacturer's signed device manifest, for operators that register it as a maker (issue 15)
schemas.update({
 "SignManifest":{"type":"object","required":["lot_ids"],"additionalProperties":False,"properties":{"lot_ids":{"type":"array","items":str_,"minItems":1,"maxItems":100}}},
 "SignedManifest":{"type":"object","properties":{"manufacturer_id":str_,"lot_ids":arr(str_),"devices":{"type":"integer"},"sha256":{"type":"string","description":"SHA-256 of the envelope, hex"},
   "envelope":{"type":"object","description":"the DSSE envelope (payload type application/vnd.hallmark.manifest+json) that POST /v1/makers/{id}/manifests imports"}}},
})
paths.update({
 "/v1/manufacturers/{id}/manifest":{"post":op("Sign the device manifest of some of the manufacturer's lots (their devices whose factory certificate is good, by serial and key) with its build-record key, for the operators that register this deployment as a maker (the manufacturer's principals only; audited)",200,S("SignedManifest"),"SignManifest",params=[pid()],errs=(400,401,403,404))},
})
def optional_body(o):
  o["requestBody"]["required"]=False
  return o
paths.update({
 "/v1/cas/{id}/rotate":{"post":optional_body(op("Rotate an issuing CA: a successor under the newest root of its line takes its lots and environments; it signs until the end of the overlap (the duty that creates the CA: manufacturing/issue, operational/issue or support/approve)",201,S("Succession"),"RotateCA",params=[pid()],errs=(400,401,403,404,409)))},
 "/v1/cas/{id}/rollover":{"post":optional_body(op("Roll a root over: a new root of the same name and both cross-certificates (the duty that creates the CA)",201,S("Succession"),"RotateCA",params=[pid()],errs=(400,401,403,404,409)))},
 "/v1/cas/{id}/chain":{"get":op("A CA's certificate, the CAs above it, and the cross-certificates of its root's line, PEM (public)",200,pem,errs=(404,),public=True,params=[pid()],okctype="application/x-pem-file")},
 "/v1/manufacturers/{id}/build-record-key/rotate":{"post":op("Rotate a manufacturer's build-record key; the old key stays in the key history (manufacturing/issue on the manufacturer)",201,S("BuildRecordKey"),params=[pid()],errs=(400,401,403,404,409))},
 "/v1/manufacturers/{id}/build-record-keys":{"get":op("A manufacturer's build-record key history: PUBLIC KEY PEM blocks, the current key first (public)",200,pem,errs=(404,),public=True,params=[pid()],okctype="application/x-pem-file")},
 "/v1/audit/keys":{"get":op("The checkpoint key history: one note verifier key a line, the current key first (public)",200,{"type":"string"},errs=(),public=True,okctype="text/plain")},
 "/v1/audit/key/rotate":{"post":op("Rotate the checkpoint key; the first checkpoint after it is signed by both keys (deployment administrators)",201,S("AuditKey"),errs=(401,403,409))},
 "/v1/reports/ca-expiry":{"get":op("CA expiry: every CA's end with warnings at 90, 30 and 7 days, soonest first (auditors and deployment administrators: all; others: their party's)",200,S("CAExpiryReport"),errs=(401,))},
})
# Sign-in with OpenID Connect (issue 16, point 1; docs/signin.md).
session_={"type":"object","properties":{"id":str_,"principal_id":str_,"party_id":str_,"method":{"type":"string","enum":["oidc","dev"]},"created_at":dt,"expires_at":dt,"revoked_at":dt}}
schemas.update({
 "SigninProviderRequest":{"type":"object","required":["issuer","client_id"],"additionalProperties":False,"properties":{"issuer":{"type":"string","description":"https, or http on loopback"},"client_id":str_,
   "client_secret_env":{"type":"string","description":"the server's environment variable holding the client secret; empty for a public client"},"claim":{"type":"string","description":"the ID token claim naming a person; default sub"},"redirect_uris":arr(str_)}},
 "SigninProvider":{"type":"object","properties":{"party_id":str_,"issuer":str_,"client_id":str_,"client_secret_env":str_,"claim":str_,"redirect_uris":arr(str_),"updated_by":str_,"updated_at":dt}},
 "BindRequest":{"type":"object","required":["principal_id"],"additionalProperties":False,"properties":{"principal_id":str_}},
 "SigninBinding":{"type":"object","properties":{"party_id":str_,"value":str_,"principal_id":str_,"created_by":str_,"created_at":dt}},
 "SigninStartRequest":{"type":"object","required":["party","redirect_uri"],"additionalProperties":False,"properties":{"party":str_,"redirect_uri":{"type":"string","description":"loopback http (RFC 8252) or registered for the party"}}},
 "SigninStart":{"type":"object","properties":{"authorization_url":str_,"state":str_,"expires_at":dt}},
 "SigninFinishRequest":{"type":"object","required":["state","code"],"additionalProperties":False,"properties":{"state":str_,"code":str_}},
 "DevSigninRequest":{"type":"object","required":["person"],"additionalProperties":False,"properties":{"person":{"type":"string","example":"acme/alice"}}},
 "Session":session_,
 "SessionWithToken":{"type":"object","properties":{"token":{"type":"string","description":"hms_..., shown once"},"session":S("Session"),"dev":b()}},
})
paths.update({
 "/v1/auth/providers/{party}":{"put":op("Register or replace the party's OpenID Connect provider (administrators of that party)",200,S("SigninProvider"),"SigninProviderRequest",params=[pid("party")],errs=(400,401,403,404)),
   "get":op("The party's provider (its principals)",200,S("SigninProvider"),params=[pid("party")],errs=(401,404))},
 "/v1/auth/providers/{party}/bindings":{"get":op("Claim values bound to the party's principals (administrators of that party)",200,page(S("SigninBinding")),params=[pid("party")],errs=(401,403))},
 "/v1/auth/providers/{party}/bindings/{value}":{"put":op("Bind a claim value to a principal of the party (administrators of that party)",200,S("SigninBinding"),"BindRequest",params=[pid("party"),pid("value")],errs=(400,401,403)),
   "delete":op("Remove a binding (administrators of that party)",204,params=[pid("party"),pid("value")],errs=(401,403,404))},
 "/v1/auth/start":{"post":op("Begin a sign-in: the provider's authorization URL with state, nonce and an S256 PKCE challenge",200,S("SigninStart"),"SigninStartRequest",public=True,errs=(400,404,413))},
 "/v1/auth/finish":{"post":op("Finish a sign-in with the state and code the provider returned: the ID token is verified and mapped to a bound principal of the party",201,S("SessionWithToken"),"SigninFinishRequest",public=True,errs=(400,401,403,413))},
 "/v1/auth/sessions/{id}":{"delete":op("Revoke a session (its principal, or an administrator of its party)",200,S("Session"),params=[pid()],errs=(401,404,409))},
 "/v1/auth/dev":{"post":op("serve --dev only, loopback only: sign in as a demo person without any provider; the answer is marked dev",201,S("SessionWithToken"),"DevSigninRequest",public=True,errs=(400,403,404))},
})
# Refusals (issue 17, point 1): refusal audit events, coalesced per caller, subject, reason and rule.
schemas.update({
 "Refusal":{"type":"object","properties":{"seq":{"type":"integer"},"at":dt,"party_id":str_,"principal_id":str_,"scope":str_,"subject":{"type":"string","example":"device:dev_abc"},
   "reason":{"type":"string","description":"not-owner, sod, policy, manifest, or a problem kind (denied, invalid, not-found, ...)"},
   "rule":{"type":"string","example":"ownership:operational/revoke"},"count":{"type":"integer"},"first_at":dt,"last_at":dt,
   "via":{"type":"string","enum":["api","est","brski"]},"operation":str_,"certificate":{"type":"string","description":"the serial an EST client presented"},"message":str_}},
 "RefusalReport":{"type":"object","properties":{"since":dt,"by_reason":arr({"type":"object","properties":{"reason":str_,"count":{"type":"integer"}}}),"items":arr(S("Refusal"))}},
})
paths.update({
 "/v1/reports/refusals":{"get":op("Refusals of authenticated callers (API denials and EST 4xx), newest first, with totals by reason: auditors see all, others (deployment administrators included) their own principals' refusals; with device, that device's refusal history for whoever may see it",200,S("RefusalReport"),
   params=[q("device","one device's refusals"),q("since","RFC 3339 time; default seven days ago"),q("limit","1-1000")],errs=(400,401,404))},
})

# --- the end of a device's stay in an environment (issue 17) ---
schemas["ReleaseRequest"]={"type":"object","additionalProperties":False,"properties":{"note":{"type":"string","maxLength":1000,"description":"why, for the audit log"}}}
paths.update({
 "/v1/devices/{id}/release":{"post":op("Release an active, suspended or quarantined device from its environment so that custody can move: its operational certificate, if valid or on hold, is revoked as cessationOfOperation; the device becomes released (its environment and that certificate stay on record); its factory identity is untouched (operational/revoke, by the operator holding the device)",200,S("Device"),"ReleaseRequest",params=[pid()],errs=(400,401,403,404,409))},
 "/v1/devices/{id}/decommission":{"post":op("Take a device out of service: the same transition as release, recorded as a decommissioning",200,S("Device"),"ReleaseRequest",params=[pid()],errs=(400,401,403,404,409))},
})
paths.update({
 "/v1/makers":{"post":op("Register a maker that does not run Hallmark: anchors, intermediates, revocation sources, manifest keys and onboarding policy (the owner of operational/issue over the operator)",201,S("Maker"),"RegisterMaker",errs=(400,401,403,404,409,413)),
   "get":op("The makers of an operator (the caller's party by default; auditors any)",200,page(S("Maker")),params=[q("operator","operator party id")],errs=(401,403))},
 "/v1/makers/{id}":{"get":op("One maker",200,S("Maker"),params=[pid()],errs=(401,404)),
   "patch":op("Change a maker's intermediates, sources, manifest keys or policy; audited with the settings before and after",200,S("Maker"),"UpdateMaker",params=[pid()],errs=(400,401,403,404))},
 "/v1/makers/{id}/manifests":{"post":{"summary":"Upload a device manifest: a DSSE envelope signed by a registered key (application/json; active at once) or a CSV (text/csv; active once another principal approves it, kind manifest)",
     "parameters":[pid(),q("reason","for a CSV: why the approvers should trust it")],
     "requestBody":{"required":True,"content":{"application/json":{"schema":{"type":"object","description":"DSSE envelope"}},"text/csv":{"schema":{"type":"string"}}}},
     "responses":dict({"201":{"description":"a signed manifest, active","content":{"application/json":{"schema":S("ManifestResult")}}},
       "202":{"description":"a CSV, waiting for its approval","content":{"application/json":{"schema":S("ManifestResult")}}}},**err(400,401,403,404,409,413))},
   "get":op("A maker's manifests, newest first",200,page(S("Manifest")),params=[pid()],errs=(401,404))},
 "/v1/makers/{id}/check":{"post":op("Run the revocation status watcher for this maker now: fetch its CRLs, check every device onboarded of it, suspend those it revoked (503 when this server runs no watcher)",200,S("MakerCheck"),params=[pid()],errs=(401,403,404))},
})
# --- custody vouchers between deployments (issue 18, point 1; docs/vouchers.md) ---
schemas.update({
 "RegisterCustodyKey":{"type":"object","required":["name","public_key_pem"],"additionalProperties":False,"properties":{"name":str_,"public_key_pem":{"type":"string","description":"PUBLIC KEY PEM: ECDSA P-256, P-384 or Ed25519"}}},
 "CustodyKey":{"type":"object","properties":{"key_id":{"type":"string","description":"hex SHA-256 of the SubjectPublicKeyInfo"},"party_id":str_,"name":str_,"public_key_pem":str_,"created_by":str_,"created_at":dt}},
 "ExportVoucher":{"type":"object","required":["device_ids","to","to_key_pem"],"additionalProperties":False,"properties":{"device_ids":arr(str_),"to":{"type":"string","description":"the receiver's name"},
   "to_key_pem":{"type":"string","description":"the receiver's PUBLIC KEY PEM: the voucher is addressed to it"},"ttl":{"type":"string","description":"Go duration; default 720h, at most 8784h","example":"720h"}}},
 "CustodyVoucher":{"type":"object","properties":{"id":str_,"party_id":str_,"direction":{"type":"string","enum":["export","import"]},"maker_id":str_,"sha256":str_,"devices":{"type":"integer"},
   "final_link":{"type":"string","description":"hex SHA-256 of the last link's payload"},"addressee_key_id":str_,"created_by":str_,"created_at":dt,"file":{"type":"string","description":"the voucher file (JSON text): in an export's answer and in GET by id"}}},
 "ImportedVoucher":{"type":"object","properties":{"voucher":S("CustodyVoucher"),"maker_id":str_,"maker_name":str_,"device_ids":arr(str_)}},
})
paths.update({
 "/v1/custody/keys":{"post":op("Register a public key custody vouchers for the caller's party may be addressed to (custody/transfer duty); audited",201,S("CustodyKey"),"RegisterCustodyKey",errs=(400,401,403,409)),
   "get":op("The caller's party's custody keys",200,page(S("CustodyKey")),errs=(401,))},
 "/v1/custody/vouchers/export":{"post":op("Export devices the caller's party holds (made here, registered or released) in a custody voucher addressed to the receiver's key; the first link is signed by the manufacturer's build-record key; the devices become handed-off; audited",201,S("CustodyVoucher"),"ExportVoucher",errs=(400,401,403,404,409))},
 "/v1/custody/vouchers/import":{"post":{"summary":"Import a custody voucher (the file itself, application/json): verified offline against a maker registered for the caller's party, addressed to one of its custody keys, never imported before, no factory certificate revoked; creates the devices held by the caller's party; audited",
     "requestBody":{"required":True,"content":{"application/json":{"schema":{"type":"object","description":"a custody voucher file (docs/vouchers.md)"}}}},
     "responses":dict({"201":{"description":"imported","content":{"application/json":{"schema":S("ImportedVoucher")}}}},**err(400,401,403,409,413))}},
 "/v1/custody/vouchers":{"get":op("The custody vouchers the caller's party exported or imported, newest first",200,page(S("CustodyVoucher")),errs=(401,))},
 "/v1/custody/vouchers/{id}":{"get":op("One custody voucher of the caller's party, with its file",200,S("CustodyVoucher"),params=[pid()],errs=(401,404))},
})

# --- governance changes under approval (issue 17, point 2; docs/governance.md) ---
change_kinds_=["policy-change","ownership-change","sod-change","approval-rule-change","duty-change","environment-change","waiver"]
kind_["enum"]=kind_["enum"]+[k for k in ["manifest"]+change_kinds_ if k not in kind_["enum"]]
need_={"type":"object","properties":{"group":{"type":"string","description":"an approver group of the party, or * (any principal of the party other than the proposer)"},"approvals":{"type":"integer","minimum":1,"maximum":16}}}
schemas["Approval"]["properties"]["quorum"]=arr({"type":"object","description":"a governance change's n-of-m seats","properties":{"group":str_,"approvals":int_,"members":arr(str_)}})
schemas["Approval"]["properties"]["decisions"]["items"]["properties"]["group"]={"type":"string","description":"the approver group whose seat the decision took"}
schemas.update({
 "ChangeRule":{"type":"object","properties":{"party_id":str_,"kind":{"type":"string","enum":change_kinds_},"quorum":arr(need_),"expiry":str_,"stored":{"type":"boolean","description":"false: the built-in default (policy-change and waiver: 1 of *; others: none)"}}},
 "SetChangeRule":{"type":"object","required":["quorum"],"additionalProperties":False,"properties":{"quorum":arr(need_),"expiry":{"type":"string","example":"72h"},"reason":str_}},
 "ApproverGroup":{"type":"object","properties":{"party_id":str_,"name":str_,"members":arr({"type":"string","description":"principal id"})}},
 "SetApproverGroup":{"type":"object","required":["members"],"additionalProperties":False,"properties":{"members":arr(str_),"reason":str_}},
 "EnvironmentUpdate":{"type":"object","additionalProperties":False,"description":"absent fields keep their value","properties":{"lifetime":{"type":"string","example":"24h"},"max_age":{"type":"string","example":"720h"},"services":arr(str_),"issuing_ca_id":str_,"reason":str_}},
 "WaiverRequest":{"type":"object","required":["device_id","rule","reason","for"],"additionalProperties":False,"properties":{"device_id":str_,"rule":{"type":"string","description":"a rule name of the device's environment's current renewal policy"},"reason":str_,"for":{"type":"string","example":"72h","description":"1m to 2160h, from approval"}}},
 "Waiver":{"type":"object","properties":{"id":str_,"party_id":str_,"device_id":str_,"environment_id":str_,"rule":str_,"reason":str_,"approval_id":str_,"requested_by":str_,"not_after":dt,"created_at":dt,"active":b()}},
 "DryRunRequest":{"type":"object","required":["policy"],"additionalProperties":False,"properties":{"policy":{"type":"object","description":"the proposed policy, as PUT .../policies/{kind} takes it"},"after":{"type":"string","description":"the next of the previous page"},"limit":{"type":"integer","minimum":1,"maximum":1000,"description":"default 500"}}},
 "DryRunResult":{"type":"object","properties":{"environment_id":str_,"kind":str_,"evaluated":int_,"refused":arr({"type":"object","properties":{"device_id":str_,"serial":str_,
   "failed":arr({"type":"object","properties":{"rule":str_,"message":str_,"error":str_}}),"waived":arr(str_)}}),"next":{"type":"string","description":"pass as after for the next page; absent on the last"}}},
})
pending_={"description":"the party's rule needs approval: the pending approval request; the change applies when approved","content":{"application/json":{"schema":S("Approval")}}}
def governed(o):
  o["responses"]["202"]=pending_
  return o
for path, method in [("/v1/environments/{id}/policies/{kind}","put"),("/v1/ownership","put"),("/v1/ownership","delete"),("/v1/sod-rules","post"),("/v1/sod-rules/{id}","delete"),("/v1/principals/{id}/duties","put"),("/v1/approval-rules/{kind}","put")]:
  governed(paths[path][method])
paths.update({
 "/v1/parties/{id}/change-rules":{"get":op("The party's rule for every kind of governance change (its principals, deployment administrators, auditors)",200,page(S("ChangeRule")),params=[pid()],errs=(401,404))},
 "/v1/parties/{id}/change-rules/{kind}":{"put":governed(op("Set the party's rule for one kind of change: n-of-m approvals over named approver groups (administrators of the party); itself governed under the party's approval-rule-change rule, or the rule it replaces",200,S("ChangeRule"),"SetChangeRule",params=[pid(),pid("kind")],errs=(400,401,403,404)))},
 "/v1/parties/{id}/approver-groups":{"get":op("The party's approver groups",200,page(S("ApproverGroup")),params=[pid()],errs=(401,404))},
 "/v1/parties/{id}/approver-groups/{name}":{"put":governed(op("Create or replace an approver group of the party's principals (administrators of the party); governed as an approval-rule-change",200,S("ApproverGroup"),"SetApproverGroup",params=[pid(),pid("name")],errs=(400,401,403,404)))},
 "/v1/environments/{id}/policies/{kind}/dry-run":{"post":op("Evaluate a proposed renewal policy on one page of the environment's active devices, as their next renewal would be decided now: the devices it would refuse and the rules that would (the operator and auditors); nothing is stored",200,S("DryRunResult"),"DryRunRequest",params=[pid(),pid("kind")],errs=(400,401,404))},
 "/v1/waivers":{"post":governed(op("Ask for a time-bound exception to one renewal policy rule for one device (operational/issue over its environment); governed under the operator's waiver rule, by default one other principal",201,S("Waiver"),"WaiverRequest",errs=(400,401,403,404))),
   "get":op("The waivers report: waivers of the environments the caller's party operates (auditors: all), newest first",200,page(S("Waiver")),params=[q("device","one device's waivers"),q("active","true: only waivers that still hold")],errs=(401,))},
})
paths["/v1/environments/{id}"]["patch"]=governed(op("Change an environment's lifetime, max age, services or issuing CA (operational/issue over it); governed under the operator's environment-change rule and audited with the values before and after",200,S("EnvironmentView"),"EnvironmentUpdate",params=[pid()],errs=(400,401,403,404)))
# --- repair (issue 17, point 3; docs/governance.md): a new build record and factory identity ---
schemas["RepairRequest"]={"type":"object","required":["csr","build_record","reason"],"additionalProperties":False,"properties":{
  "csr":{"type":"string","description":"PKCS#10, PEM or base64 DER; the key may be new"},"build_record":S("BuildRecord"),
  "reason":{"type":"string","maxLength":1024,"description":"what was repaired, for the approvers and the audit log"}}}
schemas["RepairResult"]={"type":"object","properties":{"device":S("Device"),"approval":S("Approval")}}
schemas["FactoryLink"]={"type":"object","description":"one factory identity of a device: the one it was made with, then one per repair","properties":{
  "serial":{"type":"string"},"state":{"type":"string"},"revocation_reason":{"type":"string"},"issued_at":{"type":"string","format":"date-time"},
  "revoked_at":{"type":"string","format":"date-time"},"build_record_sha256":{"type":"string","description":"the build record the certificate binds (hex)"},
  "superseded_by":{"type":"string","description":"the factory identity that replaced this one"},"current":{"type":"boolean"}}}
schemas["DeviceView"]["allOf"][1]["properties"]["factory_lineage"]=arr(S("FactoryLink"))
paths["/v1/devices/{id}/repair"]={"post":op("Ask for a repaired device's new build record and factory identity (manufacturing/issue on its lot, by the party holding it; registered, released or quarantined devices). It waits for an approval (kind repair) by the party owning manufacturing/approve over the lot; once approved the old factory identity is revoked as superseded, the device carries the new one and keeps its lineage",202,S("RepairResult"),"RepairRequest",params=[pid()],errs=(400,401,403,404,409))}
# --- reorigin (docs/external-makers.md): a maker's re-issued factory certificate for its device ---
schemas["ReoriginRequest"]={"type":"object","required":["certificate","reason"],"additionalProperties":False,"properties":{
  "certificate":{"type":"string","description":"the maker's new factory certificate of the device, PEM, optionally followed by its chain"},
  "reason":{"type":"string","maxLength":1024,"description":"why the maker re-issued it (repair, new key, expiry), for the approvers and the audit log"}}}
schemas["ReoriginResult"]={"type":"object","properties":{"device":S("Device"),"approval":S("Approval")}}
paths["/v1/devices/{id}/origin"]={"post":op("Ask to make a maker's re-issued factory certificate the current one of a maker's device (operational/issue over its environment, by the custodian). The certificate is checked as a first onboarding checks it (chain to the maker's registered anchor, valid now, the maker's policy, CRL/OCSP, manifest) and must name the same device serial and model and be no older than the current certificate; refusals name a rule origin:* (409 origin:pending-other while a request for another certificate waits). It waits for an approval (kind reorigin) by the party owning operational/approve; once approved the checks run again and, over the certificate the approvers saw (else origin:stale), the origin holds the new certificate (audit event device.reorigin keeps the old one; a refusal then is device.reorigin.refused); nothing else changes",202,S("ReoriginResult"),"ReoriginRequest",params=[pid()],errs=(400,401,403,404,409))}
# --- signed reports (issue 17, point 7; docs/reports.md): ?signed=1 on every report ---
schemas["SignedReport"]={"type":"object","required":["payloadType","payload","signatures"],
  "description":"DSSE envelope (payloadType application/vnd.hallmark.report+json): the payload is {type, report, query, checkpoint, log_size_before, signed_at, body}, body being the report as the unsigned request returns it and checkpoint the signed audit checkpoint it was computed at; signed with the checkpoint key (keyid <origin>+<key hash>). Check it with hallmark report verify",
  "properties":{"payloadType":{"type":"string"},"payload":{"type":"string","contentEncoding":"base64"},
    "signatures":arr(S("DSSESignature"))}}
schemas["DSSESignature"]={"type":"object","required":["keyid","sig"],"properties":{"keyid":{"type":"string"},"sig":{"type":"string","contentEncoding":"base64"}}}
for path,item in paths.items():
  if not path.startswith("/v1/reports/"): continue
  o=item["get"]
  o.setdefault("parameters",[]).append(q("signed","1: answer a SignedReport (DSSE envelope naming the audit checkpoint) instead of the report"))
  c=o["responses"]["200"]["content"]["application/json"]
  c["schema"]={"oneOf":[c["schema"],S("SignedReport")]}
open(OUT,'w').write(json.dumps(doc,indent=1)+"\n")
