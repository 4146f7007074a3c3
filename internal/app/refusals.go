package app

import (
	"context"
	"net/http"
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/est"
	"github.com/hallmark-id/hallmark/internal/refusals"
)

// buildRefusals makes the refusal recorder and its report reader, and counts refusals in
// the metrics (issue 17).
func (a *App) buildRefusals() error {
	r, err := refusals.New(refusals.Config{Store: a.Store, Now: a.Now, Log: a.Log})
	if err != nil {
		return err
	}
	a.Refusals, a.RefusalReader = r, refusals.NewReader(a.Store, a.Now)
	return a.Metrics.WatchRefusals(r)
}

// runRefusals writes coalesced refusals every second until ctx ends and returns a function
// that waits for the last of them to be written: call it before the store closes.
func (a *App) runRefusals(ctx context.Context) (wait func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.Refusals.Run(ctx, time.Second)
	}()
	return func() { cancel(); <-done }
}

// estRefused records an EST 4xx to a client that presented a certificate: the principal is
// the one the request acted as ("est:<label>"), the subject the presented certificate (the
// recorder names its device), the party the label's operator.
func (a *App) estRefused(defaultLabel string) func(est.Refused) {
	return func(f est.Refused) {
		label := f.Label
		if label == "" {
			label = defaultLabel
		}
		reason, rule := "", ""
		if f.Err != nil {
			reason, rule = refusals.Classify(f.Err)
		}
		if reason == "" || reason == "internal" {
			reason = statusReason(f.Status)
		}
		a.Refusals.Record(refusals.Refusal{PrincipalID: "est:" + label, Via: "est", Reason: reason, Rule: rule,
			Subject: "certificate:" + ca.SerialHex(f.Peer.SerialNumber), Label: label, Operation: "POST " + est.PathPrefix + "/" + f.Op,
			Message: f.Message})
	}
}

// statusReason names an EST refusal the handler made itself by its status.
func statusReason(code int) string {
	switch code {
	case http.StatusForbidden:
		return "denied"
	case http.StatusNotFound:
		return "not-found"
	case http.StatusConflict:
		return "conflict"
	case http.StatusRequestEntityTooLarge:
		return "too-large"
	default:
		return "invalid"
	}
}
