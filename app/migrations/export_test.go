package migrations

// NewFromFS lets tests run migration sets other than the embedded one.
var NewFromFS = newFromFS

// LockKey is the advisory lock migrations run under.
const LockKey = lockKey
