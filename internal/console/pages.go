package console

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
)

// section is one part of a page that the person's party may or may not see: Err says why not.
type section struct {
	Err string
}

func sectionErr(err error) string {
	if err == nil {
		return ""
	}
	_, msg := problemStatus(err)
	return msg
}

type overviewData struct {
	Summary      api.Summary
	SummaryErr   string
	States       []stateCount
	Expiring     api.ExpiringReport
	ExpiringErr  string
	Pending      int
	PendingErr   string
	Gaps         api.GapsReport
	GapsErr      string
	ExpiringDays int
	AsOf         asOf
}

type stateCount struct {
	State string
	N     int
	Pct   int // share of all devices, for the bar
}

// overview is the fleet at a glance: devices by state, rotation compliance, certificates
// expiring soon, pending approvals and governance gaps, each as far as the party may see.
// The fleet-wide parts come from the party's latest report snapshot when there is one (the
// page says as of when); pending approvals are always read live.
func (k *Console) overview(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	d := overviewData{ExpiringDays: 7}
	src, of := k.source(r, s, SnapshotOverview)
	d.AsOf = of
	// The four parts are independent reads; on a large fleet each is a report over it, so
	// they run at once and the page takes as long as the slowest, not their sum.
	var wg sync.WaitGroup
	var sumErr, expErr, pendErr, gapsErr error
	var pending []api.Approval
	wg.Go(func() { d.Summary, sumErr = src.ReportSummary(ctx) })
	wg.Go(func() { d.Expiring, expErr = src.ReportExpiring(ctx, time.Duration(d.ExpiringDays)*24*time.Hour) })
	wg.Go(func() { pending, pendErr = s.api.ListApprovals(ctx, client.ApprovalFilter{State: "pending"}) })
	wg.Go(func() { d.Gaps, gapsErr = src.ReportGaps(ctx, "") })
	wg.Wait()
	d.SummaryErr, d.ExpiringErr, d.PendingErr, d.GapsErr = sectionErr(sumErr), sectionErr(expErr), sectionErr(pendErr), sectionErr(gapsErr)
	d.Pending = len(pending)
	for st, n := range d.Summary.ByState {
		pct := 0
		if d.Summary.Devices > 0 {
			pct = n * 100 / d.Summary.Devices
		}
		d.States = append(d.States, stateCount{st, n, pct})
	}
	sort.Slice(d.States, func(i, j int) bool { return d.States[i].State < d.States[j].State })
	k.render(w, r, s, http.StatusOK, "overview", "Fleet overview", d)
}

type inventoryData struct {
	Filter  client.DeviceFilter
	Devices []deviceRow
	Next    string // the URL of the next page, empty on the last
	States  []string
}

type deviceRow struct {
	api.Device
	Custodian, Manufacturer string
}

// deviceStates are the states a device may be in (api.Device.State).
var deviceStates = []string{"registered", "active", "quarantined", "suspended", "released", "factory-revoked"}

// pageSize is the inventory's page.
const pageSize = 50

// inventory lists the devices the party may see, filtered, one keyset page at a time.
func (k *Console) inventory(w http.ResponseWriter, r *http.Request, s *session) {
	q := r.URL.Query()
	f := client.DeviceFilter{State: q.Get("state"), Lot: q.Get("lot"), Custodian: q.Get("custodian"), Environment: q.Get("environment"), After: q.Get("after"), Limit: pageSize}
	p, err := s.api.ListDevices(r.Context(), f)
	if err != nil {
		k.failAPI(w, r, s, err)
		return
	}
	n := s.names(r.Context())
	d := inventoryData{Filter: f, States: deviceStates}
	for _, dev := range p.Items {
		d.Devices = append(d.Devices, deviceRow{dev, n.Party(dev.CustodianID), n.Party(dev.ManufacturerID)})
	}
	if p.NextAfter != "" {
		v := url.Values{}
		for _, kv := range [][2]string{{"state", f.State}, {"lot", f.Lot}, {"custodian", f.Custodian}, {"environment", f.Environment}, {"after", p.NextAfter}} {
			if kv[1] != "" {
				v.Set(kv[0], kv[1])
			}
		}
		d.Next = "/ui/devices?" + v.Encode()
	}
	k.render(w, r, s, http.StatusOK, "inventory", "Inventory", d)
}

// event is one entry of a device's timeline.
type event struct {
	At     time.Time
	Stage  string // manufacturing or operational
	What   string
	Detail string
	Kind   string // for the marker's style: issue, custody, onboard, renew, revoke, support, approval
}

type deviceData struct {
	Device       api.DeviceView
	Custodian    string
	Manufacturer string
	Timeline     []event
	ApprovalsErr string
}

// device shows one device and its timeline across both stages.
func (k *Console) device(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	v, err := s.api.GetDevice(ctx, r.PathValue("id"))
	if err != nil {
		k.failAPI(w, r, s, err)
		return
	}
	n := s.names(ctx)
	d := deviceData{Device: v, Custodian: n.Party(v.CustodianID), Manufacturer: n.Party(v.ManufacturerID)}
	d.Timeline = timeline(v, n)
	qs, err := s.api.ListApprovals(ctx, client.ApprovalFilter{Subject: "device:" + v.ID})
	d.ApprovalsErr = sectionErr(err)
	for _, q := range qs {
		d.Timeline = append(d.Timeline, event{At: q.CreatedAt, Stage: "operational", Kind: "approval",
			What:   q.Kind + " requested by " + n.Principal(q.RequesterParty, q.RequesterPrincipal),
			Detail: q.Reason + " — " + q.State})
		for _, dec := range q.Decisions {
			verb := "denied"
			if dec.Approve {
				verb = "approved"
			}
			d.Timeline = append(d.Timeline, event{At: dec.At, Stage: "operational", Kind: "approval",
				What: q.Kind + " " + verb + " by " + n.Principal(dec.PartyID, dec.PrincipalID), Detail: dec.Comment})
		}
	}
	sort.SliceStable(d.Timeline, func(i, j int) bool { return d.Timeline[i].At.Before(d.Timeline[j].At) })
	k.render(w, r, s, http.StatusOK, "device", "Device "+v.Serial, d)
}

// timeline orders what the device view records: factory issue and build record, custody
// hand-overs, onboardings and renewals, revocations and support grants.
func timeline(v api.DeviceView, n *names) []event {
	var out []event
	stageOf := func(profile string) string {
		if strings.Contains(profile, "factory") || strings.Contains(profile, "idevid") {
			return "manufacturing"
		}
		return "operational"
	}
	out = append(out, event{At: v.CreatedAt, Stage: "manufacturing", Kind: "issue", What: "Registered by " + n.Party(v.ManufacturerID), Detail: "lot " + v.LotID + ", model " + v.ModelID})
	if len(v.BuildRecord) > 0 {
		out = append(out, event{At: v.CreatedAt, Stage: "manufacturing", Kind: "issue", What: "Build record signed", Detail: "a DSSE envelope of " + strconv.Itoa(len(v.BuildRecord)) + " bytes"})
	}
	for _, c := range v.Certificates {
		at := c.CreatedAt
		if c.IssuedAt != nil {
			at = *c.IssuedAt
		}
		out = append(out, event{At: at, Stage: stageOf(c.Profile), Kind: "issue", What: c.Profile + " certificate issued", Detail: "serial " + c.Serial + ", valid until " + c.NotAfter.UTC().Format("2006-01-02")})
		if c.RevokedAt != nil {
			reason := ""
			if c.Reason != nil {
				reason = "reason code " + strconv.Itoa(*c.Reason)
			}
			out = append(out, event{At: *c.RevokedAt, Stage: stageOf(c.Profile), Kind: "revoke", What: c.Profile + " certificate revoked", Detail: "serial " + c.Serial + " " + reason})
		}
	}
	for _, l := range v.Custody {
		out = append(out, event{At: l.At, Stage: "manufacturing", Kind: "custody", What: "Custody from " + n.Party(l.FromID) + " to " + n.Party(l.ToID), Detail: "transfer " + l.TransferID})
	}
	for _, e := range v.Lineage {
		what := "Onboarded"
		if e.Kind == "renew" {
			what = "Renewed"
		}
		detail := "into " + e.EnvironmentID + " over " + e.Protocol + " on " + e.BasedOn + ", policy v" + strconv.Itoa(e.PolicyVersion)
		if e.Superseded != "" {
			detail += ", replacing " + e.Superseded
		}
		out = append(out, event{At: e.CreatedAt, Stage: "operational", Kind: e.Kind, What: what + " by " + n.Principal(v.CustodianID, e.PrincipalID), Detail: detail})
	}
	for _, g := range v.SupportGrants {
		out = append(out, event{At: g.CreatedAt, Stage: "operational", Kind: "support", What: "Support grant for " + g.Engineer + " of " + n.Party(g.RequesterParty) + " (" + g.State + ")", Detail: g.Reason})
		if g.RevokedAt != nil {
			out = append(out, event{At: *g.RevokedAt, Stage: "operational", Kind: "revoke", What: "Support grant " + g.ID + " revoked"})
		}
	}
	return out
}
