package config

import (
	"path"
	"runtime/debug"
	"strconv"
	"strings"
)

// DefaultServiceName is OTEL_SERVICE_NAME when unset: the last element of
// the module path, so the service is named where its module is (make
// rename rewrites the module path) and nowhere else.
var DefaultServiceName = moduleName()

func moduleName() string {
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path != "" {
		return path.Base(bi.Main.Path)
	}
	return "api" // a binary built without module information
}

// Tracing is read from the standard OpenTelemetry variables. Tracing is on
// only when an OTLP endpoint is set: otherwise nothing is started, recorded
// or exported. The exporter reads the rest of the standard variables
// (OTEL_EXPORTER_OTLP_TIMEOUT, _COMPRESSION, _CERTIFICATE, OTEL_BSP_*)
// from the process environment itself.
type Tracing struct {
	// Endpoint is the full OTLP/HTTP traces URL, such as
	// http://jaeger:4318/v1/traces; empty turns tracing off.
	Endpoint string
	// Headers are sent with every export, for backends that want a key.
	Headers     map[string]string
	ServiceName string
	// ResourceAttributes describe the process (OTEL_RESOURCE_ATTRIBUTES).
	ResourceAttributes map[string]string
	// Sampler is an OTEL_TRACES_SAMPLER name; SamplerArg is the ratio of
	// the traceidratio samplers.
	Sampler    string
	SamplerArg float64
}

// Enabled reports whether traces are exported.
func (t Tracing) Enabled() bool { return t.Endpoint != "" }

// Samplers are the OTEL_TRACES_SAMPLER values understood.
var Samplers = []string{"parentbased_always_on", "parentbased_always_off", "parentbased_traceidratio",
	"always_on", "always_off", "traceidratio"}

// tracing reads the OpenTelemetry variables this service honours.
func (r *reader) tracing() Tracing {
	t := Tracing{
		ServiceName:        r.lookup("OTEL_SERVICE_NAME"),
		ResourceAttributes: r.pairs("OTEL_RESOURCE_ATTRIBUTES"),
		Sampler:            r.oneOf("OTEL_TRACES_SAMPLER", Samplers[0], Samplers...),
		SamplerArg:         1,
	}
	if t.ServiceName == "" {
		t.ServiceName = t.ResourceAttributes["service.name"]
	}
	if t.ServiceName == "" {
		t.ServiceName = DefaultServiceName
	}
	// Only the traceidratio samplers use it, but a wrong one is refused anyway.
	if v := r.lookup("OTEL_TRACES_SAMPLER_ARG"); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			r.fail("OTEL_TRACES_SAMPLER_ARG", "must be a ratio from 0 to 1, got %q", v)
		} else if strings.HasSuffix(t.Sampler, "traceidratio") {
			t.SamplerArg = f
		}
	}
	for _, name := range []string{"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL"} {
		if v := r.lookup(name); v != "" && v != "http/protobuf" {
			r.fail(name, "must be http/protobuf: this service exports OTLP over HTTP only, got %q", v)
		}
	}
	headers := r.pairs("OTEL_EXPORTER_OTLP_HEADERS")
	for k, v := range r.pairs("OTEL_EXPORTER_OTLP_TRACES_HEADERS") {
		if headers == nil {
			headers = map[string]string{}
		}
		headers[k] = v
	}
	t.Headers = headers
	// The signal's own URL is used as it is; the base URL gets the
	// traces path, as the OTLP specification says.
	endpoint := r.url("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
	if endpoint == "" {
		if base := r.url("OTEL_EXPORTER_OTLP_ENDPOINT"); base != "" {
			endpoint = strings.TrimSuffix(base, "/") + "/v1/traces"
		}
	}
	exporter := r.oneOf("OTEL_TRACES_EXPORTER", "otlp", "otlp", "none")
	if exporter == "otlp" && !strings.EqualFold(r.lookup("OTEL_SDK_DISABLED"), "true") {
		t.Endpoint = endpoint
	}
	return t
}
