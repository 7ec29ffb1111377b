package store_test

import (
	"context"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/internal/testdb"
	"github.com/twitter-api/twitter-api/app/store"
	"github.com/twitter-api/twitter-api/app/twitter"
)

func TestStore(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "Store Suite")
}

var tdb = testdb.Suite("store")

// The stores the specs use, made afresh for each spec.
var (
	tweets *store.Tweets
	users  *store.Users
)

var _ = BeforeEach(func() {
	tweets = store.NewTweets(tdb.DB)
	users = store.NewUsers(tdb.DB)
})

// newUser stores a user named name and returns it with its API key.
func newUser(ctx context.Context, name string) (twitter.User, string) {
	GinkgoHelper()
	key, hash := twitter.NewAPIKey()
	u, err := users.Create(ctx, twitter.NewUser{Username: name, Email: name + "@example.com"}, hash)
	Expect(err).NotTo(HaveOccurred())
	return u, key
}
