package main

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strconv"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// runNow runs a command that must return by itself, with a deadline so a
// command that wrongly starts serving fails the spec instead of hanging it.
func runNow(e env, args ...string) (string, error) {
	GinkgoHelper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, append([]string{"api"}, args...), e.get, &out)
	Expect(ctx.Err()).NotTo(HaveOccurred(), "run did not return by itself")
	return out.String(), err
}

var _ = Describe("other commands", func() {
	It("healthcheck succeeds against a running server", func() {
		s := startServer(env{"DATABASE_URL": tdb.DSN})
		_, err := runNow(env{"PORT": strconv.Itoa(s.port)}, "healthcheck")
		Expect(err).NotTo(HaveOccurred())
	})

	It("healthcheck fails when nothing listens", func() {
		_, err := runNow(env{"PORT": strconv.Itoa(freePort())}, "healthcheck")
		Expect(err).To(MatchError(ContainSubstring("healthcheck")))
	})

	It("healthcheck fails when the server does not answer 200", func() {
		srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			w.WriteHeader(http.StatusServiceUnavailable)
		}), ReadHeaderTimeout: 5 * time.Second}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		go func() { _ = srv.Serve(ln) }()
		DeferCleanup(srv.Close)
		_, err = runNow(env{"PORT": strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)}, "healthcheck")
		Expect(err).To(MatchError(ContainSubstring("503")))
	})

	It("version prints the version", func() {
		out, err := runNow(env{}, "version")
		Expect(err).NotTo(HaveOccurred())
		Expect(out).To(Equal(version + "\n"))
		Expect(version).NotTo(BeEmpty())
	})

	DescribeTable("help prints the usage",
		func(arg string) {
			out, err := runNow(env{}, arg)
			Expect(err).NotTo(HaveOccurred())
			Expect(out).To(HavePrefix("usage: api"))
			for _, cmd := range []string{"serve", "migrate up", "migrate down", "migrate status", "migrate create NAME", "healthcheck", "version"} {
				Expect(out).To(ContainSubstring(cmd))
			}
		},
		Entry("help", "help"),
		Entry("-h", "-h"),
		Entry("--help", "--help"),
	)

	It("an unknown command is an error naming it, with the usage", func() {
		out, err := runNow(env{"DATABASE_URL": tdb.DSN}, "frobnicate")
		Expect(err).To(MatchError(ContainSubstring(`unknown command "frobnicate"`)))
		Expect(err.Error()).To(ContainSubstring("usage: api"))
		Expect(out).To(BeEmpty())
	})
})
