package httpapi

import (
	"mime"
	"strings"

	"github.com/gofiber/fiber/v2"
)

// checkJSONHeaders refuses bodies that are not declared as uncompressed
// JSON in UTF-8. The header's value is not repeated: nothing the client
// sent is echoed.
func checkJSONHeaders(c *fiber.Ctx) error {
	ct := c.Get(fiber.HeaderContentType)
	// The usual spellings skip the parser and its allocations.
	isJSON := ct == fiber.MIMEApplicationJSON || ct == fiber.MIMEApplicationJSONCharsetUTF8
	if !isJSON {
		mt, params, err := mime.ParseMediaType(ct)
		isJSON = err == nil && (mt == fiber.MIMEApplicationJSON ||
			(strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json")))
		if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
			isJSON = false
		}
	}
	if !isJSON {
		return &requestError{status: fiber.StatusUnsupportedMediaType,
			detail: "Content-Type must be application/json (in UTF-8); multipart and form bodies are not read"}
	}
	// Compressed bodies are refused: their size after inflating is
	// unbounded, and JSON this small gains nothing from compression.
	if enc := c.Get(fiber.HeaderContentEncoding); enc != "" && !strings.EqualFold(enc, "identity") {
		return &requestError{status: fiber.StatusUnsupportedMediaType,
			detail: "a Content-Encoding other than identity is not supported; send the body uncompressed"}
	}
	return nil
}
