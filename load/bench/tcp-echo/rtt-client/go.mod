module netlab/load/bench/tcp-echo/rtt-client

go 1.22
