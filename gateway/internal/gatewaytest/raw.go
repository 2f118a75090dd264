package gatewaytest

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Raw HTTP for hostile-sender tests: a request whose body is sent (or not) at the test's pace, and the
// answer read off the connection.

// RawPost opens a connection to baseURL (http://host:port) and writes a POST to path declaring length
// body bytes (-1: chunked), then first. The caller writes the rest, or not, and reads the answer with
// ReadAnswer. The connection is closed at cleanup.
func RawPost(t testing.TB, baseURL, path string, h http.Header, length int64, first []byte) net.Conn {
	t.Helper()
	conn, err := DialPost(baseURL, path, h, length, first)
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

// DialPost is RawPost for goroutines other than the test's: it returns the error, and the caller closes
// the connection.
func DialPost(baseURL, path string, h http.Header, length int64, first []byte) (net.Conn, error) {
	conn, err := net.Dial("tcp", strings.TrimPrefix(baseURL, "http://"))
	if err != nil {
		return nil, fmt.Errorf("dial: %w", err)
	}
	var req bytes.Buffer
	fmt.Fprintf(&req, "POST %s HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n", path)
	if length >= 0 {
		fmt.Fprintf(&req, "Content-Length: %d\r\n", length)
	} else {
		req.WriteString("Transfer-Encoding: chunked\r\n")
	}
	for k, vs := range h {
		for _, v := range vs {
			fmt.Fprintf(&req, "%s: %s\r\n", k, v)
		}
	}
	req.WriteString("\r\n")
	if _, err := conn.Write(req.Bytes()); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("write headers: %w", err)
	}
	if len(first) > 0 {
		_, _ = conn.Write(first) // the server may already have refused and closed
	}
	return conn, nil
}

// Answer is a response read off a raw connection.
type Answer struct {
	Status int
	Header http.Header
	// Close: the server said Connection: close.
	Close bool
	// Code is the JSON error code, if any.
	Code string
	Err  error
}

// ReadAnswer reads one response, waiting at most a minute.
func ReadAnswer(conn net.Conn) Answer {
	_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return Answer{Err: err}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var body struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(raw, &body)
	return Answer{Status: resp.StatusCode, Header: resp.Header, Close: resp.Close, Code: body.Error.Code}
}

// AnswerAsync reads the answer in the background, so the test can keep writing meanwhile.
func AnswerAsync(conn net.Conn) <-chan Answer {
	ch := make(chan Answer, 1)
	go func() { ch <- ReadAnswer(conn) }()
	return ch
}

// DeepJSON is the nesting attack as reported: an object with the given fields, then n '[' never closed.
// A recursive validator overflows its stack on a few million.
func DeepJSON(fields string, n int) []byte {
	return append([]byte("{"+fields+`"a":`), bytes.Repeat([]byte("["), n)...)
}

// RSS returns the resident and peak resident set size of process pid, in bytes (Linux).
func RSS(t testing.TB, pid int) (rss, peak int64) {
	t.Helper()
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	require.NoError(t, err)
	for _, line := range strings.Split(string(raw), "\n") {
		name, value, ok := strings.Cut(line, ":")
		if !ok || (name != "VmRSS" && name != "VmHWM") {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		require.NoError(t, err)
		if name == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return rss, peak
}
