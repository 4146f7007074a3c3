package app

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// deviceState is a device's state as who sees it through the API.
func deviceState(t *testing.T, s *devServer, who, id string) string {
	t.Helper()
	var d struct{ State string }
	s.must(t, 200, who, "GET", "/v1/devices/"+id, nil).json(t, &d)
	return d.State
}

// TestConsolePages drives the later console pages in a real chromium: a lot revocation's dry
// run then its execution, and a whole-CA revocation through its two approvals; a support
// grant asked for, approved and revoked; a policy diff; a report's chart and CSV. Each is
// also refused for a person whose party may not do it.
func TestConsolePages(t *testing.T) {
	dir := t.TempDir()
	s := startDev(t, dir)
	b := newBrowser(t, s)

	lot := demoLot(t, s, "lot-rv")
	envID := opEnv(t, s, "console-rv-env", nil)
	var devs []string
	for _, sn := range []string{"SN-RV1", "SN-RV2"} {
		fi := deliveredDevice(t, s, dir, lot, "lot-rv", sn)
		onboard(t, s, dir, envID, sn, "rv-"+sn, 201)
		devs = append(devs, fi.Device.ID)
	}
	sgLot := demoLot(t, s, "lot-sg")
	sg := deliveredDevice(t, s, dir, sgLot, "lot-sg", "SN-SG1")
	onboard(t, s, dir, envID, "SN-SG1", "sg", 201)

	dryRun := func(maker, by, value, why string) {
		b.open("/ui/revocations")
		b.submit("dry run of "+by+" "+value, chromedp.SetValue(chromedp.CSS(`#maker`), maker), chromedp.Click(chromedp.CSS(`input[name="by"][value="`+by+`"]`)),
			chromedp.SendKeys(chromedp.CSS(`#value`), value), chromedp.SendKeys(chromedp.CSS(`#why`), why),
			chromedp.Click(chromedp.CSS(`#preview`)))
	}

	t.Run("lot revocation", func(t *testing.T) {
		// Refused: the operator's person may not revoke the maker's factory identities.
		b.signIn(oscar)
		dryRun("acme", "lot", lot, "")
		wantIn(t, "oscar's dry run", b.text(`#status`), "403")
		wantIn(t, "oscar's dry run", b.text(`#reason`), "owner: acme")
		// The maker's person: a dry run that changes nothing, then the revocation.
		b.signIn(alice)
		dryRun("acme", "lot", lot, "")
		wantIn(t, "dry run", b.text(`#h-result`), "Dry run: nothing has changed")
		sum := b.text(`#summary`)
		wantIn(t, "dry run", sum, "2 factory identities would be revoked")
		wantIn(t, "dry run", sum, "2 operational identities would be suspended")
		wantIn(t, "per environment", b.text(`#result .env`), envID)
		for _, id := range devs {
			if st := deviceState(t, s, oscar, id); st != "active" {
				t.Fatalf("after the dry run device %s is %s", id, st)
			}
		}
		b.shot("revocation-dryrun")
		b.submit("execute", chromedp.Click(chromedp.CSS(`#execute`)))
		wantIn(t, "executed", b.text(`#h-result`), "Revoked")
		wantIn(t, "executed", b.text(`#summary`), "2 factory identities revoked")
		wantIn(t, "executed by", b.text(`#summary`), "alice (Acme Devices)")
		for _, id := range devs {
			if st := deviceState(t, s, oscar, id); st == "active" {
				t.Fatalf("after the revocation device %s is still active", id)
			}
		}
		b.shot("revocation-done")
	})

	t.Run("support grant", func(t *testing.T) {
		csr := mxCSR(t, mxKey(t))
		ask := func(who string) {
			b.signIn(who)
			b.open("/ui/support")
			b.submit(who+" asks", chromedp.SendKeys(chromedp.CSS(`#environment`), envID), chromedp.SendKeys(chromedp.CSS(`#devices`), sg.Device.ID),
				chromedp.SendKeys(chromedp.CSS(`#greason`), "crash dumps from the field"), chromedp.SetValue(chromedp.CSS(`#csr`), csr),
				chromedp.Click(chromedp.CSS(`#ask`)))
		}
		// Refused: a distributor's person may not ask for support access.
		ask(dana)
		wantIn(t, "dana asks", b.text(`#status`), "403")
		// The vendor's engineer asks; the grant waits; she cannot decide it herself.
		ask(eve)
		wantIn(t, "eve asks", b.text(`#notice`), "waits for the operator's approval")
		wantIn(t, "requested", b.text(`#grants tbody`), "requested")
		if n, _ := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("form.decide").length`)); n != 0 {
			t.Fatalf("the requester is offered %d decisions", n)
		}
		// The operator's person approves: the window shows, with the time left.
		b.signIn(olivia)
		b.open("/ui/support")
		b.submit("olivia approves", chromedp.SendKeys(chromedp.CSS(`form.decide input[name="comment"]`), "one device, two hours at most"),
			chromedp.Click(chromedp.CSS(`form.decide button.approve`)))
		wantIn(t, "approved", b.text(`#grants tbody .state`), "active")
		win := b.text(`#grants tbody .window`)
		wantIn(t, "window", win, "→")
		wantIn(t, "window", win, "left")
		b.shot("support")
		b.submit("olivia revokes", chromedp.Click(chromedp.CSS(`form.revoke-grant button`)))
		wantIn(t, "revoked", b.text(`#notice`), "is revoked")
		wantIn(t, "revoked", b.text(`#grants tbody .state`), "revoked")
	})

	t.Run("policy diff", func(t *testing.T) {
		s.setPolicy(t, oscar, olivia, envID, "renewal", map[string]any{"rules": []map[string]string{
			{"name": "device-active", "expr": `device.state == "active"`}, {"name": "not-quarantined", "expr": `device.state != "quarantined"`}}}, 202)
		path := "/ui/policies?env=" + envID + "&kind=renewal"
		// Refused: the maker's person cannot see the operator's environment.
		b.signIn(alice)
		b.open(path)
		wantIn(t, "alice", b.text(`#status`), "404")
		b.signIn(olivia)
		b.open(path)
		wantIn(t, "versions", b.text(`#versions`), "v2")
		wantIn(t, "set by", b.text(`#versions`), "oscar (Contoso Utilities)")
		wantIn(t, "diff", b.text(`#h-diff`), "From v1 to v2")
		added, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`[...document.querySelectorAll("#diff .add")].map(e => e.textContent).join("\n")`))
		if err != nil {
			t.Fatal(err)
		}
		wantIn(t, "added lines", added, `not-quarantined`)
		if strings.Contains(b.text(`#diff-summary`), "0 lines added") {
			t.Fatalf("diff summary: %s", b.text(`#diff-summary`))
		}
		b.shot("policy-diff")
	})

	t.Run("report chart and CSV", func(t *testing.T) {
		// Refused: the standards mapping is the auditors' (and the deployment's).
		b.signIn(eve)
		b.open("/ui/reports/standards")
		wantIn(t, "eve", b.text(`#status`), "403")
		b.signIn(audrey)
		b.open("/ui/reports/rotation")
		n, err := chromedp.Run(b.ctx, chromedp.Evaluate[int](`document.querySelectorAll("#chart svg.chart circle.dot").length`))
		if err != nil || n < 30 {
			t.Fatalf("rotation trend chart: %d points, %v", n, err)
		}
		b.shot("report-rotation")
		// Live (the page's "Compute live" link): the devices onboarded above came after the
		// report snapshot the dev server computed at start.
		b.open("/ui/reports/expiring?live=1")
		title, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector("#chart svg title").textContent`))
		if err != nil || !strings.Contains(title, "per environment") {
			t.Fatalf("expiring chart title %q, %v", title, err)
		}
		b.run("phone", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
		b.shot("report-phone")
		b.run("desktop", chromedp.EmulateViewport(1280, 900))
		// The CSV, fetched by the page with the session's cookie, as the download link does.
		got, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`fetch(document.getElementById("csv").href).then(async r => r.status + "\n" + r.headers.get("content-type") + "\n" + r.headers.get("content-disposition") + "\n" + await r.text())`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(got, "\n")
		if len(lines) < 5 || lines[0] != "200" || !strings.HasPrefix(lines[1], "text/csv") || !strings.Contains(lines[2], `attachment; filename="hallmark-expiring-`) ||
			lines[3] != "environment,operator,device_id,serial,not_after,device_state" {
			t.Fatalf("CSV download: %q", got)
		}
		wantIn(t, "CSV rows", got, "console-rv-env,Contoso Utilities,"+sg.Device.ID)
	})

	t.Run("whole-CA revocation through two approvals", func(t *testing.T) {
		var cas struct {
			Items []struct{ ID, Role, Stage string }
		}
		s.must(t, 200, alice, "GET", "/v1/cas?party=acme", nil).json(t, &cas)
		ca := ""
		for _, c := range cas.Items {
			if c.Role == "issuing" && c.Stage == "manufacturing" {
				ca = c.ID
			}
		}
		b.signIn(bob)
		dryRun("acme", "ca", ca, "the line's HSM was exposed")
		wantIn(t, "dry run", b.text(`#h-result`), "Dry run")
		b.submit("ask", chromedp.Click(chromedp.CSS(`#execute`)))
		wantIn(t, "waiting", b.text(`#h-result`), "Waiting for approval")
		wantIn(t, "why", b.text(`#approval-why`), "two distinct principals of Acme Devices")
		b.shot("revocation-approval")
		if st := deviceState(t, s, oscar, sg.Device.ID); st != "active" {
			t.Fatalf("before the approvals the support device is %s", st)
		}
		for i, who := range []string{alice, carol} {
			b.signIn(who)
			b.open("/ui/approvals")
			b.submit(who+" approves", chromedp.Click(chromedp.CSS(`article.approval button.approve`)))
			want := "is now pending"
			if i == 1 {
				want = "is now executed"
			}
			wantIn(t, who+"'s decision", b.text(`#notice`), want)
		}
		if st := deviceState(t, s, oscar, sg.Device.ID); st == "active" {
			t.Fatal("after the second approval the CA's device is still active")
		}
	})
}
