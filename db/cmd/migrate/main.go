// Command migrate applies the schema: `migrate up`, `migrate down N` (or `down all`), `migrate version`.
// It reads DATABASE_URL and holds an advisory lock, so running it from several places at once is safe.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/lightfastai/connections/db/migrations"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "migrate:", err)
		os.Exit(1)
	}
}

const usage = "usage: migrate up | down N | down all | version"

func run(ctx context.Context, args []string) error {
	url := os.Getenv("DATABASE_URL")
	if url == "" {
		return errors.New("DATABASE_URL is required")
	}
	if len(args) == 0 {
		return errors.New(usage)
	}
	switch args[0] {
	case "up":
		if err := migrations.Up(ctx, url); err != nil {
			return err
		}
	case "down":
		if len(args) != 2 {
			return errors.New(usage)
		}
		n := 0
		if args[1] != "all" {
			var err error
			if n, err = strconv.Atoi(args[1]); err != nil || n < 1 {
				return fmt.Errorf("down: want a positive step count or \"all\", got %q", args[1])
			}
		}
		if err := migrations.Down(ctx, url, n); err != nil {
			return err
		}
	case "version":
	default:
		return errors.New(usage)
	}
	st, err := migrations.Current(ctx, url)
	if err != nil {
		return err
	}
	fmt.Printf("schema version %d (dirty=%t), river version %d; this build wants %d / %d\n",
		st.Version, st.Dirty, st.RiverVersion, migrations.Latest().Version, migrations.Latest().RiverVersion)
	return nil
}
