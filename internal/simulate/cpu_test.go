package simulate

import (
	"os"
	"os/exec"
	"testing"
)

// TestTreeCPUCountsChildren: a child's CPU time shows in its parent's tree once it is reaped,
// which is how PostgreSQL's backends are counted.
func TestTreeCPUCountsChildren(t *testing.T) {
	self := os.Getpid()
	before := treeCPU(self)
	if before < 0 {
		t.Skip("no /proc on this system")
	}
	// About half a second of CPU in a child, spent in the shell itself.
	cmd := exec.Command("sh", "-c", `i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done`)
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	child := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	after := treeCPU(self)
	if got := after - before; got < child/2 {
		t.Errorf("tree CPU grew by %v; the child alone used %v", got, child)
	}
	if processCPU(self) < 0 {
		t.Error("processCPU could not read this process")
	}
	if treeCPU(0) != -1 || processCPU(-1) != -1 || statFields(1<<30) != nil {
		t.Error("a process that does not exist should read as unknown")
	}
}
