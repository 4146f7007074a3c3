package httpapi

// Conversions between the wire types of package api and the services' own types. The
// handlers decode api types, convert them to service requests, and convert what the services
// return back to api types before encoding: the services' types are not the API's.

// each converts every element; nil stays nil (the JSON null the service value had).
func each[T, U any](in []T, f func(T) U) []U {
	if in == nil {
		return nil
	}
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}

// ptr converts a pointer's target; nil stays nil.
func ptr[T, U any](in *T, f func(T) U) *U {
	if in == nil {
		return nil
	}
	out := f(*in)
	return &out
}
