package client

import (
	"context"
	"net/url"
	"strconv"
	"time"

	"github.com/hallmark-id/hallmark/api"
)

// Request and response types are those of package api; the server converts them to its
// services' own types.

// DeviceFilter selects devices; zero fields do not filter.
type DeviceFilter struct {
	Lot, State, Custodian, Manufacturer string
	Environment                         string    // only devices onboarded into this environment
	ExpiringBefore                      time.Time // only devices whose operational certificate expires before this
	After                               string    // the ID after which the page starts
	Limit                               int       // 1-1000; 0 is the server's default (1000)
}

func list[T any](ctx context.Context, c *Client, path string) ([]T, error) {
	var p api.Page[T]
	if err := c.do(ctx, "GET", path, nil, &p); err != nil {
		return nil, err
	}
	if p.Items == nil {
		p.Items = []T{}
	}
	return p.Items, nil
}

func withQuery(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] != "" {
			q.Set(kv[i], kv[i+1])
		}
	}
	if len(q) == 0 {
		return path
	}
	return path + "?" + q.Encode()
}

func seg(s string) string { return url.PathEscape(s) }

// OpenAPI returns the server's OpenAPI document.
func (c *Client) OpenAPI(ctx context.Context) ([]byte, error) {
	var b []byte
	return b, c.do(ctx, "GET", "/v1/openapi.json", nil, &b)
}

// Whoami returns the calling principal.
func (c *Client) Whoami(ctx context.Context) (api.Principal, error) {
	var p api.Principal
	return p, c.do(ctx, "GET", "/v1/whoami", nil, &p)
}

// CreateParty creates a party (deployment administrators only).
func (c *Client) CreateParty(ctx context.Context, r api.CreatePartyRequest) (api.Party, error) {
	var p api.Party
	return p, c.do(ctx, "POST", "/v1/parties", r, &p)
}

// ListParties lists every party.
func (c *Client) ListParties(ctx context.Context) ([]api.Party, error) {
	return list[api.Party](ctx, c, "/v1/parties")
}

// CreatePrincipal creates a principal and returns it with its token.
func (c *Client) CreatePrincipal(ctx context.Context, r api.CreatePrincipalRequest) (api.CreatedPrincipal, error) {
	var p api.CreatedPrincipal
	return p, c.do(ctx, "POST", "/v1/principals", r, &p)
}

// ListPrincipals lists a party's principals.
func (c *Client) ListPrincipals(ctx context.Context, partyID string) ([]api.Principal, error) {
	return list[api.Principal](ctx, c, "/v1/parties/"+seg(partyID)+"/principals")
}

// ListOwnership lists the cells of the ownership matrix.
func (c *Client) ListOwnership(ctx context.Context) ([]api.Cell, error) {
	return list[api.Cell](ctx, c, "/v1/ownership")
}

// SetOwnership sets the owner of one cell.
func (c *Client) SetOwnership(ctx context.Context, cell api.Cell) (api.Cell, error) {
	var out api.Cell
	return out, c.do(ctx, "PUT", "/v1/ownership", cell, &governed{&out})
}

// CreateHierarchy creates a manufacturing root CA and an issuing CA under it.
func (c *Client) CreateHierarchy(ctx context.Context, r api.CreateHierarchyRequest) (api.Hierarchy, error) {
	var h api.Hierarchy
	return h, c.do(ctx, "POST", "/v1/manufacturing/hierarchies", r, &h)
}

// ImportCA imports a manufacturing CA certificate and key.
func (c *Client) ImportCA(ctx context.Context, r api.ImportCARequest) (api.CA, error) {
	var v api.CA
	return v, c.do(ctx, "POST", "/v1/manufacturing/imports", r, &v)
}

// RegisterAnchor registers another maker's CA certificate for the caller's party.
func (c *Client) RegisterAnchor(ctx context.Context, r api.RegisterAnchorRequest) (api.CA, error) {
	var v api.CA
	return v, c.do(ctx, "POST", "/v1/anchors", r, &v)
}

// ListCAs lists the CAs the caller may see, of partyID when not empty.
func (c *Client) ListCAs(ctx context.Context, partyID string) ([]api.CA, error) {
	return list[api.CA](ctx, c, withQuery("/v1/cas", "party", partyID))
}

// CACertificate returns a CA's certificate as PEM (a public route).
func (c *Client) CACertificate(ctx context.Context, id string) ([]byte, error) {
	var b []byte
	return b, c.do(ctx, "GET", "/v1/cas/"+seg(id)+"/certificate", nil, &b)
}

// BuildRecordKey returns a manufacturer's build-record signing public key as PEM (public).
func (c *Client) BuildRecordKey(ctx context.Context, manufacturerID string) ([]byte, error) {
	var b []byte
	return b, c.do(ctx, "GET", "/v1/manufacturers/"+seg(manufacturerID)+"/build-record-key", nil, &b)
}

// CreateModel defines a model.
func (c *Client) CreateModel(ctx context.Context, r api.CreateModelRequest) (api.Model, error) {
	var m api.Model
	return m, c.do(ctx, "POST", "/v1/models", r, &m)
}

// ListModels lists models, of one manufacturer when not empty.
func (c *Client) ListModels(ctx context.Context, manufacturerID string) ([]api.Model, error) {
	return list[api.Model](ctx, c, withQuery("/v1/models", "manufacturer", manufacturerID))
}

// CreateLot defines a lot.
func (c *Client) CreateLot(ctx context.Context, r api.CreateLotRequest) (api.Lot, error) {
	var l api.Lot
	return l, c.do(ctx, "POST", "/v1/lots", r, &l)
}

// ListLots lists lots, of one manufacturer when not empty.
func (c *Client) ListLots(ctx context.Context, manufacturerID string) ([]api.Lot, error) {
	return list[api.Lot](ctx, c, withQuery("/v1/lots", "manufacturer", manufacturerID))
}

// GetLot returns one lot.
func (c *Client) GetLot(ctx context.Context, id string) (api.Lot, error) {
	var l api.Lot
	return l, c.do(ctx, "GET", "/v1/lots/"+seg(id), nil, &l)
}

// SignManifest has a manufacturer sign the device manifest of some of its lots.
func (c *Client) SignManifest(ctx context.Context, manufacturerID string, lotIDs []string) (api.SignedManifest, error) {
	var m api.SignedManifest
	return m, c.do(ctx, "POST", "/v1/manufacturers/"+seg(manufacturerID)+"/manifest", api.SignManifestRequest{LotIDs: lotIDs}, &m)
}

// IssueFactory issues a factory identity for a device of a lot.
func (c *Client) IssueFactory(ctx context.Context, lotID string, r api.IssueFactoryRequest) (api.FactoryIdentity, error) {
	var f api.FactoryIdentity
	return f, c.do(ctx, "POST", "/v1/lots/"+seg(lotID)+"/devices", r, &f)
}

// ListDevices returns one page of the devices the caller may see.
func (c *Client) ListDevices(ctx context.Context, f DeviceFilter) (api.DevicePage, error) {
	limit := ""
	if f.Limit > 0 {
		limit = strconv.Itoa(f.Limit)
	}
	expiring := ""
	if !f.ExpiringBefore.IsZero() {
		expiring = f.ExpiringBefore.UTC().Format(time.RFC3339)
	}
	var p api.DevicePage
	err := c.do(ctx, "GET", withQuery("/v1/devices", "lot", f.Lot, "state", f.State, "custodian", f.Custodian,
		"manufacturer", f.Manufacturer, "environment", f.Environment, "expiring_before", expiring,
		"after", f.After, "limit", limit), nil, &p)
	if p.Items == nil {
		p.Items = []api.Device{}
	}
	return p, err
}

// AllDevices follows next_after until the last page.
func (c *Client) AllDevices(ctx context.Context, f DeviceFilter) ([]api.Device, error) {
	return allPages(f.After, func(after string) ([]api.Device, string, error) {
		f.After = after
		p, err := c.ListDevices(ctx, f)
		return p.Items, p.NextAfter, err
	})
}

// allPages calls page with after = the last page's next_after until a page is the last (no
// next_after, no items, or a cursor that did not move).
func allPages[T any](after string, page func(after string) ([]T, string, error)) ([]T, error) {
	out := []T{}
	for {
		items, next, err := page(after)
		if err != nil {
			return nil, err
		}
		out = append(out, items...)
		if next == "" || len(items) == 0 || next == after {
			return out, nil
		}
		after = next
	}
}

// GetDevice returns a device with its certificates, build record and custody chain.
func (c *Client) GetDevice(ctx context.Context, id string) (api.DeviceView, error) {
	var v api.DeviceView
	return v, c.do(ctx, "GET", "/v1/devices/"+seg(id), nil, &v)
}

// DeviceCertificate returns one of a device's certificates as PEM; serial is hexadecimal as the
// API writes it (lower case) or as openssl prints it (upper case, leading zeros, colons).
func (c *Client) DeviceCertificate(ctx context.Context, id, serial string) ([]byte, error) {
	var b []byte
	return b, c.do(ctx, "GET", "/v1/devices/"+seg(id)+"/certificates/"+seg(serial), nil, &b)
}

// DeviceBuildRecord returns a device's signed build record envelope (JSON).
func (c *Client) DeviceBuildRecord(ctx context.Context, id string) ([]byte, error) {
	var b []byte
	return b, c.do(ctx, "GET", "/v1/devices/"+seg(id)+"/build-record", nil, &b)
}

// OfferTransfer offers custody of devices, or of a lot's devices, to another party.
func (c *Client) OfferTransfer(ctx context.Context, r api.OfferRequest) (api.Transfer, error) {
	var t api.Transfer
	return t, c.do(ctx, "POST", "/v1/transfers", r, &t)
}

// ListTransfers lists the transfers the caller's party sent or received.
func (c *Client) ListTransfers(ctx context.Context) ([]api.Transfer, error) {
	return list[api.Transfer](ctx, c, "/v1/transfers")
}

// GetTransfer returns one transfer.
func (c *Client) GetTransfer(ctx context.Context, id string) (api.Transfer, error) {
	var t api.Transfer
	return t, c.do(ctx, "GET", "/v1/transfers/"+seg(id), nil, &t)
}

// TransferDevices returns one page of the IDs of a transfer's devices, after the given ID;
// limit 0 takes the server's default (1000).
func (c *Client) TransferDevices(ctx context.Context, id, after string, limit int) (api.IDPage, error) {
	l := ""
	if limit > 0 {
		l = strconv.Itoa(limit)
	}
	var p api.IDPage
	err := c.do(ctx, "GET", withQuery("/v1/transfers/"+seg(id)+"/devices", "after", after, "limit", l), nil, &p)
	if p.Items == nil {
		p.Items = []string{}
	}
	return p, err
}

// AllTransferDevices follows next_after until the last page.
func (c *Client) AllTransferDevices(ctx context.Context, id, after string, limit int) ([]string, error) {
	return allPages(after, func(after string) ([]string, string, error) {
		p, err := c.TransferDevices(ctx, id, after, limit)
		return p.Items, p.NextAfter, err
	})
}

// DecideTransfer accepts, refuses or cancels a transfer: decision is api.TransferAccept,
// api.TransferRefuse or api.TransferCancel.
func (c *Client) DecideTransfer(ctx context.Context, id, decision string) (api.Transfer, error) {
	var t api.Transfer
	return t, c.do(ctx, "POST", "/v1/transfers/"+seg(id)+"/"+seg(decision), nil, &t)
}

// AuditEvents returns up to 1000 audit events with a sequence number above after.
func (c *Client) AuditEvents(ctx context.Context, after int64) ([]api.AuditEvent, error) {
	a := ""
	if after > 0 {
		a = strconv.FormatInt(after, 10)
	}
	return list[api.AuditEvent](ctx, c, withQuery("/v1/audit/events", "after", a))
}

// RepairDevice asks for a repaired device's new build record and factory identity; the
// request waits for an approval (kind repair), which the result names.
func (c *Client) RepairDevice(ctx context.Context, id string, r api.RepairRequest) (api.RepairResult, error) {
	var res api.RepairResult
	return res, c.do(ctx, "POST", "/v1/devices/"+seg(id)+"/repair", r, &res)
}
