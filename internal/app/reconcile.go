package app

import (
	"context"
	"time"

	"github.com/hallmark-id/hallmark/internal/auditlog"
)

// disputesEvery is how often each replica reads the disputed certificates that reconciliations
// recorded (auditlog.WatchDisputes): a reconciliation on one replica reaches every replica's
// OCSP responder within it. The read is one query of a table that is normally empty.
const disputesEvery = 2 * time.Second

// maxLoggedDisagreements bounds the disagreements the start-up reconciliation logs one by one.
const maxLoggedDisagreements = 20

// reconcileAtStart loads the disputed certificates recorded so far, keeps reading them
// (another replica may reconcile), and compares the certificates named by the audit events
// since the last checkpoint with their rows (auditlog.ReconcileSince: bounded by those events), before the
// OCSP responder answers: a disputed certificate is answered tryLater from the first request.
// It logs the result; hallmark_audit_disputed_certificates counts what disagrees. A failure
// to reconcile is logged and does not stop the server (the rows still serve, as before).
func (a *App) reconcileAtStart(ctx context.Context) {
	if err := a.AuditLog.LoadDisputes(ctx); err != nil {
		a.Log.Error("audit: reading the disputed certificates", "err", err)
	}
	go a.AuditLog.WatchDisputes(ctx, disputesEvery)
	r, err := a.AuditLog.ReconcileSince(ctx)
	if err != nil {
		a.Log.Error("audit reconcile at start failed", "err", err)
		return
	}
	logReconciliation(a, r)
}

func logReconciliation(a *App, r auditlog.Reconciliation) {
	if len(r.Disagreements) == 0 {
		a.Log.Info("audit reconcile at start", "after_seq", r.AfterSeq, "events", r.Events, "certificates", r.Certificates, "disagreements", 0)
		return
	}
	a.Log.Error("audit reconcile at start: state rows disagree with the audit log", "after_seq", r.AfterSeq, "events", r.Events,
		"certificates", r.Certificates, "disagreements", len(r.Disagreements), "truncated", r.Truncated)
	for i, d := range r.Disagreements {
		if i == maxLoggedDisagreements {
			break
		}
		a.Log.Error("audit reconcile: row disagrees", "kind", d.Kind, "id", d.ID, "row", d.Row, "log", d.Log, "seq", d.Seq)
	}
}
