package console

import (
	"html/template"
	"strconv"
	"strings"
)

// Charts are drawn here, on the server, as SVG: no script library and nothing the CSP would
// have to allow. Every chart carries a title and an aria-label, and the page beside it a table
// of the same numbers (for screen readers, and for anyone who wants the figures).

// point is one value of a line chart: Share in [0, 1] at a labelled instant.
type point struct {
	Label string
	Share float64
}

// bar is one bar of a bar chart.
type bar struct {
	Label string
	N     int
}

const (
	chartW, chartH = 640, 220
	padL, padB     = 44, 28
)

func f1(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }

// lineChart draws shares (0-100 %) over time, with 0/50/100 % grid lines and the first and
// last labels on the x axis.
func lineChart(title string, pts []point) template.HTML {
	var b strings.Builder
	esc := template.HTMLEscapeString
	b.WriteString(`<svg class="chart line" viewBox="0 0 ` + strconv.Itoa(chartW) + ` ` + strconv.Itoa(chartH) + `" role="img" aria-label="` + esc(title) + `"><title>` + esc(title) + `</title>`)
	plotW, plotH := float64(chartW-padL-10), float64(chartH-padB-10)
	for _, g := range []float64{0, 0.5, 1} {
		y := 10 + plotH*(1-g)
		b.WriteString(`<line class="grid" x1="` + strconv.Itoa(padL) + `" x2="` + strconv.Itoa(chartW-10) + `" y1="` + f1(y) + `" y2="` + f1(y) + `"/>`)
		b.WriteString(`<text class="axis" x="` + strconv.Itoa(padL-6) + `" y="` + f1(y+4) + `" text-anchor="end">` + strconv.Itoa(int(g*100)) + `%</text>`)
	}
	if len(pts) > 0 {
		step := 0.0
		if len(pts) > 1 {
			step = plotW / float64(len(pts)-1)
		}
		var path strings.Builder
		for i, p := range pts {
			x, y := float64(padL)+step*float64(i), 10+plotH*(1-clamp01(p.Share))
			if i == 0 {
				path.WriteString("M")
			} else {
				path.WriteString(" L")
			}
			path.WriteString(f1(x) + " " + f1(y))
			b.WriteString(`<circle class="dot" cx="` + f1(x) + `" cy="` + f1(y) + `" r="3"><title>` + esc(p.Label) + `: ` + f1(p.Share*100) + `%</title></circle>`)
		}
		b.WriteString(`<path class="series" d="` + path.String() + `"/>`)
		b.WriteString(`<text class="axis" x="` + strconv.Itoa(padL) + `" y="` + strconv.Itoa(chartH-8) + `">` + esc(pts[0].Label) + `</text>`)
		if len(pts) > 1 {
			b.WriteString(`<text class="axis" x="` + strconv.Itoa(chartW-10) + `" y="` + strconv.Itoa(chartH-8) + `" text-anchor="end">` + esc(pts[len(pts)-1].Label) + `</text>`)
		}
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

// barChart draws one horizontal bar per label, scaled to the largest.
func barChart(title string, bars []bar) template.HTML {
	esc := template.HTMLEscapeString
	const rowH, labelW = 26, 200
	h := len(bars)*rowH + 10
	if h < 40 {
		h = 40
	}
	var b strings.Builder
	b.WriteString(`<svg class="chart bars" viewBox="0 0 ` + strconv.Itoa(chartW) + ` ` + strconv.Itoa(h) + `" role="img" aria-label="` + esc(title) + `"><title>` + esc(title) + `</title>`)
	max := 0
	for _, x := range bars {
		if x.N > max {
			max = x.N
		}
	}
	for i, x := range bars {
		y := 5 + i*rowH
		w := 0.0
		if max > 0 {
			w = float64(chartW-labelW-60) * float64(x.N) / float64(max)
		}
		label := x.Label
		if r := []rune(label); len(r) > 30 {
			label = string(r[:29]) + "…"
		}
		b.WriteString(`<text class="axis" x="` + strconv.Itoa(labelW-6) + `" y="` + strconv.Itoa(y+16) + `" text-anchor="end">` + esc(label) + `</text>`)
		b.WriteString(`<rect class="fill" x="` + strconv.Itoa(labelW) + `" y="` + strconv.Itoa(y+3) + `" width="` + f1(w) + `" height="` + strconv.Itoa(rowH-8) + `"><title>` + esc(x.Label) + `: ` + strconv.Itoa(x.N) + `</title></rect>`)
		b.WriteString(`<text class="value" x="` + f1(float64(labelW)+w+6) + `" y="` + strconv.Itoa(y+16) + `">` + strconv.Itoa(x.N) + `</text>`)
	}
	if len(bars) == 0 {
		b.WriteString(`<text class="axis" x="10" y="24">nothing to show</text>`)
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String())
}

func clamp01(v float64) float64 {
	if v < 0 {
		return 0
	}
	if v > 1 {
		return 1
	}
	return v
}
