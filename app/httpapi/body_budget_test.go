package httpapi_test

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"

	"github.com/twitter-api/twitter-api/app/httpapi"
)

var _ = Describe("the request body budget", func() {
	// A server on loopback: slow uploads need real connections.
	var base string
	// The largest limit allowed, so a few bodies fill the budget.
	const bodyBytes = httpapi.LargestMaxBodyBytes

	BeforeEach(func() {
		a := httpapi.New(httpapi.Deps{
			Services: tdb.DB.Services(), Ready: readyOver(tdb.DB),
			RequestTimeout: 3 * time.Second, // the wait for room, and each insert's budget
			MaxBodyBytes:   bodyBytes,
		})
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		Expect(err).NotTo(HaveOccurred())
		go func() { _ = a.Listener(ln) }()
		DeferCleanup(func() { _ = a.ShutdownWithTimeout(5 * time.Second) })
		base = ln.Addr().String()
	})

	// prefix is more than fasthttp reads with the headers, so the handler
	// starts and the body waits for room in the budget.
	const prefix = `{"text":"x` + "                " // padded below to 16 KiB

	type upload struct {
		conn net.Conn
		resp chan int // the status, once answered
	}

	// start sends the headers of a 1 MiB POST /tweets and its first 16 KiB,
	// and reads the answer in the background.
	start := func() upload {
		GinkgoHelper()
		c, err := net.Dial("tcp", base)
		Expect(err).NotTo(HaveOccurred())
		DeferCleanup(c.Close)
		head := fmt.Sprintf("POST /tweets HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
			bodyBytes)
		_, err = io.WriteString(c, head+prefix+strings.Repeat(" ", 16<<10-len(prefix)))
		Expect(err).NotTo(HaveOccurred())
		u := upload{conn: c, resp: make(chan int, 1)}
		go func() {
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				u.resp <- 0
				return
			}
			resp.Body.Close()
			u.resp <- resp.StatusCode
		}()
		return u
	}
	// finish sends the rest of the body.
	finish := func(u upload) {
		GinkgoHelper()
		rest := bodyBytes - 16<<10 - len(`"}`)
		_, err := io.WriteString(u.conn, strings.Repeat(" ", rest)+`"}`)
		Expect(err).NotTo(HaveOccurred())
	}

	It("holds at most the budget of bodies at once: one more waits, then gets 503; bodiless and small requests pass", func() {
		slots := httpapi.BodyBudgetBytes / bodyBytes
		var ups []upload
		for range slots + 1 {
			ups = append(ups, start())
		}
		By("exactly one upload finds no room and is refused after its wait")
		refused := -1
		Eventually(func() int {
			for i, u := range ups {
				select {
				case st := <-u.resp:
					Expect(refused).To(Equal(-1), "a second upload was answered")
					Expect(st).To(Equal(http.StatusServiceUnavailable))
					refused = i
				default:
				}
			}
			return refused
		}).WithTimeout(10 * time.Second).WithPolling(20 * time.Millisecond).ShouldNot(Equal(-1))

		By("requests without a body, or with a small one, need no room")
		client := &http.Client{Timeout: 5 * time.Second}
		resp, err := client.Get("http://" + base + "/tweets")
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusOK))
		resp, err = client.Post("http://"+base+"/tweets", "application/json", strings.NewReader(`{"text":"small"}`))
		Expect(err).NotTo(HaveOccurred())
		resp.Body.Close()
		Expect(resp.StatusCode).To(Equal(http.StatusCreated))

		By("the others were waiting for their bodies all along, and complete")
		for i, u := range ups {
			if i == refused {
				continue
			}
			Expect(u.resp).NotTo(Receive(), "upload %d was answered before its body was sent", i)
			finish(u)
			Eventually(u.resp).WithTimeout(10*time.Second).Should(Receive(Equal(http.StatusCreated)), "upload %d", i)
		}
		u := start()
		finish(u)
		Eventually(u.resp).WithTimeout(10*time.Second).Should(Receive(Equal(http.StatusCreated)), "the room is free again")
	})
})
