package apitest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/getkin/kin-openapi/openapi2"
	"github.com/getkin/kin-openapi/openapi2conv"
	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/twitter-api/twitter-api/docs"
)

// router finds a request's operation in docs/swagger.json, converted once
// to OpenAPI 3 (what openapi3filter validates).
var router = sync.OnceValues(func() (routers.Router, error) {
	var doc2 openapi2.T
	if err := json.Unmarshal([]byte(docs.SwaggerInfo.ReadDoc()), &doc2); err != nil {
		return nil, fmt.Errorf("docs: %w", err)
	}
	doc3, err := openapi2conv.ToV3(&doc2)
	if err != nil {
		return nil, fmt.Errorf("docs: convert to OpenAPI 3: %w", err)
	}
	doc3.Servers = openapi3.Servers{{URL: "/"}} // any host: specs use several
	if err := doc3.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("docs: not a valid document: %w", err)
	}
	return gorillamux.NewRouter(doc3)
})

// Documented checks a response against what docs/swagger.json says the
// operation of method and target answers: a documented status, with a body
// and headers of its schema. A request to no documented operation (an
// unknown path or method, the Swagger UI) has nothing to check against.
func Documented(method, target string, status int, header http.Header, body []byte) error {
	rt, err := router()
	if err != nil {
		return err
	}
	req, err := http.NewRequest(method, "http://api"+target, http.NoBody)
	if err != nil {
		return nil // not a URL, so no operation's
	}
	route, params, err := rt.FindRoute(req)
	if err != nil {
		return nil
	}
	opts := &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true}
	err = openapi3filter.ValidateResponse(context.Background(), &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route, Options: opts},
		Status:                 status,
		Header:                 header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                opts,
	})
	if err != nil {
		return fmt.Errorf("%s %s answered %d, which docs/swagger.json does not describe: %s", method, target, status, oneLine(err))
	}
	return nil
}

// oneLine flattens kin-openapi's errors: for a body off its schema, where
// and why, without the schema itself.
func oneLine(err error) string {
	var me openapi3.MultiError
	if errors.As(err, &me) {
		parts := make([]string, len(me))
		for i, e := range me {
			parts[i] = oneLine(e)
		}
		return strings.Join(parts, "; ")
	}
	var se *openapi3.SchemaError
	if errors.As(err, &se) {
		return fmt.Sprintf("body at /%s: %s", strings.Join(se.JSONPointer(), "/"), se.Reason)
	}
	return strings.Join(strings.Fields(err.Error()), " ")
}
