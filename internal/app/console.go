package app

import (
	"net/http"

	"github.com/hallmark-id/hallmark/internal/console"
)

// mountConsole serves the web console at /ui/ on the API listener, calling v1 (the API as
// the listener serves it, admission included) in process with each person's own credential;
// GET / sends browsers to it. A console that cannot be built is not served, and says why.
func (a *App) mountConsole(mux *http.ServeMux, v1 http.Handler) {
	c, err := console.New(console.Config{API: v1, DevTokens: a.consoleDevTokens, Snapshots: snapshotReader{a.Store}, Log: a.Log})
	if err != nil {
		a.Log.Error("console disabled", "err", err)
		return
	}
	mux.Handle(console.Prefix, c)
	mux.HandleFunc("GET /{$}", console.RedirectRoot)
}
