package console

import (
	"bytes"
	"html/template"
	"net/http"
	"strconv"
	"time"

	"github.com/hallmark-id/hallmark/api"
)

// page is what every template gets: the layout's fields and the page's own Data.
type page struct {
	Title string
	Me    *api.Principal
	Party string // the signed-in person's party, by name
	CSRF  string
	Nav   string // the page's section, for aria-current
	Data  any
}

var funcs = template.FuncMap{
	// when renders an instant as a <time> element: UTC in the text and the title; the script
	// rewrites the text into the viewer's zone and keeps UTC on hover.
	"when": func(t any) template.HTML {
		var v time.Time
		switch x := t.(type) {
		case time.Time:
			v = x
		case *time.Time:
			if x == nil {
				return ""
			}
			v = *x
		default:
			return ""
		}
		return whenHTML(v)
	},
	// cell shows a report cell: an RFC 3339 instant as a <time> (the viewer's zone, UTC on
	// hover), anything else as text.
	"cell": func(c string) template.HTML {
		if len(c) >= 20 && len(c) <= 35 && c[4] == '-' && c[10] == 'T' {
			if t, err := time.Parse(time.RFC3339, c); err == nil {
				return whenHTML(t)
			}
		}
		return template.HTML(template.HTMLEscapeString(c))
	},
	"pct": func(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) + "%" },
	"add": func(a, b int) int { return a + b },
}

// whenHTML renders an instant as a <time> element: UTC in the text and the title; the
// script rewrites the text into the viewer's zone and keeps UTC on hover.
func whenHTML(v time.Time) template.HTML {
	if v.IsZero() {
		return ""
	}
	u := v.UTC()
	iso := template.HTMLEscapeString(u.Format(time.RFC3339))
	text := template.HTMLEscapeString(u.Format("2006-01-02 15:04 UTC"))
	return template.HTML(`<time class="local" datetime="` + iso + `" title="` + text + `">` + text + `</time>`)
}

// render writes a page; a template that fails to execute is a 500 with nothing half-written.
func (k *Console) render(w http.ResponseWriter, r *http.Request, s *session, status int, name, title string, data any) {
	t, ok := k.pages[name]
	if !ok {
		http.Error(w, "no such page template", http.StatusInternalServerError)
		return
	}
	p := page{Title: title, Data: data, Nav: name}
	if s != nil {
		p.Me, p.CSRF, p.Party = &s.me, s.csrf, s.me.PartyID
		p.Party = s.names(r.Context()).Party(s.me.PartyID)
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout.html", p); err != nil {
		k.log.Error("console: rendering", "page", name, "err", err)
		http.Error(w, "the page could not be rendered", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type failData struct {
	Status int
	Text   string
	Msg    string
}

// fail shows a refusal or an error with its HTTP status.
func (k *Console) fail(w http.ResponseWriter, r *http.Request, s *session, status int, msg string) {
	k.render(w, r, s, status, "error", http.StatusText(status), failData{Status: status, Text: http.StatusText(status), Msg: msg})
}

// failAPI shows an API refusal as the API gave it.
func (k *Console) failAPI(w http.ResponseWriter, r *http.Request, s *session, err error) {
	status, msg := problemStatus(err)
	k.fail(w, r, s, status, msg)
}
