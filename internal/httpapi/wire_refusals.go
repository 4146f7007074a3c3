package httpapi

import (
	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/refusals"
)

func toRefusal(e refusals.Entry) api.Refusal {
	return api.Refusal{Seq: e.Seq, At: e.At, PartyID: e.PartyID, PrincipalID: e.PrincipalID, Scope: e.Scope, Subject: e.Subject,
		Reason: e.Reason, Rule: e.Rule, Count: e.Count, FirstAt: e.FirstAt, LastAt: e.LastAt, Via: e.Via, Operation: e.Operation,
		Certificate: e.Certificate, Message: e.Message}
}

func toReasonCount(c refusals.ReasonCount) api.ReasonCount {
	return api.ReasonCount{Reason: c.Reason, Count: c.Count}
}

func toRefusalReport(r refusals.Report) api.RefusalReport {
	return api.RefusalReport{Since: r.Since, ByReason: nonNil(each(r.ByReason, toReasonCount)), Items: nonNil(each(r.Entries, toRefusal))}
}
