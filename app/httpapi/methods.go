package httpapi

import (
	"slices"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"
)

// refuseUnknownMethods wraps the server's handler: a method Fiber does not
// know (PROPFIND, BREW) gets the problem JSON of a 405, or 404 for an
// unknown path, where Fiber would answer a text/plain 400 without running
// any middleware.
func refuseUnknownMethods(app *fiber.App, errHandler fiber.ErrorHandler) {
	next := app.Server().Handler
	known := app.Config().RequestMethods
	app.Server().Handler = func(ctx *fasthttp.RequestCtx) {
		if slices.Contains(known, string(ctx.Method())) {
			next(ctx)
			return
		}
		c := app.AcquireCtx(ctx)
		defer app.ReleaseCtx(c)
		_ = errHandler(c, fiber.ErrMethodNotAllowed)
	}
}

// routeTable answers which methods a path has: Fiber v2 sets no Allow
// header on its 405s, and knows nothing of a method it does not support.
type routeTable struct {
	routes []fiber.Route
}

func (t *routeTable) load(app *fiber.App) { t.routes = app.GetRoutes(true) }

// allow lists the methods of the routes matching path, "" when none does.
func (t *routeTable) allow(path string) string {
	var methods []string
	for _, r := range t.routes {
		if matchPath(r.Path, path) && !slices.Contains(methods, r.Method) {
			methods = append(methods, r.Method)
		}
	}
	return strings.Join(methods, ", ")
}

// matchPath reports whether path matches a route pattern of this API:
// literal segments, ":name" for one non-empty segment, a final "*" for the
// rest.
func matchPath(pattern, path string) bool {
	for {
		if pattern == "*" {
			return true
		}
		p, prest, pmore := strings.Cut(pattern, "/")
		s, srest, smore := strings.Cut(path, "/")
		if p != s && (!strings.HasPrefix(p, ":") || s == "") {
			return false
		}
		if !pmore || !smore {
			return pmore == smore || (prest == "*" && !smore)
		}
		pattern, path = prest, srest
	}
}
