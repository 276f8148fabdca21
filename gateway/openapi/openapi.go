// Package openapi embeds the OpenAPI (Swagger 2.0) document generated from the
// protos by protoc-gen-openapiv2 (`make generate`).
package openapi

import _ "embed"

// Document is the REST API's OpenAPI document.
//
//go:embed portal.swagger.json
var Document []byte
