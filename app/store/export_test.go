package store

// Statements are the store's statements that devtools/floor copies, by the
// names the floor gives its copies (floor_test.go compares them).
var Statements = map[string]string{
	"getTweetSQL":          getTweetSQL,
	"listTweetsAfterIDSQL": listTweetsAfterIDSQL,
	"updateTweetSQL":       updateTweetSQL,
	"tweetOwnerSQL":        tweetOwnerSQL,
	"authenticateSQL":      authenticateSQL,
}
