package webhook

import (
	"errors"
	"io"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
)

// Why a body was not read. The handler maps each to its answer.
var (
	errTooLarge = errors.New("body too large")
	errBusy     = errors.New("in-flight body budget exhausted")
	errTimeout  = errors.New("body not received within the read timeout")
)

// budget is the byte budget shared by every body being read (WEBHOOK_MAX_INFLIGHT_BYTES). A body
// reserves its buffer's capacity before the buffer is allocated, and buffers grow only as bytes arrive,
// so the budget measures memory actually held. Reserving the declared Content-Length up front instead
// would let a few senders that declare 26 MiB and send nothing lock every honest sender out without
// costing the gateway (or them) any memory; reserving as bytes arrive makes a hostile sender pay for
// its share with real bytes, within WEBHOOK_READ_TIMEOUT.
type budget struct {
	max  int64
	used atomic.Int64
}

// reserve takes n bytes of the budget, or reports false (taking nothing) when that would pass max.
func (b *budget) reserve(n int64) bool {
	if b.used.Add(n) > b.max {
		b.used.Add(-n)
		return false
	}
	return true
}

func (b *budget) release(n int64) { b.used.Add(-n) }

// bodyBuf is one request's buffer and its share of the in-flight budget. It is pooled whole, buffer and
// all: the payload is the largest allocation per delivery.
type bodyBuf struct {
	buf      []byte
	held     int64 // reserved from inflight: cap(buf), or the old and new buffer while growing
	inflight *budget
}

var bodies = sync.Pool{New: func() any { return new(bodyBuf) }}

const (
	// maxPooledBody keeps rare huge buffers out of the pool (and tiny ones, under firstChunk, are not
	// worth keeping: any larger body would outgrow them at once).
	maxPooledBody = 64 << 10
	// firstChunk is the first buffer's size when the pool has none to give. Until bytes arrive, this is
	// all a request holds, whatever Content-Length it declares.
	firstChunk = 4 << 10
)

// release returns the reservation, and the buffer to the pool; call it once nothing refers to the body.
func (b *bodyBuf) release() {
	b.inflight.release(b.held)
	b.held, b.inflight = 0, nil
	if c := cap(b.buf); c >= firstChunk && c <= maxPooledBody {
		b.buf = b.buf[:0]
		bodies.Put(b)
	}
}

// readBody reads at most maxBytes bytes into a buffer that grows (doubling, so copies stay linear) only
// as bytes arrive, each growth reserved from inflight first. While a buffer grows the old and the new
// one are both held, so a body peaks under twice its size (hence WEBHOOK_MAX_INFLIGHT_BYTES ≥ twice
// WEBHOOK_MAX_BODY_BYTES). A declared length over the cap is refused before reading; a chunked body is
// cut off by http.MaxBytesReader as soon as it passes the cap. The read deadline is the caller's
// (WEBHOOK_READ_TIMEOUT on the connection). The body is returned even with an error: release it.
func readBody(w http.ResponseWriter, r *http.Request, maxBytes int64, inflight *budget) (*bodyBuf, error) {
	b := bodies.Get().(*bodyBuf)
	b.buf, b.inflight = b.buf[:0], inflight
	declared := r.ContentLength
	if declared > maxBytes {
		return b, errTooLarge
	}
	if declared == 0 {
		return b, nil
	}
	// limit is the most the buffer ever needs: the declared length, or the cap for a chunked body.
	limit := declared
	if limit < 0 {
		limit = maxBytes
	}
	src := http.MaxBytesReader(w, r.Body, maxBytes)
	if c := int64(cap(b.buf)); c > 0 {
		if inflight.reserve(c) {
			b.held = c
		} else {
			// The pool is only a shortcut: a pooled buffer bigger than the room left must not refuse a
			// body that a fresh first chunk would fit.
			b.buf = nil
		}
	}
	for {
		if len(b.buf) == cap(b.buf) || int64(len(b.buf)) == limit {
			if int64(len(b.buf)) == limit {
				if declared >= 0 {
					return b, nil // the declared length has arrived
				}
				// A chunked body that filled the cap: it must end here.
				return b, atEnd(src)
			}
			next := min(max(2*int64(cap(b.buf)), firstChunk), limit)
			if !inflight.reserve(next) {
				return b, errBusy
			}
			grown := make([]byte, len(b.buf), next)
			copy(grown, b.buf)
			inflight.release(b.held)
			b.buf, b.held = grown, next
		}
		n, err := src.Read(b.buf[len(b.buf):min(int64(cap(b.buf)), limit)])
		b.buf = b.buf[:len(b.buf)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, readError(err)
		}
	}
}

// atEnd reads one more byte of a body that has reached the cap: none (EOF) is the end; one more is a
// body over the cap, which MaxBytesReader reports.
func atEnd(src io.Reader) error {
	var one [1]byte
	for {
		n, err := src.Read(one[:])
		switch {
		case err == io.EOF && n == 0:
			return nil
		case err != nil:
			return readError(err)
		case n > 0:
			return errTooLarge // not reached: MaxBytesReader says so first
		}
	}
}

func readError(err error) error {
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return errTooLarge
	case errors.Is(err, os.ErrDeadlineExceeded):
		return errTimeout
	}
	return err
}
