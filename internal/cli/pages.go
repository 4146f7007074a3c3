package cli

import (
	"fmt"

	"github.com/spf13/cobra"
)

// devicePages are the paging flags of the commands that list devices: the server returns
// pages of up to --limit devices, --all follows the pages to the end, and --after starts after
// a device ID.
type devicePages struct {
	after string
	limit int
	all   bool
}

func (p *devicePages) add(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&p.after, "after", "", "start after this device ID")
	fl.IntVar(&p.limit, "limit", 0, "devices per page, 1-1000 (default 1000)")
	fl.BoolVar(&p.all, "all", false, "follow the pages to the last device")
}

func (p devicePages) check() error { return checkLimit(p.limit) }

// checkLimit refuses a --limit outside 1-1000; 0, the default, leaves the choice to the
// server.
func checkLimit(n int) error {
	if n < 0 || n > 1000 {
		return usagef("--limit must be 1-1000")
	}
	return nil
}

// fetchPages returns what every returns with --all, else the one page that one returns; when
// more remain, a note on stderr says how to fetch them.
func fetchPages[T any](e *env, p devicePages, every func() ([]T, error), one func() (items []T, nextAfter string, err error)) ([]T, error) {
	if p.all {
		return every()
	}
	items, next, err := one()
	if err != nil {
		return nil, err
	}
	if next != "" {
		fmt.Fprintf(e.stderr, "more devices: add --after %s, or --all\n", next)
	}
	return items, nil
}
