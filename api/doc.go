// Package api holds the wire types of Hallmark's REST API (/v1): every request and response
// body, and the RFC 9457 problem details of a refusal. The server (internal/httpapi) decodes
// and encodes these types and converts them to and from its services' own types at the edge;
// the client (package client) and the CLI speak them; the OpenAPI document served at
// /v1/openapi.json is checked against them.
//
// Invariants: the JSON tags are the API, and changing one is a breaking change. The types are
// plain data (strings, numbers, booleans, time.Time as RFC 3339, []byte as base64, raw JSON
// where the API passes a document through) with no behaviour beyond encoding; this package
// imports only the standard library, so any Go program can use it. Enumerated values (states,
// kinds) are strings; their allowed values are listed in the field comments and in the OpenAPI
// document.
package api
