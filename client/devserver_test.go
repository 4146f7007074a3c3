package client_test

import (
	"context"
	"encoding/json"
	"io"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/hallmark-id/hallmark/internal/app"
)

// startDevServer runs a real `hallmark serve --dev` in this process on a loopback port and
// returns its API URL, the token of principal (PARTY/NAME), its TLS CA file, and a function
// that stops it and removes its data.
func startDevServer(principal string) (serverURL, token, caFile string, stop func()) {
	dir, err := os.MkdirTemp("", "hallmark-client-example-")
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Serve(ctx, app.Options{Dev: true, DataDir: dir, Listen: "127.0.0.1:0"}, io.Discard, io.Discard)
	}()
	stop = func() {
		cancel()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
		}
		os.RemoveAll(dir)
	}
	var info app.DevInfo
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(filepath.Join(dir, "dev.json")); err == nil && json.Unmarshal(b, &info) == nil {
			break
		}
		select {
		case err := <-done:
			cancel()
			os.RemoveAll(dir)
			log.Fatalf("the dev server stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			stop()
			log.Fatal("the dev server did not start within 60 s")
		}
	}
	var tokens map[string]string
	b, err := os.ReadFile(info.TokenFile)
	if err == nil {
		err = json.Unmarshal(b, &tokens)
	}
	if err != nil || tokens[principal] == "" {
		stop()
		log.Fatalf("no token for %s in %s: %v", principal, info.TokenFile, err)
	}
	return info.APIURL, tokens[principal], info.TLSCAFile, stop
}
