package console

import (
	"strings"
	"testing"
	"time"
)

// sides rebuilds the two inputs of a diff.
func sides(d []diffLine) (a, b []string) {
	for _, l := range d {
		if l.Op != "add" {
			a = append(a, l.Text)
		}
		if l.Op != "del" {
			b = append(b, l.Text)
		}
	}
	return a, b
}

func TestLineDiff(t *testing.T) {
	for _, tc := range []struct {
		name, a, b     string
		added, removed int
	}{
		{"same", "a\nb\nc", "a\nb\nc", 0, 0},
		{"one changed line", "{\n  \"expr\": \"x\"\n}", "{\n  \"expr\": \"y\"\n}", 1, 1},
		{"inserted", "a\nc", "a\nb\nc", 1, 0},
		{"removed", "a\nb\nc", "a\nc", 0, 1},
		{"from nothing", "", "a\nb", 2, 1}, // "" splits into one empty line
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := strings.Split(tc.a, "\n"), strings.Split(tc.b, "\n")
			d, ok := lineDiff(a, b)
			if !ok {
				t.Fatal("not ok")
			}
			var add, del int
			for _, l := range d {
				switch l.Op {
				case "add":
					add++
				case "del":
					del++
				}
			}
			if add != tc.added || del != tc.removed {
				t.Fatalf("added %d removed %d, want %d %d: %+v", add, del, tc.added, tc.removed, d)
			}
			ga, gb := sides(d)
			if strings.Join(ga, "\n") != tc.a || strings.Join(gb, "\n") != tc.b {
				t.Fatalf("the diff does not spell its inputs: %+v", d)
			}
		})
	}
	long := make([]string, maxDiffLines+1)
	if d, ok := lineDiff(long, []string{"x"}); ok || len(d) != maxDiffLines+2 {
		t.Fatalf("over the bound: ok=%v len=%d", ok, len(d))
	}
}

// FuzzLineDiff checks that any diff spells both its inputs and is minimal in one easy case:
// equal inputs give no change.
func FuzzLineDiff(f *testing.F) {
	f.Add("{\n  \"rules\": [\n    {\"name\": \"a\"}\n  ]\n}", "{\n  \"rules\": [\n    {\"name\": \"b\"},\n    {\"name\": \"a\"}\n  ]\n}")
	f.Add("a\nb\nc", "c\nb\na")
	f.Fuzz(func(t *testing.T, x, y string) {
		a, b := strings.Split(x, "\n"), strings.Split(y, "\n")
		if len(a) > 300 || len(b) > 300 {
			return
		}
		d, _ := lineDiff(a, b)
		ga, gb := sides(d)
		if strings.Join(ga, "\n") != x || strings.Join(gb, "\n") != y {
			t.Fatalf("the diff does not spell its inputs")
		}
		if x == y {
			for _, l := range d {
				if l.Op != "same" {
					t.Fatalf("equal inputs, change %+v", l)
				}
			}
		}
	})
}

func TestSpan(t *testing.T) {
	for d, want := range map[time.Duration]string{time.Hour: "1 h", 90 * time.Minute: "1 h 30 min", 59*time.Minute + 40*time.Second: "1 h",
		26 * time.Hour: "1 d 2 h", 20 * time.Second: "under a minute", 45 * time.Minute: "45 min"} {
		if got := span(d); got != want {
			t.Errorf("span(%s) = %q, want %q", d, got, want)
		}
	}
}

func TestSpecLines(t *testing.T) {
	got := strings.Join(specLines([]byte(`{"rules":[{"name":"a","expr":"x \u0026\u0026 y"}]}`)), "\n")
	want := "{\n  \"rules\": [\n    {\n      \"expr\": \"x && y\",\n      \"name\": \"a\"\n    }\n  ]\n}"
	if got != want {
		t.Fatalf("specLines:\n%s\nwant\n%s", got, want)
	}
}

func TestCSVSafe(t *testing.T) {
	got := csvSafe([]string{"=HYPERLINK(\"x\")", "+1+1", "-3", "-cmd", "@SUM(A1)", "plain", ""})
	want := []string{"'=HYPERLINK(\"x\")", "'+1+1", "-3", "'-cmd", "'@SUM(A1)", "plain", ""}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("csvSafe = %q", got)
	}
}

func TestCharts(t *testing.T) {
	svg := string(lineChart("trend <x>", []point{{"Jan 1", 0.5}, {"Jan 2", 1.2}}))
	for _, want := range []string{`<svg class="chart line"`, `aria-label="trend &lt;x&gt;"`, `<path class="series" d="M44.0 101.0 L630.0 10.0"/>`, "Jan 2: 120.0%"} {
		if !strings.Contains(svg, want) {
			t.Fatalf("line chart lacks %q: %s", want, svg)
		}
	}
	svg = string(barChart("bars", []bar{{"a", 10}, {"b", 5}}))
	if !strings.Contains(svg, `width="380.0"`) || !strings.Contains(svg, `width="190.0"`) {
		t.Fatalf("bar chart not scaled to the largest: %s", svg)
	}
	if s := string(barChart("none", nil)); !strings.Contains(s, "nothing to show") {
		t.Fatalf("empty chart: %s", s)
	}
}
