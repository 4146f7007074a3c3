package main

import (
	_ "cel.dev/cel-go/cel"
	_ "github.com/spf13/cobra"
	_ "github.com/zmap/zlint/v3"
	_ "go.step.sm/crypto/pemutil"
	_ "modernc.org/sqlite"
	_ "github.com/secure-systems-lab/go-securesystemslib/dsse"
)

func main() {}
