package analysis

import (
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConditionForms(t *testing.T) {
	tests := []struct {
		success, failure string
		want             form
	}{
		{success: "result >= 99", want: perSeries},
		{failure: "result < 90 || isNaN(result)", want: perSeries},
		{success: "all(result, # >= 99)", want: wholeList},
		{failure: "len(result) == 0", want: wholeList},
		{success: "result[0] >= 99", failure: "result[0] < 90", want: wholeList},
		// Both forms compile: one number per series, as the package doc says.
		{success: "result == result", want: perSeries},
		{success: "result >= 99", failure: "isInf(result, 1) or isNaN(result)", want: perSeries},
	}
	for _, tt := range tests {
		t.Run(tt.success+"|"+tt.failure, func(t *testing.T) {
			s, f, errs := compileConditions(tt.success, tt.failure)
			require.Empty(t, errs)
			for _, c := range []*condition{s, f} {
				if c != nil {
					assert.Equal(t, tt.want, c.form)
				}
			}
		})
	}
}

func TestConditionRejected(t *testing.T) {
	tests := []struct {
		name, success, failure string
		path, err              string
	}{
		{name: "not boolean", success: "result", path: "successCondition", err: "expected bool, but got float64"},
		{name: "not boolean on a list", success: "filter(result, # > 1)", path: "successCondition", err: "expected bool"},
		{name: "arithmetic", failure: "result + 1", path: "failureCondition", err: "expected bool"},
		{name: "syntax", success: "result >=", path: "successCondition", err: "does not compile"},
		{name: "type mismatch", success: `result > "a"`, path: "successCondition", err: "mismatched types"},
		{name: "unknown variable", success: "value >= 99", path: "successCondition", err: "unknown name value"},
		{name: "now is disabled", success: "now() != nil && result > 1", path: "successCondition", err: "unknown name now"},
		{name: "too long", success: "result > 1" + strings.Repeat(" ", MaxConditionLength), path: "successCondition", err: "more than 1024"},
		{name: "forms differ", success: "result >= 99", failure: "len(result) == 0", path: "failureCondition",
			err: "is written for the list of series and successCondition for one number per series"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, errs := compileConditions(tt.success, tt.failure)
			require.Len(t, errs, 1)
			assert.Equal(t, tt.path, errs[0].Path)
			assert.Contains(t, errs[0].Error(), tt.err)
			assert.NotContains(t, errs[0].Error(), "\n", "one line, without expr's caret drawing")
		})
	}
}

func TestConditionFunctions(t *testing.T) {
	tests := []struct {
		src    string
		result float64
		want   bool
	}{
		{"isNaN(result)", math.NaN(), true},
		{"isNaN(result)", 1, false},
		{"isInf(result)", math.Inf(-1), true},
		{"isInf(result, 1)", math.Inf(-1), false},
		{"isInf(result, -1)", math.Inf(-1), true},
		{"isInf(result)", 1e308, false},
		{"result >= 99 and result <= 100", 99.5, true},
		{"not (result < 99) or false", 98, false},
	}
	for _, tt := range tests {
		t.Run(tt.src, func(t *testing.T) {
			s, _, errs := compileConditions(tt.src, "")
			require.Empty(t, errs)
			got, err := s.holds(tt.result)
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestConditionRuntimeError(t *testing.T) {
	s, _, errs := compileConditions("result[3] > 1", "")
	require.Empty(t, errs)
	_, err := s.holds([]float64{1})
	require.Error(t, err)
	assert.Contains(t, err.Error(), `condition "result[3] > 1": index out of range`)
}
