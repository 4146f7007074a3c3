package client_test

import (
	"context"
	"errors"
	"fmt"
	"log"

	"github.com/hallmark-id/hallmark/api"
	"github.com/hallmark-id/hallmark/client"
)

func Example() {
	// A server's URL, a principal's bearer token and the CA of the server's TLS certificate:
	// `hallmark serve --dev` writes them to hallmark-data/dev.json and tokens.json. Here a dev
	// server runs for the example, and the token is acme/alice's.
	serverURL, token, caFile, stop := startDevServer("acme/alice")
	defer stop()

	c, err := client.New(serverURL, token, client.WithCAFile(caFile))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()

	me, err := c.Whoami(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("signed in as", me.Name, "of", me.PartyID)

	m, err := c.CreateModel(ctx, api.CreateModelRequest{ManufacturerID: "acme", Name: "example-sensor"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("created model", m.Name, "of", m.ManufacturerID)

	// A refusal is an *api.Problem; its name is the kind of failure.
	_, err = c.GetLot(ctx, "lot_missing")
	var p *api.Problem
	if errors.As(err, &p) {
		fmt.Println("refused:", p.Status, p.Name())
	}
	// Output:
	// signed in as alice of acme
	// created model example-sensor of acme
	// refused: 404 not-found
}
