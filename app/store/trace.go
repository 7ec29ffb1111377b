package store

import (
	"context"

	"github.com/DataDog/go-sqllexer"
	"github.com/exaring/otelpgx"
	"github.com/jackc/pgx/v5"
	"go.opentelemetry.io/otel/trace"
)

// sqlTracer is otelpgx's pgx tracer (a client span a statement, with its
// rows and its error) that records each statement's text with its literal
// values replaced by ?: Bun writes values into the text itself, and a trace
// must never carry them. Texts with $n parameters pass unchanged, and the
// parameters are never recorded.
type sqlTracer struct {
	*otelpgx.Tracer
	obfuscator *sqllexer.Obfuscator
}

func newSQLTracer(tp trace.TracerProvider) *sqlTracer {
	return &sqlTracer{
		Tracer: otelpgx.NewTracer(otelpgx.WithTracerProvider(tp),
			// The address, port, user and database are the same on every span.
			otelpgx.WithDisableConnectionDetailsInAttributes()),
		obfuscator: sqllexer.NewObfuscator(),
	}
}

func (t *sqlTracer) normalize(ctx context.Context, query string) string {
	if !trace.SpanFromContext(ctx).IsRecording() {
		return query // no span is started: not worth the work
	}
	return t.obfuscator.Obfuscate(query, sqllexer.WithDBMS(sqllexer.DBMSPostgres))
}

func (t *sqlTracer) TraceQueryStart(ctx context.Context, conn *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	data.SQL = t.normalize(ctx, data.SQL)
	return t.Tracer.TraceQueryStart(ctx, conn, data)
}

func (t *sqlTracer) TracePrepareStart(ctx context.Context, conn *pgx.Conn, data pgx.TracePrepareStartData) context.Context {
	data.SQL = t.normalize(ctx, data.SQL)
	return t.Tracer.TracePrepareStart(ctx, conn, data)
}

func (t *sqlTracer) TraceBatchQuery(ctx context.Context, conn *pgx.Conn, data pgx.TraceBatchQueryData) {
	data.SQL = t.normalize(ctx, data.SQL)
	t.Tracer.TraceBatchQuery(ctx, conn, data)
}
