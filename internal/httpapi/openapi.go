package httpapi

import _ "embed"

// OpenAPI is the API description served at /v1/openapi.json. TestOpenAPICoversRoutes keeps it
// in step with the routes.
//
//go:embed openapi.json
var OpenAPI []byte
