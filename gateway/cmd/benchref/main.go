// Command benchref holds the reference servers of `make bench` (issue #16): each does the least work a
// gateway endpoint must do, so the endpoint's figures are read as ratios to the reference's, measured
// in the same run on the same machine. `benchref MODE`:
//
//	token  GET /connections/{id}/token: the token endpoint's one query and AES-GCM decrypt, JSON answer
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "benchref:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: benchref token")
	}
	switch args[0] {
	case "token":
		return runToken(ctx)
	}
	return fmt.Errorf("unknown mode %q", args[0])
}
