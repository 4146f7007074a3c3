package httpapi

import (
	"encoding/json"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/hallmark-id/hallmark/api"
)

// openAPISchemas names the Go type of package api that each schema of openapi.json
// describes. Every object schema must be listed here, or in openAPIDocuments.
var openAPISchemas = map[string]any{
	"SigninProviderRequest": api.SigninProviderRequest{}, "SigninProvider": api.SigninProvider{}, "BindRequest": api.BindRequest{},
	"SigninBinding": api.SigninBinding{}, "SigninStartRequest": api.SigninStartRequest{}, "SigninStart": api.SigninStart{},
	"SigninFinishRequest": api.SigninFinishRequest{}, "DevSigninRequest": api.DevSigninRequest{}, "Session": api.Session{},
	"SessionWithToken": api.SessionWithToken{},
	"Problem":          api.Problem{}, "Party": api.Party{}, "CreateParty": api.CreatePartyRequest{}, "Principal": api.Principal{},
	"CreatePrincipal": api.CreatePrincipalRequest{}, "PrincipalWithToken": api.CreatedPrincipal{}, "Cell": api.Cell{},
	"PrincipalDuties": api.SetDutiesRequest{}, "CA": api.CA{}, "Hierarchy": api.Hierarchy{},
	"CreateHierarchy": api.CreateHierarchyRequest{}, "ImportCA": api.ImportCARequest{}, "RegisterAnchor": api.RegisterAnchorRequest{},
	"Model": api.Model{}, "CreateModel": api.CreateModelRequest{}, "Lot": api.Lot{}, "CreateLot": api.CreateLotRequest{},
	"Digest": api.Digest{}, "BuildRecord": api.BuildRecord{}, "IssueFactory": api.IssueFactoryRequest{}, "Device": api.Device{},
	"DevicePage": api.DevicePage{}, "FactoryIdentity": api.FactoryIdentity{}, "Certificate": api.Certificate{},
	"DeviceView": api.DeviceView{}, "CustodyLink": api.CustodyLink{}, "Offer": api.OfferRequest{}, "Transfer": api.Transfer{},
	"IDPage": api.IDPage{}, "AuditEvent": api.AuditEvent{}, "InclusionProof": api.InclusionProof{},
	"ConsistencyProof": api.ConsistencyProof{}, "LeafHashes": api.LeafHashes{},
	"Reconciliation": api.Reconciliation{}, "Disagreement": api.Disagreement{},
	"SignedReport": api.SignedReport{}, "DSSESignature": api.DSSESignature{},
	"RepairRequest": api.RepairRequest{}, "ReoriginRequest": api.ReoriginRequest{}, "ReoriginResult": api.ReoriginResult{}, "RepairResult": api.RepairResult{}, "FactoryLink": api.FactoryLink{},
	"CreateOperationalHierarchy": api.CreateOperationalHierarchyRequest{}, "CreateEnvironment": api.CreateEnvironmentRequest{},
	"Environment": api.Environment{}, "EnvironmentView": api.EnvironmentView{}, "PolicyVersion": api.PolicyVersion{}, "PolicyVersionList": api.PolicyVersionList{},
	"Challenge": api.Challenge{}, "ChallengeRequest": api.ChallengeRequest{}, "Proof": api.Proof{}, "Facts": api.Facts{}, "Onboard": api.OnboardRequest{},
	"Renew": api.RenewRequest{}, "Identity": api.Identity{}, "Evidence": api.Evidence{}, "RuntimeRevoke": api.RevokeRequest{},
	"ReadmitRequest": api.ReadmitRequest{}, "ReadmitResult": api.ReadmitResult{}, "FactorySelector": api.FactorySelector{},
	"FactoryRevoke": api.FactoryRevokeRequest{}, "FactoryRevokeResult": api.FactoryRevokeResult{},
	"RevocationCascade": api.RevocationCascade{}, "InventoryReport": api.InventoryPage{}, "RotationReport": api.Rotation{},
	"SummaryReport": api.Summary{}, "ExpiringReport": api.ExpiringReport{}, "DriftReport": api.DriftReport{},
	"StandardsReport": api.StandardsReport{}, "GapsReport": api.GapsReport{}, "Approval": api.Approval{}, "SignedManifest": api.SignedManifest{}, "SignManifest": api.SignManifestRequest{},
	"Decision": api.Decision{}, "DecideResult": api.DecideResult{}, "ApprovalRule": api.ApprovalRule{},
	"SetApprovalRule": api.SetApprovalRuleRequest{}, "SoDRule": api.SoDRule{}, "CreateSoDRule": api.SoDRuleRequest{},
	"CreateSupportHierarchy": api.CreateSupportHierarchyRequest{}, "SupportRequest": api.SupportRequest{},
	"Grant": api.Grant{}, "SupportGrant": api.SupportGrant{}, "RevokeGrant": api.RevokeGrantRequest{}, "SupportCheck": api.SupportCheckRequest{},
	"Reach": api.Reach{}, "RotateCA": api.RotateCARequest{}, "CrossCertificate": api.CrossCert{}, "Succession": api.Succession{},
	"BuildRecordKey": api.BuildRecordKey{}, "AuditKey": api.AuditKey{}, "CAExpiry": api.CAExpiry{}, "CAExpiryReport": api.CAExpiryReport{},
	"Refusal": api.Refusal{}, "RefusalReport": api.RefusalReport{},
	"ReleaseRequest": api.ReleaseRequest{},
	"MakerPolicy":    api.MakerPolicy{}, "RegisterMaker": api.RegisterMakerRequest{}, "UpdateMaker": api.UpdateMakerRequest{},
	"MakerCertificate": api.MakerCertificate{}, "Maker": api.Maker{}, "Manifest": api.Manifest{}, "ManifestResult": api.ManifestResult{},
	"RegisterCustodyKey": api.RegisterCustodyKeyRequest{}, "CustodyKey": api.CustodyKey{}, "ExportVoucher": api.ExportVoucherRequest{},
	"CustodyVoucher": api.CustodyVoucher{}, "ImportedVoucher": api.ImportedVoucher{},
	"MakerSource": api.MakerSource{}, "MakerCheck": api.MakerCheck{}, "RevocationEvidence": api.RevocationEvidence{}, "DeviceOrigin": api.DeviceOrigin{},
	"PrincipalToken": api.PrincipalToken{}, "IssuedToken": api.IssuedToken{}, "RotateToken": api.RotateTokenRequest{},
	"AccessRequest": api.AccessRequest{}, "Access": api.Access{}, "AccessDecision": api.AccessDecision{},
	"ChangeRule": api.ChangeRule{}, "SetChangeRule": api.SetChangeRuleRequest{}, "ApproverGroup": api.ApproverGroup{},
	"SetApproverGroup": api.SetApproverGroupRequest{}, "EnvironmentUpdate": api.EnvironmentUpdate{}, "WaiverRequest": api.WaiverRequest{},
	"Waiver": api.Waiver{}, "DryRunRequest": api.DryRunRequest{}, "DryRunResult": api.DryRunResult{},
}

// openAPIDocuments are schemas that describe no api struct: an enumeration, and the policy
// document that the API carries as raw JSON (api.PolicyVersion.Spec, api.CreateEnvironmentRequest).
var openAPIDocuments = []string{"PartyKind", "PolicySpec"}

type schema struct {
	Ref        string             `json:"$ref"`
	Type       any                `json:"type"`
	Properties map[string]*schema `json:"properties"`
	Items      *schema            `json:"items"`
	AllOf      []*schema          `json:"allOf"`
	Required   []string           `json:"required"`
}

// TestOpenAPISchemasMatchAPITypes checks every schema of openapi.json against the api type it
// describes: the same members (names as the JSON tags give them, embedded structs flattened),
// nested objects and arrays alike, a member marked required never omitted when empty, and the
// JSON types (string, integer, number, boolean, array, object) in agreement.
func TestOpenAPISchemasMatchAPITypes(t *testing.T) {
	var doc struct {
		Components struct {
			Schemas map[string]*schema `json:"schemas"`
		} `json:"components"`
	}
	if err := json.Unmarshal(OpenAPI, &doc); err != nil {
		t.Fatal(err)
	}
	all := doc.Components.Schemas
	for name, s := range all {
		v, ok := openAPISchemas[name]
		if !ok {
			if !slices.Contains(openAPIDocuments, name) {
				t.Errorf("schema %s describes no api type: add it to openAPISchemas", name)
			}
			continue
		}
		compareSchema(t, all, name, s, reflect.TypeOf(v))
	}
	for name := range openAPISchemas {
		if all[name] == nil {
			t.Errorf("openAPISchemas names %s, which openapi.json does not define", name)
		}
	}
}

// TestEveryAPITypeIsInOpenAPI: every struct of package api is a schema of openapi.json or a
// member of one (Page is the generic list wrapper, written inline).
func TestEveryAPITypeIsInOpenAPI(t *testing.T) {
	described := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || described[t] {
			return
		}
		described[t] = true
		for i := range t.NumField() {
			walk(t.Field(i).Type)
		}
	}
	for _, v := range openAPISchemas {
		walk(reflect.TypeOf(v))
	}
	names := map[string]bool{}
	for t := range described {
		if t.PkgPath() == "github.com/hallmark-id/hallmark/api" {
			names[t.Name()] = true
		}
	}
	fset := token.NewFileSet()
	entries, err := os.ReadDir("../../api")
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join("../../api", e.Name()), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	checked := 0
	for _, f := range files {
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok {
				continue
			}
			for _, sp := range g.Specs {
				ts, ok := sp.(*ast.TypeSpec)
				if !ok || ts.TypeParams != nil {
					continue
				}
				if _, isStruct := ts.Type.(*ast.StructType); !isStruct {
					continue
				}
				checked++
				if !names[ts.Name.Name] {
					t.Errorf("api.%s is in no schema of openapi.json", ts.Name.Name)
				}
			}
		}
	}
	if checked < 50 {
		t.Fatalf("found only %d struct types in package api", checked)
	}
}

// resolve follows $ref and merges allOf into one object schema.
func resolve(t *testing.T, all map[string]*schema, s *schema) *schema {
	t.Helper()
	if s.Ref != "" {
		target := all[strings.TrimPrefix(s.Ref, "#/components/schemas/")]
		if target == nil {
			t.Fatalf("dangling $ref %s", s.Ref)
		}
		return resolve(t, all, target)
	}
	if len(s.AllOf) == 0 {
		return s
	}
	out := &schema{Type: "object", Properties: map[string]*schema{}}
	for _, part := range s.AllOf {
		r := resolve(t, all, part)
		for k, v := range r.Properties {
			out.Properties[k] = v
		}
		out.Required = append(out.Required, r.Required...)
	}
	return out
}

// field is one JSON member of a Go struct.
type field struct {
	typ       reflect.Type
	omitEmpty bool
}

// jsonFields lists a struct's JSON members as encoding/json sees them, embedded structs
// flattened.
func jsonFields(t reflect.Type) map[string]field {
	out := map[string]field{}
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if !f.IsExported() || tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			for k, v := range jsonFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = field{f.Type, strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")}
	}
	return out
}

var (
	timeType = reflect.TypeOf(time.Time{})
	rawType  = reflect.TypeOf(json.RawMessage{})
	durType  = reflect.TypeOf(api.Duration(0))
)

// jsonType is the JSON type a Go type encodes as.
func jsonType(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == timeType, t == durType, t.Kind() == reflect.String, t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 && t != rawType:
		return "string"
	case t == rawType:
		return "" // any JSON
	}
	switch t.Kind() {
	case reflect.Bool:
		return "boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64, reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "integer"
	case reflect.Float32, reflect.Float64:
		return "number"
	case reflect.Slice, reflect.Array:
		return "array"
	case reflect.Struct, reflect.Map:
		return "object"
	}
	return ""
}

func schemaTypes(s *schema) []string {
	switch v := s.Type.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if str, ok := x.(string); ok {
				out = append(out, str)
			}
		}
		return out
	}
	if len(s.Properties) > 0 {
		return []string{"object"}
	}
	return nil
}

func compareSchema(t *testing.T, all map[string]*schema, path string, s *schema, typ reflect.Type) {
	t.Helper()
	s = resolve(t, all, s)
	for typ.Kind() == reflect.Pointer {
		typ = typ.Elem()
	}
	want, got := jsonType(typ), schemaTypes(s)
	if want == "" {
		return // raw JSON: the schema describes the document it carries
	}
	if len(got) > 0 && !slices.Contains(got, want) && !(want == "integer" && slices.Contains(got, "number")) {
		t.Errorf("%s: openapi.json says %v, %s encodes as %s", path, got, typ, want)
		return
	}
	switch {
	case typ.Kind() == reflect.Struct && typ != timeType:
		fields := jsonFields(typ)
		var onlyDoc, onlyGo []string
		for name, p := range s.Properties {
			f, ok := fields[name]
			if !ok {
				onlyDoc = append(onlyDoc, name)
				continue
			}
			compareSchema(t, all, path+"."+name, p, f.typ)
		}
		for name := range fields {
			if _, ok := s.Properties[name]; !ok {
				onlyGo = append(onlyGo, name)
			}
		}
		sort.Strings(onlyDoc)
		sort.Strings(onlyGo)
		if len(onlyDoc) > 0 {
			t.Errorf("%s: openapi.json has %v, which %s lacks", path, onlyDoc, typ)
		}
		if len(onlyGo) > 0 {
			t.Errorf("%s: %s has %v, which openapi.json lacks", path, typ, onlyGo)
		}
		for _, name := range s.Required {
			if f, ok := fields[name]; ok && f.omitEmpty {
				t.Errorf("%s: %s is required in openapi.json but omitted when empty in %s", path, name, typ)
			}
		}
	case (typ.Kind() == reflect.Slice && typ.Elem().Kind() != reflect.Uint8) || typ.Kind() == reflect.Array:
		if s.Items != nil {
			compareSchema(t, all, path+"[]", s.Items, typ.Elem())
		}
	}
}
