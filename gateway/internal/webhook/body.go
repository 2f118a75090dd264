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

// bodies recycles request buffers of typical size; the payload is the largest allocation per delivery.
var bodies = sync.Pool{New: func() any { return new([]byte) }}

const (
	// maxPooledBody keeps rare huge buffers out of the pool (and tiny ones, under firstChunk, are not
	// worth keeping: any larger body would outgrow them at once).
	maxPooledBody = 64 << 10
	// firstChunk is the first buffer's size when the pool has none to give. Until bytes arrive, this is
	// all a request holds, whatever Content-Length it declares.
	firstChunk = 4 << 10
)

// readBody reads at most maxBytes bytes into a buffer that grows (doubling, so copies stay linear) only
// as bytes arrive, each growth reserved from inflight first. While a buffer grows the old and the new
// one are both held, so a body peaks under twice its size (hence WEBHOOK_MAX_INFLIGHT_BYTES ≥ twice
// WEBHOOK_MAX_BODY_BYTES). A declared length over the cap is refused before reading; a chunked body is
// cut off by http.MaxBytesReader as soon as it passes the cap. The read deadline is the caller's
// (WEBHOOK_READ_TIMEOUT on the connection). release returns the buffer and its reservation; call it once
// nothing refers to the body.
func readBody(w http.ResponseWriter, r *http.Request, maxBytes int64, inflight *budget) (body []byte, release func(), err error) {
	release = func() {}
	declared := r.ContentLength
	if declared > maxBytes {
		return nil, release, errTooLarge
	}
	if declared == 0 {
		return []byte{}, release, nil
	}
	// limit is the most the buffer ever needs: the declared length, or the cap for a chunked body.
	limit := declared
	if limit < 0 {
		limit = maxBytes
	}
	src := http.MaxBytesReader(w, r.Body, maxBytes)

	pooled := bodies.Get().(*[]byte)
	buf := (*pooled)[:0]
	var held int64
	release = func() {
		inflight.release(held)
		if c := cap(buf); c >= firstChunk && c <= maxPooledBody {
			*pooled = buf[:0]
			bodies.Put(pooled)
		}
	}
	if c := int64(cap(buf)); c > 0 {
		if inflight.reserve(c) {
			held = c
		} else {
			// The pool is only a shortcut: a pooled buffer bigger than the room left must not refuse a
			// body that a fresh first chunk would fit.
			bodies.Put(pooled)
			pooled, buf = new([]byte), nil
		}
	}
	for {
		if len(buf) == cap(buf) || int64(len(buf)) == limit {
			if int64(len(buf)) == limit {
				if declared >= 0 {
					break // the declared length has arrived
				}
				// A chunked body that filled the cap: it must end here.
				if err := atEnd(src); err != nil {
					return nil, release, err
				}
				break
			}
			next := min(max(2*int64(cap(buf)), firstChunk), limit)
			if !inflight.reserve(next) {
				return nil, release, errBusy
			}
			grown := make([]byte, len(buf), next)
			copy(grown, buf)
			inflight.release(held)
			buf, held = grown, next
		}
		n, rerr := src.Read(buf[len(buf):min(int64(cap(buf)), limit)])
		buf = buf[:len(buf)+n]
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return nil, release, readError(rerr)
		}
	}
	return buf, release, nil
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
