package httpapi

import (
	"net"
	"net/http"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/party"
	"github.com/hallmark-id/hallmark/internal/signin"
)

// authRoutes are sign-in with OpenID Connect (signin.Service): providers and bindings, the
// login flow, sessions, and the dev sign-in of serve --dev.
func (s *Server) authRoutes() {
	s.handle("PUT", "/v1/auth/providers/{party}", s.setSigninProvider)
	s.handle("GET", "/v1/auth/providers/{party}", s.getSigninProvider)
	s.handle("GET", "/v1/auth/providers/{party}/bindings", s.listSigninBindings)
	s.handle("PUT", "/v1/auth/providers/{party}/bindings/{value}", s.bindSignin)
	s.handle("DELETE", "/v1/auth/providers/{party}/bindings/{value}", s.unbindSignin)
	s.public("POST", "/v1/auth/start", s.startSignin)
	s.public("POST", "/v1/auth/finish", s.finishSignin)
	s.handle("DELETE", "/v1/auth/sessions/{id}", s.revokeSession)
	s.public("POST", "/v1/auth/dev", s.devSignin)
}

func (s *Server) signinService() (*signin.Service, error) {
	if s.signin == nil {
		return nil, failure.New(failure.Unavailable, "sign-in is not configured on this server")
	}
	return s.signin, nil
}

func (s *Server) setSigninProvider(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	svc, err := s.signinService()
	if err != nil {
		return err
	}
	var req api.SigninProviderRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	out, err := svc.SetProvider(r.Context(), actor(p), fromSigninProviderRequest(r.PathValue("party"), req))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toSigninProvider(out))
}

func (s *Server) getSigninProvider(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	svc, err := s.signinService()
	if err != nil {
		return err
	}
	out, err := svc.Provider(r.Context(), actor(p), r.PathValue("party"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toSigninProvider(out))
}

func (s *Server) listSigninBindings(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	svc, err := s.signinService()
	if err != nil {
		return err
	}
	bs, err := svc.Bindings(r.Context(), actor(p), r.PathValue("party"))
	if err != nil {
		return err
	}
	out := make([]api.SigninBinding, 0, len(bs))
	for _, b := range bs {
		out = append(out, toSigninBinding(b))
	}
	return writeJSON(w, 200, list(out))
}

func (s *Server) bindSignin(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	svc, err := s.signinService()
	if err != nil {
		return err
	}
	var req api.BindRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	b, err := svc.Bind(r.Context(), actor(p), r.PathValue("party"), r.PathValue("value"), req.PrincipalID)
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toSigninBinding(b))
}

func (s *Server) unbindSignin(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	svc, err := s.signinService()
	if err != nil {
		return err
	}
	if err := svc.Unbind(r.Context(), actor(p), r.PathValue("party"), r.PathValue("value")); err != nil {
		return err
	}
	w.WriteHeader(204)
	return nil
}

// startSignin is public: it returns the provider's authorization URL (state, nonce, PKCE).
func (s *Server) startSignin(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.signinService()
	if err != nil {
		return err
	}
	var req api.SigninStartRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	out, err := svc.Start(r.Context(), signin.StartRequest{PartyID: req.Party, RedirectURI: req.RedirectURI})
	if err != nil {
		return err
	}
	return writeJSON(w, 200, api.SigninStart{AuthorizationURL: out.AuthorizationURL, State: out.State, ExpiresAt: out.ExpiresAt})
}

// finishSignin is public: the state and code prove the sign-in; it answers with a session.
func (s *Server) finishSignin(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.signinService()
	if err != nil {
		return err
	}
	var req api.SigninFinishRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	out, err := svc.Finish(r.Context(), signin.FinishRequest{State: req.State, Code: req.Code})
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toSessionWithToken(out))
}

func (s *Server) revokeSession(w http.ResponseWriter, r *http.Request, p party.Principal) error {
	svc, err := s.signinService()
	if err != nil {
		return err
	}
	out, err := svc.Revoke(r.Context(), actor(p), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, 200, toSession(out))
}

// devSignin exists only under serve --dev (the service refuses otherwise) and only for
// clients on loopback.
func (s *Server) devSignin(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.signinService()
	if err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(r.RemoteAddr)
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return failure.New(failure.Denied, "dev sign-in answers only clients on loopback")
	}
	var req api.DevSigninRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	out, err := svc.DevSignIn(r.Context(), req.Person)
	if err != nil {
		return err
	}
	return writeJSON(w, 201, toSessionWithToken(out))
}
