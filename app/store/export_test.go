package store

import "github.com/uptrace/bun"

// Bun is db's Bun handle, for the store's specs that work on the pool
// itself: holding its connections, or writing behind the store's back on
// them. Other packages' specs use testdb.SQL.
func (db *DB) Bun() *bun.DB { return db.bun }

// Statements are the store's statements that devtools/floor copies, by the
// names the floor gives its copies (floor_test.go compares them).
var Statements = map[string]string{
	"getTweetSQL":          getTweetSQL,
	"listTweetsAfterIDSQL": listTweetsAfterIDSQL,
	"updateTweetSQL":       updateTweetSQL,
	"tweetOwnerSQL":        tweetOwnerSQL,
	"authenticateSQL":      authenticateSQL,
}
