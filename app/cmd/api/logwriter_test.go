package main

import (
	"bytes"
	"fmt"
	"strings"
	"sync"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
)

// lockedBuffer is an io.Writer that counts its writes.
type lockedBuffer struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.writes++
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

var _ = Describe("the log writer", func() {
	It("writes every line, whole and in each writer's order, by Close", func() {
		out := &lockedBuffer{}
		w := newLogWriter(out)
		const writers, lines = 8, 2000
		var wg sync.WaitGroup
		for g := range writers {
			wg.Go(func() {
				for i := range lines {
					_, _ = fmt.Fprintf(w, "writer %d line %d %s\n", g, i, strings.Repeat("x", i%300))
				}
			})
		}
		wg.Wait()
		Expect(w.Close()).To(Succeed())

		got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
		Expect(got).To(HaveLen(writers * lines))
		next := make([]int, writers)
		for _, l := range got {
			var g, i int
			_, err := fmt.Sscanf(l, "writer %d line %d", &g, &i)
			Expect(err).NotTo(HaveOccurred(), l)
			Expect(i).To(Equal(next[g]), "writer %d's lines out of order", g)
			Expect(l).To(HaveSuffix(" " + strings.Repeat("x", i%300)))
			next[g]++
		}
		Expect(out.writes).To(BeNumerically("<", writers*lines), "lines are batched")
	})

	It("takes writes that race Close, losing none", func() {
		for range 5000 {
			out := &lockedBuffer{}
			w := newLogWriter(out)
			const writers, lines = 4, 20
			var wg sync.WaitGroup
			for g := range writers {
				wg.Go(func() {
					for i := range lines {
						_, _ = fmt.Fprintf(w, "writer %d line %d\n", g, i)
					}
				})
			}
			Expect(w.Close()).To(Succeed())
			wg.Wait()
			Expect(strings.Count(out.String(), "\n")).To(Equal(writers * lines))
		}
	})

	It("writes a line soon without Close, and straight through after it", func() {
		out := &lockedBuffer{}
		w := newLogWriter(out)
		_, _ = w.Write([]byte("one\n"))
		Eventually(out.String).Should(Equal("one\n"))
		Expect(w.Close()).To(Succeed())
		Expect(w.Close()).To(Succeed())
		_, _ = w.Write([]byte("two\n"))
		Expect(out.String()).To(Equal("one\ntwo\n"))
	})
})
