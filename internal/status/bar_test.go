package status

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestBarCells(t *testing.T) {
	cases := []struct {
		name    string
		weights []int32
		width   int
		want    []int
	}{
		{"90/10", []int32{90, 10}, 40, []int{36, 4}},
		{"all stable", []int32{100}, 40, []int{40}},
		{"all canary", []int32{0, 100}, 40, []int{0, 40}},
		{"1% stays visible", []int32{99, 1}, 40, []int{39, 1}},
		{"largest remainder", []int32{33, 33, 34}, 10, []int{3, 3, 4}},
		{"ties go to the first", []int32{50, 50}, 5, []int{3, 2}},
		{"not enough cells for all", []int32{1, 1, 1, 1, 1}, 3, []int{1, 1, 1, 0, 0}},
		{"no traffic", []int32{0, 0}, 40, []int{0, 0}},
		{"no width", []int32{50, 50}, 0, []int{0, 0}},
		{"negative ignored", []int32{-5, 100}, 8, []int{0, 8}},
		{"weights not summing to 100", []int32{1, 3}, 8, []int{2, 6}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, BarCells(tc.weights, tc.width))
		})
	}
}

func TestBarCellsAddUpToWidth(t *testing.T) {
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 1000; i++ {
		weights := make([]int32, 1+r.Intn(4))
		for j := range weights {
			weights[j] = int32(r.Intn(101))
		}
		weights[0]++ // at least one positive weight
		width := 1 + r.Intn(60)
		sum := 0
		for j, n := range BarCells(weights, width) {
			assert.GreaterOrEqual(t, n, 0)
			if weights[j] > 0 && width >= len(weights) {
				assert.Positive(t, n, "weights %v width %d: positive weight %d got no cell", weights, width, j)
			}
			sum += n
		}
		assert.Equal(t, width, sum, "weights %v width %d", weights, width)
	}
}
