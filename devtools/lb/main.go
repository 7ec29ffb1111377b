// Command lb is the load balancer in front of the replicas in
// `make replicas-test`: round robin over the backends whose /readyz answers
// 200, checked actively every CHECK_INTERVAL. A request is sent to a second
// backend only when it was never delivered to the first (the connection was
// refused, or the dial failed), so a create is never applied twice; any
// other failure is the client's 502. GET /status on ADMIN_ADDR reports each
// backend's state and since when, in Unix nanoseconds.
package main

import (
	"context"
	"os"
)

func main() {
	if err := run(context.Background(), os.Args, os.Getenv, os.Stdout); err != nil {
		os.Stderr.WriteString("lb: " + err.Error() + "\n")
		os.Exit(1)
	}
}
