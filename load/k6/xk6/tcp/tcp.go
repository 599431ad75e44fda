// Package tcp is the k6/x/tcp module: raw TCP connections for k6 scenarios, so that the tcp-echo
// service is load-tested by k6 like everything else.
//
//	import tcp from 'k6/x/tcp';
//	const conn = tcp.connect('127.0.0.1:7000', { timeout: '2s' });
//	conn.write('ping\n');                   // bytes written
//	const buf = conn.read(5);               // ArrayBuffer of exactly 5 bytes, or throws on timeout/EOF
//	const same = conn.roundTrip('ping\n');  // write, read as many bytes back, true if they are equal
//	conn.close();
//
// Metrics: tcp_connects, tcp_connecting (ms), tcp_rtt (ms, per roundTrip), tcp_session_duration
// (ms, at close), tcp_errors (tagged op and error); data_sent / data_received come from k6's own
// dialer, which every connection goes through (so --blacklist-ip and --hosts apply too).
package tcp

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/grafana/sobek"

	"go.k6.io/k6/js/common"
	"go.k6.io/k6/js/modules"
	"go.k6.io/k6/metrics"
)

// defaultTimeout bounds connect, every write and every read unless the script says otherwise.
const defaultTimeout = 5 * time.Second

func init() {
	modules.Register("k6/x/tcp", new(RootModule))
}

// RootModule is the global module object, one per k6 process.
type RootModule struct{}

type tcpMetrics struct {
	connects        *metrics.Metric
	connecting      *metrics.Metric
	rtt             *metrics.Metric
	sessionDuration *metrics.Metric
	errors          *metrics.Metric
}

// ModuleInstance is the module as one VU sees it.
type ModuleInstance struct {
	vu      modules.VU
	metrics tcpMetrics
}

var (
	_ modules.Module   = &RootModule{}
	_ modules.Instance = &ModuleInstance{}
)

// NewModuleInstance runs in the init context of every VU, where the metric registry is reachable.
func (*RootModule) NewModuleInstance(vu modules.VU) modules.Instance {
	reg := vu.InitEnv().Registry
	return &ModuleInstance{vu: vu, metrics: tcpMetrics{
		connects:        reg.MustNewMetric("tcp_connects", metrics.Counter),
		connecting:      reg.MustNewMetric("tcp_connecting", metrics.Trend, metrics.Time),
		rtt:             reg.MustNewMetric("tcp_rtt", metrics.Trend, metrics.Time),
		sessionDuration: reg.MustNewMetric("tcp_session_duration", metrics.Trend, metrics.Time),
		errors:          reg.MustNewMetric("tcp_errors", metrics.Counter),
	}}
}

// Exports makes `import tcp from 'k6/x/tcp'` and `import { connect } from 'k6/x/tcp'` both work.
func (mi *ModuleInstance) Exports() modules.Exports {
	return modules.Exports{
		Default: map[string]any{"connect": mi.Connect},
		Named:   map[string]any{"connect": mi.Connect},
	}
}

// Conn is one TCP connection, used by the VU that opened it.
type Conn struct {
	mi      *ModuleInstance
	conn    net.Conn
	addr    string
	timeout time.Duration
	opened  time.Time
	closed  bool
	buf     []byte
}

// Connect dials addr ("host:port") within the timeout option (a duration string or milliseconds).
func (mi *ModuleInstance) Connect(addr string, opts sobek.Value) (*Conn, error) {
	state := mi.vu.State()
	if state == nil {
		return nil, errors.New("tcp.connect: connections can only be opened in a VU's iteration, not in the init context")
	}
	timeout, err := timeoutOption(opts, defaultTimeout)
	if err != nil {
		return nil, fmt.Errorf("tcp.connect: %w", err)
	}
	ctx, cancel := context.WithTimeout(mi.vu.Context(), timeout)
	defer cancel()
	start := time.Now()
	conn, err := state.Dialer.DialContext(ctx, "tcp", addr)
	end := time.Now()
	if err != nil {
		mi.countError("connect", err)
		return nil, fmt.Errorf("tcp.connect %s: %w", addr, err)
	}
	mi.push(start, mi.metrics.connects, 1)
	mi.push(end, mi.metrics.connecting, metrics.D(end.Sub(start)))
	return &Conn{mi: mi, conn: conn, addr: addr, timeout: timeout, opened: end}, nil
}

// Write sends a string or an ArrayBuffer, whole, and returns the number of bytes written.
func (c *Conn) Write(data sobek.Value, opts sobek.Value) (int, error) {
	payload, err := c.bytes(data)
	if err != nil {
		return 0, err
	}
	return c.write(payload, opts)
}

func (c *Conn) write(payload []byte, opts sobek.Value) (int, error) {
	if c.closed {
		return 0, errors.New("tcp: write on a closed connection")
	}
	timeout, err := timeoutOption(opts, c.timeout)
	if err != nil {
		return 0, fmt.Errorf("tcp.write: %w", err)
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(timeout))
	n, err := c.conn.Write(payload)
	if err != nil {
		c.mi.countError("write", err)
		return n, fmt.Errorf("tcp.write %s: %w", c.addr, err)
	}
	return n, nil
}

// Read returns exactly n bytes as an ArrayBuffer; it throws when the timeout passes or the peer
// closes first, saying how many bytes had arrived.
func (c *Conn) Read(n int, opts sobek.Value) (sobek.ArrayBuffer, error) {
	got, err := c.read(n, opts)
	if err != nil {
		return sobek.ArrayBuffer{}, err
	}
	return c.mi.vu.Runtime().NewArrayBuffer(bytes.Clone(got)), nil
}

func (c *Conn) read(n int, opts sobek.Value) ([]byte, error) {
	if c.closed {
		return nil, errors.New("tcp: read on a closed connection")
	}
	if n <= 0 {
		return nil, fmt.Errorf("tcp.read: the byte count must be positive, got %d", n)
	}
	timeout, err := timeoutOption(opts, c.timeout)
	if err != nil {
		return nil, fmt.Errorf("tcp.read: %w", err)
	}
	if cap(c.buf) < n {
		c.buf = make([]byte, n)
	}
	buf := c.buf[:n]
	_ = c.conn.SetReadDeadline(time.Now().Add(timeout))
	got, err := io.ReadFull(c.conn, buf)
	if err != nil {
		c.mi.countError("read", err)
		return nil, fmt.Errorf("tcp.read %s: %d of %d bytes: %w", c.addr, got, n, err)
	}
	return buf, nil
}

// RoundTrip writes data, reads as many bytes back, records tcp_rtt and tells whether the bytes
// came back unchanged (what an echo server must do).
func (c *Conn) RoundTrip(data sobek.Value, opts sobek.Value) (bool, error) {
	payload, err := c.bytes(data)
	if err != nil {
		return false, err
	}
	start := time.Now()
	if _, err := c.write(payload, opts); err != nil {
		return false, err
	}
	got, err := c.read(len(payload), opts)
	if err != nil {
		return false, err
	}
	end := time.Now()
	c.mi.push(end, c.mi.metrics.rtt, metrics.D(end.Sub(start)))
	return bytes.Equal(got, payload), nil
}

// Close closes the connection (again: a no-op) and records how long it was open.
func (c *Conn) Close() error {
	if c.closed {
		return nil
	}
	c.closed = true
	now := time.Now()
	c.mi.push(now, c.mi.metrics.sessionDuration, metrics.D(now.Sub(c.opened)))
	return c.conn.Close()
}

// CloseWrite half-closes the connection (FIN), so the peer sees end of input but can still answer.
func (c *Conn) CloseWrite() error {
	if tc, ok := c.conn.(interface{ CloseWrite() error }); ok {
		return tc.CloseWrite()
	}
	return errors.New("tcp.closeWrite: not supported by this connection")
}

func (c *Conn) bytes(data sobek.Value) ([]byte, error) {
	if data == nil || sobek.IsUndefined(data) || sobek.IsNull(data) {
		return nil, errors.New("tcp: data must be a string or an ArrayBuffer")
	}
	payload, err := common.ToBytes(data.Export())
	if err != nil {
		return nil, fmt.Errorf("tcp: %w", err)
	}
	if len(payload) == 0 {
		return nil, errors.New("tcp: data is empty")
	}
	return payload, nil
}

func (mi *ModuleInstance) push(at time.Time, m *metrics.Metric, value float64) {
	mi.pushTagged(at, m, value, nil)
}

func (mi *ModuleInstance) pushTagged(at time.Time, m *metrics.Metric, value float64, extra map[string]string) {
	state := mi.vu.State()
	if state == nil {
		return
	}
	tm := state.Tags.GetCurrentValues()
	tags := tm.Tags
	for k, v := range extra {
		tags = tags.With(k, v)
	}
	metrics.PushIfNotDone(mi.vu.Context(), state.Samples, metrics.Sample{
		TimeSeries: metrics.TimeSeries{Metric: m, Tags: tags},
		Time:       at,
		Metadata:   tm.Metadata,
		Value:      value,
	})
}

func (mi *ModuleInstance) countError(op string, err error) {
	mi.pushTagged(time.Now(), mi.metrics.errors, 1, map[string]string{"op": op, "error": errorKind(err)})
}

// errorKind is a low-cardinality name for a tag: never the message, which carries addresses.
func errorKind(err error) string {
	var netErr net.Error
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded),
		errors.As(err, &netErr) && netErr.Timeout():
		return "timeout"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "eof"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "reset"
	default:
		return "other"
	}
}

// timeoutOption reads { timeout } from an options object: a duration string ("2s", "500ms") or
// a number of milliseconds.
func timeoutOption(opts sobek.Value, fallback time.Duration) (time.Duration, error) {
	if opts == nil || sobek.IsUndefined(opts) || sobek.IsNull(opts) {
		return fallback, nil
	}
	m, ok := opts.Export().(map[string]any)
	if !ok {
		return 0, errors.New("options must be an object")
	}
	raw, ok := m["timeout"]
	if !ok || raw == nil {
		return fallback, nil
	}
	var d time.Duration
	switch v := raw.(type) {
	case string:
		parsed, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil {
			if ms, numErr := strconv.ParseFloat(v, 64); numErr == nil {
				parsed, err = time.Duration(ms*float64(time.Millisecond)), nil
			} else {
				return 0, fmt.Errorf("timeout %q: use a duration such as \"2s\" or a number of milliseconds", v)
			}
		}
		d = parsed
	case int64:
		d = time.Duration(v) * time.Millisecond
	case float64:
		d = time.Duration(v * float64(time.Millisecond))
	default:
		return 0, fmt.Errorf("timeout: use a duration such as \"2s\" or a number of milliseconds, got %T", raw)
	}
	if d <= 0 {
		return 0, fmt.Errorf("timeout must be positive, got %s", d)
	}
	return d, nil
}
