package httpapi

import (
	"encoding/json"

	"github.com/twitter-api/twitter-api/app/twitter"
)

// TweetJSON is what the API writes for t.
func TweetJSON(t twitter.Tweet) []byte { return appendTweet(nil, t) }

// TweetJSONReference is what encoding/json makes of the documented
// response type for t.
func TweetJSONReference(t twitter.Tweet) ([]byte, error) { return json.Marshal(newTweetResponse(t)) }
