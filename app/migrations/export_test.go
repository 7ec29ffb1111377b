package migrations

// NewFromFS lets tests run migration sets other than the embedded one.
var NewFromFS = newFromFS
