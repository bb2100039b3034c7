// Command app is the process of the runtime conformance suite's test image: a small static
// HTTP server, plus modes that exit at once, exhaust memory, or probe the server (the image's
// HEALTHCHECK).
//
//	app             serve on :$PORT (default 8080); "/" answers "plimsoll-testapp", "/health" "ok";
//	                exit 0 on SIGTERM
//	app exit CODE   print a line and exit with CODE
//	app oom         allocate memory until killed (gives up at 1 GiB with exit 2)
//	app probe       GET http://127.0.0.1:$PORT/health; exit 0 when it answers 200
package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
	"time"
)

func main() {
	mode := "serve"
	if len(os.Args) > 1 {
		mode = os.Args[1]
	}
	port := os.Getenv("PORT")
	if port == "" {
		port = "8080"
	}
	switch mode {
	case "serve":
		serve(port)
	case "exit":
		code := 0
		if len(os.Args) > 2 {
			code, _ = strconv.Atoi(os.Args[2])
		}
		fmt.Printf("testapp: exiting with %d\n", code)
		os.Exit(code)
	case "oom":
		oom()
	case "probe":
		c := http.Client{Timeout: 2 * time.Second}
		resp, err := c.Get("http://127.0.0.1:" + port + "/health")
		if err != nil || resp.StatusCode != http.StatusOK {
			os.Exit(1)
		}
	default:
		fmt.Fprintf(os.Stderr, "testapp: unknown mode %q\n", mode)
		os.Exit(64)
	}
}

func serve(port string) {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "plimsoll-testapp") })
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	// LISTEN_ADDR keeps a host-network instance on loopback (127.0.0.1).
	srv := &http.Server{Addr: os.Getenv("LISTEN_ADDR") + ":" + port, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		fmt.Println("testapp: shutting down")
		sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
	}()
	fmt.Printf("testapp: listening on :%s\n", port)
	fmt.Fprintln(os.Stderr, "testapp: stderr is attached")
	if err := srv.ListenAndServe(); err != http.ErrServerClosed {
		fmt.Fprintln(os.Stderr, "testapp:", err)
		os.Exit(1)
	}
}

var hold [][]byte

func oom() {
	fmt.Println("testapp: allocating")
	for range 1024 {
		b := make([]byte, 1<<20)
		for i := range b {
			b[i] = 1
		}
		hold = append(hold, b)
	}
	fmt.Println("testapp: 1 GiB allocated and not killed")
	os.Exit(2)
}
