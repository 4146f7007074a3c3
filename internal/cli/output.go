package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hallmark-id/hallmark/api"
)

// emit prints v in the chosen format: as JSON, as ids one a line, or through table.
func (e *env) emit(v any, ids []string, table func(w io.Writer)) error {
	switch e.output {
	case "json":
		return e.printJSON(v)
	case "id":
		for _, id := range ids {
			fmt.Fprintln(e.stdout, id)
		}
		return nil
	default:
		tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
		table(tw)
		return tw.Flush()
	}
}

func (e *env) printJSON(v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding JSON output: %w", err)
	}
	_, err = fmt.Fprintf(e.stdout, "%s\n", b)
	return err
}

// row writes tab-separated cells and a newline; empty cells show as "-".
func row(w io.Writer, cells ...any) {
	parts := make([]string, len(cells))
	for i, c := range cells {
		s := fmt.Sprint(c)
		if s == "" {
			s = "-"
		}
		parts[i] = s
	}
	fmt.Fprintln(w, strings.Join(parts, "\t"))
}

// kv writes "key:\tvalue" for a details view.
func kv(w io.Writer, key string, value any) {
	s := fmt.Sprint(value)
	if s == "" {
		s = "-"
	}
	fmt.Fprintf(w, "%s:\t%s\n", key, s)
}

func ts(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func tsp(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return ts(*t)
}

// writeOut writes data to file when given, else to stdout.
func (e *env) writeOut(file string, data []byte, what string) error {
	if file == "" || file == "-" {
		_, err := e.stdout.Write(data)
		return err
	}
	if err := os.WriteFile(file, data, 0o644); err != nil {
		return fmt.Errorf("writing %s: %w", what, err)
	}
	if e.output == "table" {
		fmt.Fprintf(e.stdout, "wrote %s to %s\n", what, file)
	}
	return nil
}

// outFile is a file a command writes when its flag names one: what it holds, for messages,
// and its data.
type outFile struct{ file, what, data string }

// writeFiles writes each named file in turn, with writeOut.
func (e *env) writeFiles(files ...outFile) error {
	for _, f := range files {
		if f.file != "" {
			if err := e.writeOut(f.file, []byte(f.data), f.what); err != nil {
				return err
			}
		}
	}
	return nil
}

// readInput reads a file named by a flag; a missing or unreadable file is invalid input.
func readInput(flag, file string) ([]byte, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, invalidf("reading --%s: %v", flag, err)
	}
	return b, nil
}

// emitDeviceApproval writes res, the answer to an action on a device that may wait for an
// approval (re-admission, repair, reorigin): the device's state and, when one is asked for, the
// pending approval, whose ID is what -o id prints.
func (e *env) emitDeviceApproval(res any, d api.Device, q *api.Approval) error {
	var ids []string
	if q != nil {
		ids = []string{q.ID}
	}
	return e.emit(res, ids, func(w io.Writer) {
		deviceStateTable(w, d)
		if q != nil {
			fmt.Fprintln(w)
			pendingApprovalNote(w, *q)
		}
	})
}
