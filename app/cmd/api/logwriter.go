package main

import (
	"io"
	"sync"
)

// maxPendingLog bounds the log bytes waiting to be written; a writer that
// finds this much waiting writes it out itself.
const maxPendingLog = 256 << 10

// logWriter hands log lines to a goroutine that writes them in batches: under
// load one write(2) carries many access-log lines instead of every request
// paying for its own, which was a tenth of a request's CPU. At rest a line is
// written as soon as the goroutine wakes. Lines keep their order, and Close
// writes whatever is left, so only a crash of the process can lose the last
// moment's lines (a panic in a handler is recovered, not a crash).
type logWriter struct {
	out     io.Writer
	writing sync.Mutex // held while writing to out, so batches keep their order
	mu      sync.Mutex // guards pending, closed and sending on wake
	pending []byte
	spare   []byte // the previous batch's buffer, reused; guarded by writing
	closed  bool
	wake    chan struct{}
	done    chan struct{}
}

func newLogWriter(out io.Writer) *logWriter {
	w := &logWriter{out: out, wake: make(chan struct{}, 1), done: make(chan struct{})}
	go w.loop()
	return w
}

// Write queues p, a whole log line, and returns at once.
func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	for !w.closed && len(w.pending) > 0 && len(w.pending)+len(p) > maxPendingLog {
		w.mu.Unlock()
		w.flush()
		w.mu.Lock()
	}
	w.pending = append(w.pending, p...)
	if w.closed {
		// No goroutine any more: write it now, after whatever still waits.
		w.mu.Unlock()
		w.flush()
		return len(p), nil
	}
	// Under mu, so Close cannot close wake in between.
	select {
	case w.wake <- struct{}{}:
	default: // already woken: the line joins the next batch
	}
	w.mu.Unlock()
	return len(p), nil
}

// Close writes what is queued; later writes go straight to out.
func (w *logWriter) Close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return nil
	}
	w.closed = true
	close(w.wake)
	w.mu.Unlock()
	<-w.done
	return nil
}

func (w *logWriter) loop() {
	defer close(w.done)
	for range w.wake {
		w.flush()
	}
	w.flush()
}

// flush writes the queued lines in one write. A failed write loses them:
// there is nowhere else to report it.
func (w *logWriter) flush() {
	w.writing.Lock()
	defer w.writing.Unlock()
	w.mu.Lock()
	batch := w.pending
	w.pending = w.spare[:0]
	w.mu.Unlock()
	if len(batch) > 0 {
		_, _ = w.out.Write(batch)
	}
	w.spare = batch
}
