package httpapi_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twitter-api/twitter-api/app/httpapi"
	"github.com/twitter-api/twitter-api/app/store"
	"github.com/twitter-api/twitter-api/app/twitter"
)

// FuzzRequest sends arbitrary bodies, content types and API keys to every
// route that reads a body, and checks what hostile input must never get: a
// 5xx, a panic, or an answer over a few KB. The domain behind the API
// echoes what it is given: decoding is under test, not the store (the
// Ginkgo suites run every route against PostgreSQL).
//
//	go test -run '^$' -fuzz '^FuzzRequest$' -fuzztime 30s -fuzzminimizetime 2s ./app/httpapi   (make fuzz)
//
// Minimizing is capped: by default each new interesting input is minimized
// for up to a minute, and a 30 s run would spend most of its time there
// (about 9,000 executions instead of 33,000 on a loaded 2-core machine).
func FuzzRequest(f *testing.F) {
	seeds := []string{
		`{"text":"hello"}`,
		`{"username":"ada_lovelace","email":"ada@example.com"}`,
		`{"previous_keys":"revoke"}`,
		`{"text":"a","text":"b"}`,
		`{"te\u0078t":"escaped","x":{"y":[1,2,{"z":null}]}}`,
		`{"text":"\ud800"}`,
		"{\"text\":\"a\xffb\"}",
		`{"text":"` + strings.Repeat("\\u00e9", 300) + `"}`,
		`{"text":1e999999}`,
		`{"text":` + strings.Repeat("[", 3000) + strings.Repeat("]", 3000) + `}`,
		`{"a":0,"b":0,"c":0,"d":0,"e":0,"f":0,"g":0}`,
		`{"text":"ok"} x`,
		"\ufeff{}",
		`[]`, `null`, ``, `{`,
	}
	for i, s := range seeds {
		f.Add(uint8(i), s, "application/json", "")
	}
	f.Add(uint8(0), "--b\r\n\r\nx\r\n--b--", "multipart/form-data; boundary=b", "")
	f.Add(uint8(3), `{"previous_keys":1}`, "application/json", "tw_key")
	f.Add(uint8(1), `{"username":"x\u202e","email":"\u0007@a.b"}`, "application/merge-patch+json", "")

	app := httpapi.New(httpapi.Deps{Services: echoServices(), Ready: alwaysReady{}})
	routes := []struct{ method, path string }{
		{http.MethodPost, "/tweets"},
		{http.MethodPost, "/users"},
		{http.MethodPatch, "/tweets/1"},
		{http.MethodPost, "/users/1/keys"},
	}
	f.Fuzz(func(t *testing.T, route uint8, body, contentType, key string) {
		rt := routes[int(route)%len(routes)]
		// A header value with a line break would smuggle headers of its
		// own (a Content-Length larger than the body, and the server
		// waits for the rest): not what this target is about.
		if strings.ContainsAny(contentType+key, "\r\n\x00") {
			t.Skip("a header value net/http would not send")
		}
		r := httptest.NewRequest(rt.method, rt.path, strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		if key != "" {
			r.Header.Set("X-API-Key", key)
		}
		resp, err := app.Test(r, 10_000) // ms: a request the API does not answer fails
		switch {
		case err != nil && strings.Contains(err.Error(), "timeout"):
			t.Fatalf("%s %s: no answer: %v", rt.method, rt.path, err)
		case err != nil:
			// fasthttp refused the request before any handler, and app.Test
			// returns its error, not the problem the client gets (the
			// suite's onServer specs check those).
			t.Skip(err)
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode >= 500 {
			t.Fatalf("%s %s: %d %s", rt.method, rt.path, resp.StatusCode, out)
		}
		if len(out) > maxAnswerBytes {
			t.Fatalf("%s %s: a %d-byte answer: %.200s", rt.method, rt.path, len(out), out)
		}
		if resp.StatusCode >= 400 && resp.Header.Get("Content-Type") != "application/problem+json" {
			t.Fatalf("%s %s: %d as %q", rt.method, rt.path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
	})
}

// maxAnswerBytes bounds any answer: a tweet of 280 four-byte characters,
// escaped, or a problem naming five clipped unknown members.
const maxAnswerBytes = 4096

// echoServices are domain services that store nothing and return what they
// are given. The embedded interfaces are nil: the routes fuzzed call only
// the methods written here. The other services are a store's over no
// database, never called: the routes that take them are built, and a new
// service needs no line here.
func echoServices() twitter.Services {
	s := new(store.DB).Services()
	s.Tweets, s.Users = echoTweets{}, echoUsers{}
	return s
}

type echoTweets struct{ twitter.TweetService }

func (echoTweets) Create(_ context.Context, text string, author *twitter.User) (twitter.Tweet, error) {
	return echoTweet(1, text, author), nil
}

func (echoTweets) Update(_ context.Context, id int64, text string, actor *twitter.User) (twitter.Tweet, error) {
	return echoTweet(id, text, actor), nil
}

func echoTweet(id int64, text string, u *twitter.User) twitter.Tweet {
	t := twitter.Tweet{ID: id, Text: text, CreatedAt: time.Unix(0, 0), UpdatedAt: time.Unix(0, 0)}
	if u != nil {
		t.Author = &twitter.Author{ID: u.ID, Username: u.Username}
	}
	return t
}

type echoUsers struct{ twitter.UserService }

func (echoUsers) Create(_ context.Context, u twitter.NewUser, _ []byte) (twitter.User, error) {
	return twitter.User{ID: 1, Username: u.Username, Email: u.Email, CreatedAt: time.Unix(0, 0)}, nil
}

// ByAPIKey knows every key: the body, not the key, is under test.
func (echoUsers) ByAPIKey(context.Context, string) (twitter.User, error) {
	return twitter.User{ID: 1, Username: "fuzz"}, nil
}

func (echoUsers) RotateKey(context.Context, int64, string, []byte, time.Duration) (twitter.KeyRotation, error) {
	return twitter.KeyRotation{CreatedAt: time.Unix(0, 0), PreviousExpireAt: time.Unix(0, 0)}, nil
}

type alwaysReady struct{}

func (alwaysReady) Ready(context.Context) error { return nil }
