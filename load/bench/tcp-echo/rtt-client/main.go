// Command tcp-rtt is the compiled closed-loop client of the tcp-echo benchmark
// (BENCHMARKING.md: "a compiled closed-loop client for TCP round trips").
//
// Round trips: -c connections, each writing -size bytes and reading until the same bytes are
// back before the next write, for -d; prints one JSON line with round trips/s and latency
// percentiles.
//
//	tcp-rtt -addr 127.0.0.1:7001 -c 64 -size 64 -d 10s
//
// Idle: -idle N opens N connections, makes one 1-byte round trip on each (so that the server
// has set every session up), prints {"opened":N} and holds them until stdin closes.
//
//	tcp-rtt -addr 127.0.0.1:7001 -idle 10000
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

type result struct {
	Connections int     `json:"connections"`
	Size        int     `json:"size"`
	DurationS   float64 `json:"durationS"`
	RoundTrips  int64   `json:"roundTrips"`
	PerSecond   float64 `json:"perSecond"`
	P50Ms       float64 `json:"p50Ms"`
	P99Ms       float64 `json:"p99Ms"`
	MaxMs       float64 `json:"maxMs"`
	Errors      int64   `json:"errors"`
	CPUPercent  float64 `json:"cpuPercent"`
}

func main() {
	addr := flag.String("addr", "127.0.0.1:7001", "echo server host:port")
	conns := flag.Int("c", 64, "connections, each with one round trip in flight")
	size := flag.Int("size", 64, "bytes per message")
	duration := flag.Duration("d", 10*time.Second, "how long to measure")
	idle := flag.Int("idle", 0, "open this many idle connections and hold them until stdin closes")
	flag.Parse()

	if *idle > 0 {
		holdIdle(*addr, *idle)
		return
	}
	out, err := roundTrips(*addr, *conns, *size, *duration)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcp-rtt:", err)
		os.Exit(1)
	}
	_ = json.NewEncoder(os.Stdout).Encode(out)
}

func dialAll(addr string, n int) ([]net.Conn, error) {
	list := make([]net.Conn, 0, n)
	for i := 0; i < n; i++ {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			for _, open := range list {
				open.Close()
			}
			return nil, fmt.Errorf("connection %d: %w", i+1, err)
		}
		list = append(list, c)
	}
	return list, nil
}

func cpuSeconds() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

func roundTrips(addr string, n, size int, d time.Duration) (result, error) {
	list, err := dialAll(addr, n)
	if err != nil {
		return result{}, err
	}
	var stop atomic.Bool
	var errs atomic.Int64
	samples := make([][]int64, n) // nanoseconds, one slice per connection: no locking
	var wg sync.WaitGroup
	cpu0 := cpuSeconds()
	start := time.Now()
	for i, c := range list {
		wg.Add(1)
		go func(i int, c net.Conn) {
			defer wg.Done()
			defer c.Close()
			msg := bytes.Repeat([]byte{byte('a' + i%26)}, size)
			buf := make([]byte, size)
			own := make([]int64, 0, 1<<14)
			for !stop.Load() {
				t := time.Now()
				if _, err := c.Write(msg); err != nil {
					errs.Add(1)
					break
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					errs.Add(1)
					break
				}
				own = append(own, int64(time.Since(t)))
				if !bytes.Equal(buf, msg) {
					errs.Add(1)
					break
				}
			}
			samples[i] = own
		}(i, c)
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	cpu := cpuSeconds() - cpu0

	var all []int64
	for _, s := range samples {
		all = append(all, s...)
	}
	slices.Sort(all)
	q := func(p float64) float64 {
		if len(all) == 0 {
			return 0
		}
		i := int(p*float64(len(all))+0.5) - 1
		i = max(0, min(len(all)-1, i))
		return float64(all[i]) / 1e6
	}
	return result{
		Connections: n,
		Size:        size,
		DurationS:   elapsed,
		RoundTrips:  int64(len(all)),
		PerSecond:   float64(len(all)) / elapsed,
		P50Ms:       q(0.5),
		P99Ms:       q(0.99),
		MaxMs:       q(1),
		Errors:      errs.Load(),
		CPUPercent:  cpu / elapsed * 100,
	}, nil
}

func holdIdle(addr string, n int) {
	list, err := dialAll(addr, n)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tcp-rtt:", err)
		os.Exit(1)
	}
	one := []byte{'.'}
	buf := make([]byte, 1)
	for i, c := range list {
		if _, err := c.Write(one); err == nil {
			_, err = io.ReadFull(c, buf)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "tcp-rtt: connection %d: %v\n", i+1, err)
			os.Exit(1)
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(map[string]int{"opened": n})
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range list {
		c.Close()
	}
}
