module github.com/hallmark-id/hallmark/tools/bench

go 1.26.8
