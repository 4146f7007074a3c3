package console

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"

	"github.com/hallmark-id/hallmark/api"
)

type policyVersionRow struct {
	api.PolicyVersion
	By string
}

type policiesData struct {
	Environments []api.Environment
	Env          string
	EnvName      string
	Kind         string
	Kinds        []string
	Versions     []policyVersionRow
	From, To     int
	Diff         []diffLine
	DiffTooLong  bool
	Added        int
	Removed      int
	VersionsErr  string
}

// policiesPage shows an environment's policy versions (onboarding or renewal) and a line diff
// between two of them (by default the newest and the one before). The diff is of the
// documents as indented JSON, so one rule is a few lines and a changed expression is one.
func (k *Console) policiesPage(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := r.Context()
	q := r.URL.Query()
	d := policiesData{Kinds: []string{api.PolicyOnboarding, api.PolicyRenewal}, Kind: q.Get("kind"), Env: q.Get("env")}
	if d.Kind == "" {
		d.Kind = api.PolicyOnboarding
	}
	envs, err := s.api.ListEnvironments(ctx)
	if err != nil {
		k.failAPI(w, r, s, err)
		return
	}
	d.Environments = envs
	if d.Env == "" && len(envs) > 0 {
		d.Env = envs[0].ID
	}
	for _, e := range envs {
		if e.ID == d.Env {
			d.EnvName = e.Name
		}
	}
	if d.Env == "" {
		k.render(w, r, s, http.StatusOK, "policies", "Policies", d)
		return
	}
	vs, err := s.api.PolicyVersions(ctx, d.Env, d.Kind)
	if err != nil {
		k.failAPI(w, r, s, err)
		return
	}
	n := s.names(ctx)
	byVersion := map[int]api.PolicyVersion{}
	for _, v := range vs {
		byVersion[v.Version] = v
		d.Versions = append(d.Versions, policyVersionRow{v, n.Principal(s.me.PartyID, v.CreatedBy)})
	}
	if len(vs) > 0 {
		d.To = vs[0].Version
		d.From = d.To - 1
	}
	if x, err := strconv.Atoi(q.Get("from")); err == nil {
		d.From = x
	}
	if x, err := strconv.Atoi(q.Get("to")); err == nil {
		d.To = x
	}
	from, okF := byVersion[d.From]
	to, okT := byVersion[d.To]
	if okT {
		var a []string
		if okF {
			a = specLines(from.Spec)
		}
		d.Diff, _ = lineDiff(a, specLines(to.Spec))
		d.DiffTooLong = len(a) > maxDiffLines || len(specLines(to.Spec)) > maxDiffLines
		for _, l := range d.Diff {
			switch l.Op {
			case "add":
				d.Added++
			case "del":
				d.Removed++
			}
		}
	}
	k.render(w, r, s, http.StatusOK, "policies", "Policies", d)
}

// specLines is a policy document in a canonical form, one line per element: indented JSON
// with object keys sorted and no HTML escapes (so "&&" reads as written), so the diff shows
// what changed in meaning, not in key order.
func specLines(spec json.RawMessage) []string {
	var v any
	d := json.NewDecoder(bytes.NewReader(spec))
	d.UseNumber()
	if err := d.Decode(&v); err != nil {
		return strings.Split(string(spec), "\n")
	}
	var buf bytes.Buffer
	e := json.NewEncoder(&buf)
	e.SetEscapeHTML(false)
	e.SetIndent("", "  ")
	if err := e.Encode(v); err != nil {
		return strings.Split(string(spec), "\n")
	}
	return strings.Split(strings.TrimRight(buf.String(), "\n"), "\n")
}
