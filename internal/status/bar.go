package status

// BarCells splits width cells among weights in proportion (largest remainder, ties
// to the earlier weight). A positive weight gets at least one cell while the width
// allows it, taken from the largest segment, so a 1% canary stays visible. The
// result adds up to width when the weights add up to more than zero.
func BarCells(weights []int32, width int) []int {
	cells := make([]int, len(weights))
	var total int64
	for _, w := range weights {
		if w > 0 {
			total += int64(w)
		}
	}
	if total == 0 || width <= 0 {
		return cells
	}
	rem := make([]int64, len(weights))
	used := 0
	for i, w := range weights {
		if w <= 0 {
			continue
		}
		scaled := int64(w) * int64(width)
		cells[i] = int(scaled / total)
		rem[i] = scaled % total
		used += cells[i]
	}
	for ; used < width; used++ {
		best := -1
		for i := range weights {
			if weights[i] > 0 && (best < 0 || rem[i] > rem[best]) {
				best = i
			}
		}
		cells[best]++
		rem[best] = -1
	}
	for i, w := range weights {
		if w <= 0 || cells[i] > 0 {
			continue
		}
		largest := 0
		for j := range cells {
			if cells[j] > cells[largest] {
				largest = j
			}
		}
		if cells[largest] <= 1 {
			break // no room left to give every weight a cell
		}
		cells[largest]--
		cells[i]++
	}
	return cells
}
