package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// hostileCase is one request a careless or malicious client might send, and
// the statuses the API may answer it with.
type hostileCase struct {
	name    string
	method  string
	path    string
	header  map[string]string
	body    []byte
	want    []int
	noCType bool // send the body without a Content-Type
}

const (
	jsonType  = "application/json"
	missingID = "9223372036854775807" // a valid id nobody has
	// maxProblemBytes bounds a problem document, whatever the request.
	maxProblemBytes = 2048
)

// sendHostile sends the hostile requests through the proxy and returns the
// ones answered with a status other than expected. It creates what they
// need (two users, an authored and an anonymous tweet) through the proxy too.
func sendHostile(ctx context.Context, base string, out io.Writer) []string {
	client := &http.Client{
		Timeout:       30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	var failures []string
	do := func(c hostileCase) (int, []byte) {
		req, err := http.NewRequestWithContext(ctx, c.method, base+c.path, bytes.NewReader(c.body))
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s: %v", c.name, err))
			return 0, nil
		}
		if c.body != nil && !c.noCType {
			req.Header.Set("Content-Type", jsonType)
		}
		for k, v := range c.header {
			req.Header.Set(k, v)
		}
		resp, err := client.Do(req)
		if err != nil {
			failures = append(failures, fmt.Sprintf("%s %s (%s): %v", c.method, c.path, c.name, err))
			return 0, nil
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		ok := len(c.want) == 0 && resp.StatusCode < 500
		for _, w := range c.want {
			ok = ok || resp.StatusCode == w
		}
		mark := "ok  "
		if !ok {
			mark = "FAIL"
			failures = append(failures, fmt.Sprintf("%s %s %d (%s): want %v", c.method, shorten(c.path), resp.StatusCode, c.name, c.want))
		}
		// A refusal stays small whatever was sent, and nothing is sniffed.
		if resp.StatusCode >= 400 && len(body) > maxProblemBytes {
			mark = "FAIL"
			failures = append(failures, fmt.Sprintf("%s %s (%s): a %d-byte problem, over %d", c.method, shorten(c.path), c.name, len(body), maxProblemBytes))
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
			mark = "FAIL"
			failures = append(failures, fmt.Sprintf("%s %s (%s): no X-Content-Type-Options: nosniff", c.method, shorten(c.path), c.name))
		}
		fmt.Fprintf(out, "  %s %-6s %-48s %d  %s\n", mark, c.method, shorten(c.path), resp.StatusCode, c.name)
		return resp.StatusCode, body
	}

	suffix := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	newUser := func(name string) (id, key string) {
		_, body := do(hostileCase{name: "setup: create a user", method: "POST", path: "/users",
			body: fmt.Appendf(nil, `{"username":%q,"email":%q}`, name+suffix, name+suffix+"@example.com"), want: []int{201}})
		var u struct {
			ID     int64  `json:"id"`
			APIKey string `json:"api_key"`
		}
		_ = json.Unmarshal(body, &u)
		return strconv.FormatInt(u.ID, 10), u.APIKey
	}
	newTweet := func(key string) string {
		c := hostileCase{name: "setup: create a tweet", method: "POST", path: "/tweets", body: []byte(`{"text":"contract"}`), want: []int{201}}
		if key != "" {
			c.header = map[string]string{"X-API-Key": key}
		}
		_, body := do(c)
		var t struct {
			ID int64 `json:"id"`
		}
		_ = json.Unmarshal(body, &t)
		return strconv.FormatInt(t.ID, 10)
	}

	fmt.Fprintln(out, "contract: hostile requests")
	userID, key := newUser("hostile_a")
	otherID, otherKey := newUser("hostile_b")
	owned := newTweet(key)
	anon := newTweet("")
	if len(failures) > 0 {
		return failures // nothing below means anything without them
	}

	big := func(n int) []byte {
		return append(append([]byte(`{"text":"`), bytes.Repeat([]byte("a"), n)...), `"}`...)
	}
	deep := append(bytes.Repeat([]byte("["), 100000), bytes.Repeat([]byte("]"), 100000)...)
	flood := func(n int) []byte { // n unknown members after a valid text
		b := []byte(`{"text":"a"`)
		for i := range n {
			b = fmt.Appendf(b, `,"m%d":0`, i)
		}
		return append(b, '}')
	}
	multipartBody := []byte("--b\r\nContent-Disposition: form-data; name=\"text\"; filename=\"a\"\r\n\r\n" +
		strings.Repeat("a", 64<<10) + "\r\n--b--\r\n")
	withKey := func(k string) map[string]string { return map[string]string{"X-API-Key": k} }

	cases := []hostileCase{
		// Malformed JSON.
		{name: "malformed JSON", method: "POST", path: "/tweets", body: []byte(`{"text": `), want: []int{400}},
		{name: "trailing garbage", method: "POST", path: "/tweets", body: []byte(`{"text":"a"} x`), want: []int{400}},
		{name: "two objects", method: "POST", path: "/tweets", body: []byte(`{"text":"a"}{"text":"b"}`), want: []int{400}},
		{name: "array body", method: "POST", path: "/tweets", body: []byte(`["a"]`), want: []int{400}},
		{name: "null body", method: "POST", path: "/users", body: []byte(`null`), want: []int{400}},
		{name: "empty body", method: "PATCH", path: "/tweets/" + anon, body: []byte{}, want: []int{400}},
		{name: "100000 nested arrays, over the body limit", method: "POST", path: "/tweets", body: deep, want: []int{413}},
		{name: "8000 nested arrays", method: "POST", path: "/tweets", body: deep[100000-8000 : 100000+8000], want: []int{400}},
		{name: "raw NUL byte in a string", method: "POST", path: "/tweets", body: []byte("{\"text\":\"a\x00b\"}"), want: []int{400}},
		{name: "repeated member", method: "POST", path: "/tweets", body: []byte(`{"text":"a","text":"b"}`), want: []int{422}},
		{name: "repeated member, escaped", method: "PATCH", path: "/tweets/" + anon, body: []byte(`{"text":"a","t\u0065xt":"b"}`), want: []int{422}},
		{name: "1500 unknown members", method: "POST", path: "/users", body: flood(1500), want: []int{422}},
		// Wrong types and unknown fields.
		{name: "text is a number", method: "POST", path: "/tweets", body: []byte(`{"text":42}`), want: []int{422}},
		{name: "text is an object", method: "PATCH", path: "/tweets/" + anon, body: []byte(`{"text":{"a":1}}`), want: []int{422}},
		{name: "text is null", method: "POST", path: "/tweets", body: []byte(`{"text":null}`), want: []int{422}},
		{name: "username and email wrong types", method: "POST", path: "/users", body: []byte(`{"username":true,"email":[1]}`), want: []int{422}},
		{name: "unknown field", method: "POST", path: "/tweets", body: []byte(`{"text":"a","admin":true}`), want: []int{422}},
		{name: "field name in other case", method: "POST", path: "/tweets", body: []byte(`{"TEXT":"a"}`), want: []int{422}},
		{name: "unknown user field", method: "POST", path: "/users", body: []byte(`{"username":"x` + suffix + `","email":"x@example.com","password":"p"}`), want: []int{422}},
		{name: "escaped NUL in text", method: "POST", path: "/tweets", body: []byte(`{"text":"a\u0000b"}`), want: []int{422}},
		{name: "invalid UTF-8 in text", method: "POST", path: "/tweets", body: []byte("{\"text\":\"a\xff\xfeb\"}"), want: []int{422}},
		{name: "lone surrogate", method: "POST", path: "/tweets", body: []byte(`{"text":"\ud800"}`), want: []int{422}},
		{name: "281 characters", method: "POST", path: "/tweets", body: big(281), want: []int{422}},
		{name: "blank text", method: "PATCH", path: "/tweets/" + anon, body: []byte(`{"text":"  \n\t "}`), want: []int{422}},
		{name: "bad username and email", method: "POST", path: "/users", body: []byte(`{"username":"a b","email":"nope"}`), want: []int{422}},
		{name: "taken username", method: "POST", path: "/users", body: []byte(`{"username":"hostile_a` + suffix + `","email":"new` + suffix + `@example.com"}`), want: []int{409}},
		// Huge bodies.
		{name: "2 MiB text", method: "POST", path: "/tweets", body: big(2 << 20), want: []int{413}},
		{name: "2 MiB user", method: "POST", path: "/users", body: big(2 << 20), want: []int{413}},
		{name: "2 MiB body on DELETE", method: "DELETE", path: "/tweets/" + missingID, body: big(2 << 20), want: []int{413}},
		{name: "2 MiB body on GET", method: "GET", path: "/tweets", body: big(2 << 20), want: []int{413}},
		{name: "2 MiB body on PATCH", method: "PATCH", path: "/tweets/" + anon, body: big(2 << 20), want: []int{413}},
		{name: "text over the 16 KiB limit", method: "POST", path: "/tweets", body: big(16 << 10), want: []int{413}},
		{name: "a small body on GET", method: "GET", path: "/tweets/" + missingID, body: []byte(`{}`), want: []int{413}},
		// Content types.
		{name: "no Content-Type", method: "POST", path: "/tweets", body: []byte(`{"text":"a"}`), noCType: true, want: []int{415}},
		{name: "text/plain", method: "POST", path: "/tweets", body: []byte(`{"text":"a"}`), header: map[string]string{"Content-Type": "text/plain"}, want: []int{415}},
		{name: "form", method: "PATCH", path: "/tweets/" + anon, body: []byte(`text=a`), header: map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, want: []int{415}},
		{name: "latin-1 charset", method: "POST", path: "/users", body: []byte(`{}`), header: map[string]string{"Content-Type": "application/json; charset=latin1"}, want: []int{415}},
		{name: "gzip encoding", method: "POST", path: "/tweets", body: []byte(`{"text":"a"}`), header: map[string]string{"Content-Encoding": "gzip"}, want: []int{415}},
		{name: "multipart upload", method: "POST", path: "/tweets", body: multipartBody, header: map[string]string{"Content-Type": "multipart/form-data; boundary=b"}, want: []int{415}},
		// Ids.
		{name: "non-numeric id", method: "GET", path: "/tweets/abc", want: []int{400}},
		{name: "zero id", method: "GET", path: "/tweets/0", want: []int{400}},
		{name: "negative id", method: "DELETE", path: "/tweets/-1", want: []int{400}},
		{name: "fractional id", method: "PATCH", path: "/tweets/1.5", body: []byte(`{"text":"a"}`), want: []int{400}},
		{name: "id above 2^63", method: "GET", path: "/tweets/9223372036854775808", want: []int{400}},
		{name: "escaped NUL id", method: "GET", path: "/users/%00", want: []int{400}},
		{name: "invalid UTF-8 id", method: "GET", path: "/users/%FF%FE/tweets", want: []int{400}},
		{name: "missing tweet", method: "GET", path: "/tweets/" + missingID, want: []int{404}},
		{name: "missing user", method: "GET", path: "/users/" + missingID, want: []int{404}},
		{name: "missing user's tweets", method: "GET", path: "/users/" + missingID + "/tweets", want: []int{404}},
		{name: "change a missing tweet", method: "PATCH", path: "/tweets/" + missingID, body: []byte(`{"text":"a"}`), want: []int{404}},
		// Query parameters.
		{name: "limit not a number", method: "GET", path: "/tweets?limit=ten", want: []int{400}},
		{name: "limit 0", method: "GET", path: "/tweets?limit=0", want: []int{422}},
		{name: "limit 201", method: "GET", path: "/users/" + userID + "/tweets?limit=201", want: []int{422}},
		{name: "limit above 2^63", method: "GET", path: "/tweets?limit=99999999999999999999", want: []int{422}},
		{name: "negative after_id", method: "GET", path: "/tweets?after_id=-1", want: []int{422}},
		{name: "after_id with NUL", method: "GET", path: "/tweets?after_id=%00", want: []int{400}},
		// Keys.
		{name: "unknown key on create", method: "POST", path: "/tweets", body: []byte(`{"text":"a"}`), header: withKey("tw_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), want: []int{401}},
		{name: "malformed key", method: "POST", path: "/tweets", body: []byte(`{"text":"a"}`), header: withKey("not a key"), want: []int{401}},
		{name: "long key", method: "POST", path: "/tweets", body: []byte(`{"text":"a"}`), header: withKey(strings.Repeat("k", 1000)), want: []int{401}},
		{name: "new key for another user", method: "POST", path: "/users/" + otherID + "/keys", header: withKey(key), want: []int{403}},
		{name: "new key without a key", method: "POST", path: "/users/" + userID + "/keys", want: []int{401}},
		{name: "new key, array body", method: "POST", path: "/users/" + userID + "/keys", body: []byte(`["revoke"]`), header: withKey(key), want: []int{400}},
		{name: "new key, previous_keys a number", method: "POST", path: "/users/" + userID + "/keys", body: []byte(`{"previous_keys":0}`), header: withKey(key), want: []int{422}},
		{name: "new key, text/plain body", method: "POST", path: "/users/" + userID + "/keys", body: []byte(`revoke`), header: map[string]string{"Content-Type": "text/plain", "X-API-Key": key}, want: []int{415}},
		{name: "new key, 2 MiB body", method: "POST", path: "/users/" + userID + "/keys", body: big(2 << 20), header: withKey(key), want: []int{413}},
		{name: "revoke the current key alone", method: "DELETE", path: "/users/" + userID + "/keys/current", header: withKey(key), want: []int{409}},
		{name: "revoke another user's key", method: "DELETE", path: "/users/" + otherID + "/keys/current", header: withKey(key), want: []int{403}},
		{name: "delete another user's account", method: "DELETE", path: "/users/" + otherID, header: withKey(key), want: []int{403}},
		{name: "delete an account without a key", method: "DELETE", path: "/users/" + userID, want: []int{401}},
		{name: "delete an account, id above 2^63", method: "DELETE", path: "/users/9223372036854775808", header: withKey(key), want: []int{400}},
		// Bodiless, so the proxy writes the whole request before the API
		// answers 431 and closes.
		{name: "20 kB of headers", method: "GET", path: "/tweets/" + owned, header: map[string]string{"X-Padding": strings.Repeat("p", 20000)}, want: []int{431}},
		{name: "20 kB query string", method: "GET", path: "/tweets?after_id=" + strings.Repeat("9", 20000), want: []int{431}},
		{name: "change without a key", method: "PATCH", path: "/tweets/" + owned, body: []byte(`{"text":"a"}`), want: []int{401}},
		{name: "delete with another's key", method: "DELETE", path: "/tweets/" + owned, header: withKey(otherKey), want: []int{403}},
		{name: "change with another's key", method: "PATCH", path: "/tweets/" + owned, body: []byte(`{"text":"a"}`), header: withKey(otherKey), want: []int{403}},
		// What must keep working among them.
		{name: "anonymous tweet", method: "POST", path: "/tweets", body: []byte(`{"text":"anonymous"}`), want: []int{201}},
		{name: "change an anonymous tweet without a key", method: "PATCH", path: "/tweets/" + anon, body: []byte(`{"text":"changed"}`), want: []int{200}},
		{name: "get an authored tweet", method: "GET", path: "/tweets/" + owned, want: []int{200}},
		{name: "list with anonymous tweets", method: "GET", path: "/tweets?after_id=" + strconv.Itoa(max(0, atoi(anon)-5)), want: []int{200}},
		{name: "a user's tweets", method: "GET", path: "/users/" + userID + "/tweets", want: []int{200}},
		{name: "root redirect", method: "GET", path: "/", want: []int{302}},
		{name: "readiness", method: "GET", path: "/readyz", want: []int{200}},
		{name: "delete an anonymous tweet without a key", method: "DELETE", path: "/tweets/" + anon, want: []int{204}},
		{name: "delete an authored tweet with its key", method: "DELETE", path: "/tweets/" + owned, header: withKey(key), want: []int{204}},
		{name: "new key, the old one kept for the overlap", method: "POST", path: "/users/" + otherID + "/keys", header: withKey(otherKey), want: []int{201}},
		{name: "the old key still works", method: "POST", path: "/tweets", body: []byte(`{"text":"overlap"}`), header: withKey(otherKey), want: []int{201}},
		// Outside the document: no operation to check, only no 5xx.
		{name: "unknown route", method: "GET", path: "/no-such-route", want: []int{404}},
		{name: "method not allowed", method: "PUT", path: "/tweets/1", body: []byte(`{"text":"a"}`), want: []int{405}},
		{name: "unknown method", method: "PROPFIND", path: "/tweets", want: []int{405}},
	}
	for _, c := range cases {
		do(c)
	}
	fmt.Fprintf(out, "contract: %d hostile requests sent\n", len(cases)+4)
	return failures
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func shorten(s string) string {
	if len(s) > 48 {
		return s[:45] + "..."
	}
	return s
}
