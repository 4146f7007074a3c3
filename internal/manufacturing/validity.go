package manufacturing

import (
	"time"

	"github.com/hallmark-id/hallmark/internal/ca"
	"github.com/hallmark-id/hallmark/internal/failure"
	"github.com/hallmark-id/hallmark/internal/issuance"
)

// checkFactoryValidity resolves a requested factory validity: empty takes "undefined".
func checkFactoryValidity(v string) (string, error) {
	switch v {
	case "":
		return ca.FactoryValidityUndefined, nil
	case ca.FactoryValidityUndefined, ca.FactoryValidityIssuer:
		return v, nil
	}
	return "", failure.New(failure.Invalid, "factory_validity %q: use %q (notAfter 99991231235959Z, IEEE 802.1AR) or %q (the issuing CA's notAfter)",
		v, ca.FactoryValidityUndefined, ca.FactoryValidityIssuer)
}

// factoryNotAfter is the notAfter of a factory certificate of issuer: 802.1AR's undefined
// expiry when the CA says so, else the CA's own notAfter.
func factoryNotAfter(issuer ca.CA) time.Time {
	if issuer.FactoryValidity == ca.FactoryValidityUndefined {
		return issuance.UndefinedNotAfter
	}
	return issuer.Cert.NotAfter
}
