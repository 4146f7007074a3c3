package console

// A line diff for the policies page. Hand-written rather than a dependency: policy documents
// are small (tens of lines, a few hundred at most), so the textbook longest-common-subsequence
// table, O(n·m) in time and memory, is fast and short enough to read; inputs past maxDiffLines
// are not diffed line by line (the page says so) so the table stays bounded.

// maxDiffLines bounds each side of a diff.
const maxDiffLines = 2000

// diffLine is one line of a diff: Op is "same", "add" (only in the new version) or "del"
// (only in the old one).
type diffLine struct {
	Op   string
	Text string
}

// lineDiff returns the lines of a and b in order, each marked same, del or add, so that the
// same and del lines spell a and the same and add lines spell b. ok is false when either side
// is longer than maxDiffLines: then the result is all of a deleted and all of b added.
func lineDiff(a, b []string) (out []diffLine, ok bool) {
	if len(a) > maxDiffLines || len(b) > maxDiffLines {
		for _, x := range a {
			out = append(out, diffLine{"del", x})
		}
		for _, x := range b {
			out = append(out, diffLine{"add", x})
		}
		return out, false
	}
	// lcs[i][j] is the length of the longest common subsequence of a[i:] and b[j:].
	lcs := make([][]int, len(a)+1)
	for i := range lcs {
		lcs[i] = make([]int, len(b)+1)
	}
	for i := len(a) - 1; i >= 0; i-- {
		for j := len(b) - 1; j >= 0; j-- {
			if a[i] == b[j] {
				lcs[i][j] = lcs[i+1][j+1] + 1
			} else {
				lcs[i][j] = max(lcs[i+1][j], lcs[i][j+1])
			}
		}
	}
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			out = append(out, diffLine{"same", a[i]})
			i, j = i+1, j+1
		case lcs[i+1][j] >= lcs[i][j+1]:
			out = append(out, diffLine{"del", a[i]})
			i++
		default:
			out = append(out, diffLine{"add", b[j]})
			j++
		}
	}
	for ; i < len(a); i++ {
		out = append(out, diffLine{"del", a[i]})
	}
	for ; j < len(b); j++ {
		out = append(out, diffLine{"add", b[j]})
	}
	return out, true
}
