package analysis

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	v1 "github.com/prometheus/client_golang/api/prometheus/v1"
	"github.com/prometheus/common/model"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeAPI answers Query; the embedded nil API makes any other call panic.
type fakeAPI struct {
	v1.API
	value    model.Value
	warnings v1.Warnings
	err      error
	query    string
	ts       time.Time
	deadline bool
}

func (f *fakeAPI) Query(ctx context.Context, query string, ts time.Time, _ ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	f.query, f.ts = query, ts
	_, f.deadline = ctx.Deadline()
	return f.value, f.warnings, nil, f.err
}

// vec is a vector with one series per value, labelled pod="p<i>".
func vec(values ...float64) model.Vector {
	v := model.Vector{}
	for i, x := range values {
		v = append(v, &model.Sample{Metric: model.Metric{"pod": model.LabelValue(fmt.Sprint("p", i))}, Value: model.SampleValue(x)})
	}
	return v
}

func scalar(x float64) *model.Scalar { return &model.Scalar{Value: model.SampleValue(x)} }

var (
	nan    = math.NaN()
	posInf = math.Inf(1)
	negInf = math.Inf(-1)
)

func metric(edit func(*MetricSpec)) MetricSpec {
	m := MetricSpec{Name: "m", Query: `sum(rate(x{v="{{canary}}"}[{{interval}}]))`}
	edit(&m)
	return m
}

var (
	rangeMin  = metric(func(m *MetricSpec) { m.ThresholdRange = &ThresholdRange{Min: ptr(99.0)} })
	rangeMax  = metric(func(m *MetricSpec) { m.ThresholdRange = &ThresholdRange{Max: ptr(500.0)} })
	rangeBoth = metric(func(m *MetricSpec) { m.ThresholdRange = &ThresholdRange{Min: ptr(99.0), Max: ptr(100.0)} })
	succOnly  = metric(func(m *MetricSpec) { m.SuccessCondition = "result >= 99" })
	failOnly  = metric(func(m *MetricSpec) { m.FailureCondition = "result < 90" })
	both      = metric(func(m *MetricSpec) { m.SuccessCondition, m.FailureCondition = "result >= 99", "result < 90" })
	failNaN   = metric(func(m *MetricSpec) { m.SuccessCondition, m.FailureCondition = "result >= 99", "isNaN(result)" })
	failInf   = metric(func(m *MetricSpec) { m.FailureCondition = "isInf(result, 1)" })
	listSucc  = metric(func(m *MetricSpec) { m.SuccessCondition = "all(result, # >= 99)" })
	listEmpty = metric(func(m *MetricSpec) { m.FailureCondition = "len(result) == 0" })
	listFirst = metric(func(m *MetricSpec) { m.FailureCondition = "result[0] < 90" })
	rangeCond = metric(func(m *MetricSpec) {
		m.ThresholdRange, m.SuccessCondition = &ThresholdRange{Min: ptr(90.0)}, "result >= 99"
	})
)

// TestOutcomeTable plays every row of the outcome table in the package doc.
func TestOutcomeTable(t *testing.T) {
	tests := []struct {
		name   string
		spec   MetricSpec
		value  model.Value
		err    error
		phase  Phase
		msg    string
		values []Value
	}{
		// Prometheus did not give a usable answer.
		{name: "Prometheus error", spec: rangeMin, err: errors.New("connection refused"), phase: PhaseError,
			msg: `querying Prometheus failed (connection refused); check prometheus.address and that Prometheus runs: sum(rate(x{v="v2"}[1m]))`},
		{name: "bad query (400)", spec: rangeMin, err: &v1.Error{Type: v1.ErrBadData, Msg: "parse error"}, phase: PhaseError,
			msg: "Prometheus rejected the query (bad_data: parse error); fix the metric's query"},
		{name: "Prometheus timeout", spec: rangeMin, err: &v1.Error{Type: v1.ErrTimeout, Msg: "query timed out"}, phase: PhaseError,
			msg: "Prometheus did not answer in time"},
		{name: "client deadline", spec: succOnly, err: fmt.Errorf("post: %w", context.DeadlineExceeded), phase: PhaseError,
			msg: "Prometheus did not answer in time"},
		{name: "matrix", spec: rangeMin, value: model.Matrix{}, phase: PhaseError, msg: "range vector (matrix): use an instant query"},
		{name: "string", spec: rangeMin, value: &model.String{Value: "a"}, phase: PhaseError, msg: "the query gave a string, not a number"},
		{name: "native histogram", spec: rangeMin, value: model.Vector{{Histogram: &model.SampleHistogram{}}}, phase: PhaseError,
			msg: "native histogram, not a number"},
		{name: "condition fails to run", spec: metric(func(m *MetricSpec) { m.SuccessCondition = "result[3] > 1" }), value: vec(1), phase: PhaseError,
			msg: "index out of range"},
		{name: "condition over its memory budget", spec: metric(func(m *MetricSpec) { m.SuccessCondition = "len(map(1..100000, # * result)) > 0" }),
			value: vec(1), phase: PhaseError, msg: "memory budget exceeded"},

		// Empty vector: no data is never a success.
		{name: "empty, range", spec: rangeMin, value: vec(), phase: PhaseInconclusive, msg: "the query returned no series"},
		{name: "empty, success condition", spec: succOnly, value: vec(), phase: PhaseInconclusive, msg: "the query returned no series"},
		{name: "empty, list success condition", spec: listSucc, value: vec(), phase: PhaseInconclusive, msg: "cannot pass a condition"},
		{name: "empty, len(result) == 0 fails", spec: listEmpty, value: vec(), phase: PhaseFailed, msg: `failureCondition "len(result) == 0" holds for []`},
		{name: "empty, result[0] does not run", spec: listFirst, value: vec(), phase: PhaseInconclusive, msg: "the query returned no series"},

		// NaN: nothing measured.
		{name: "NaN, range", spec: rangeMin, value: scalar(nan), phase: PhaseInconclusive, msg: "NaN: NaN means nothing to measure", values: []Value{Value(nan)}},
		{name: "NaN, success condition", spec: succOnly, value: vec(nan), phase: PhaseInconclusive, msg: "cannot pass a condition"},
		{name: "NaN, failure condition does not hold", spec: failOnly, value: vec(nan), phase: PhaseInconclusive},
		{name: "NaN, both", spec: both, value: vec(nan), phase: PhaseInconclusive},
		{name: "NaN, isNaN failure condition", spec: failNaN, value: vec(nan), phase: PhaseFailed, msg: `failureCondition "isNaN(result)" holds for {pod="p0"} NaN`},

		// Infinities.
		{name: "+Inf, max", spec: rangeMax, value: vec(posInf), phase: PhaseFailed, msg: `{pod="p0"} +Inf is above thresholdRange.max 500`},
		{name: "+Inf, min", spec: rangeMin, value: vec(posInf), phase: PhaseInconclusive, msg: "+Inf is not a finite number, so it cannot pass thresholdRange"},
		{name: "+Inf, success condition that holds", spec: succOnly, value: vec(posInf), phase: PhaseInconclusive, msg: "cannot pass a condition"},
		{name: "+Inf, isInf failure condition", spec: failInf, value: vec(posInf), phase: PhaseFailed},
		{name: "-Inf, min", spec: rangeMin, value: vec(negInf), phase: PhaseFailed, msg: "-Inf is below thresholdRange.min 99"},
		{name: "-Inf, max", spec: rangeMax, value: vec(negInf), phase: PhaseInconclusive},
		{name: "-Inf, failure condition that holds", spec: failOnly, value: vec(negInf), phase: PhaseFailed},

		// Finite values and thresholdRange, both ends included.
		{name: "below min", spec: rangeMin, value: vec(98.9), phase: PhaseFailed, msg: `{pod="p0"} 98.9 is below thresholdRange.min 99`},
		{name: "above max", spec: rangeMax, value: vec(500.1), phase: PhaseFailed, msg: "500.1 is above thresholdRange.max 500"},
		{name: "at min", spec: rangeMin, value: vec(99), phase: PhaseSuccessful, msg: "99 is within thresholdRange"},
		{name: "at max", spec: rangeMax, value: vec(500), phase: PhaseSuccessful},
		{name: "inside both bounds", spec: rangeBoth, value: vec(99.5), phase: PhaseSuccessful},

		// Finite values and conditions: failure first, as argo-rollouts.
		{name: "failure holds", spec: failOnly, value: vec(80), phase: PhaseFailed, msg: `failureCondition "result < 90" holds for {pod="p0"} 80`},
		{name: "failure wins when both hold", spec: metric(func(m *MetricSpec) { m.SuccessCondition, m.FailureCondition = "result >= 0", "result < 90" }),
			value: vec(80), phase: PhaseFailed, msg: "failureCondition"},
		{name: "only success, holds", spec: succOnly, value: vec(99.5), phase: PhaseSuccessful, msg: `successCondition "result >= 99" holds for {pod="p0"} 99.5`},
		{name: "only success, does not hold", spec: succOnly, value: vec(95), phase: PhaseFailed, msg: `successCondition "result >= 99" does not hold for {pod="p0"} 95`},
		{name: "only failure, does not hold", spec: failOnly, value: vec(95), phase: PhaseSuccessful},
		{name: "both, neither holds", spec: both, value: vec(95), phase: PhaseInconclusive,
			msg: `neither successCondition "result >= 99" nor failureCondition "result < 90" holds for {pod="p0"} 95`},
		{name: "both, success holds", spec: both, value: vec(99.5), phase: PhaseSuccessful},
		{name: "range passes, condition fails", spec: rangeCond, value: vec(95), phase: PhaseFailed, msg: "successCondition"},

		// Several series: every series must pass.
		{name: "several, all pass", spec: rangeMin, value: vec(99, 100, 99.9), phase: PhaseSuccessful, values: []Value{99, 100, 99.9}},
		{name: "several, one fails", spec: rangeMin, value: vec(99, 50, 100), phase: PhaseFailed, msg: `{pod="p1"} 50 is below`},
		{name: "several, one NaN", spec: succOnly, value: vec(99, nan), phase: PhaseInconclusive},
		{name: "several, one NaN one failing", spec: succOnly, value: vec(nan, 10), phase: PhaseFailed},
		{name: "several, list condition", spec: listSucc, value: vec(99.5, 98), phase: PhaseFailed, msg: `successCondition "all(result, # >= 99)" does not hold for [99.5 98]`},
		{name: "several, list condition with NaN", spec: listSucc, value: vec(99.5, nan), phase: PhaseInconclusive},

		// Scalar vs vector: a scalar is one series without labels.
		{name: "scalar passes", spec: rangeMin, value: scalar(99.5), phase: PhaseSuccessful, msg: "99.5 is within thresholdRange", values: []Value{99.5}},
		{name: "scalar fails", spec: succOnly, value: scalar(1), phase: PhaseFailed, msg: `does not hold for 1`},
		{name: "scalar as a list", spec: listSucc, value: scalar(99.5), phase: PhaseSuccessful, msg: "holds for [99.5]"},
		{name: "vector of one", spec: succOnly, value: vec(99.5), phase: PhaseSuccessful, values: []Value{99.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			api := &fakeAPI{value: tt.value, err: tt.err}
			at := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
			vars := reviews
			vars.Time = at
			got := Measure(context.Background(), api, tt.spec, vars)
			assert.Equal(t, tt.phase, got.Phase, got.Message)
			assert.Contains(t, got.Message, tt.msg)
			assert.Equal(t, at, got.Time)
			assert.Equal(t, at, api.ts)
			assert.True(t, api.deadline, "a query always has a deadline")
			if tt.values != nil {
				assert.Equal(t, fmt.Sprint(tt.values), fmt.Sprint(got.Values))
			}
		})
	}
}

func TestMeasureDetails(t *testing.T) {
	t.Run("the expanded query is sent", func(t *testing.T) {
		api := &fakeAPI{value: vec(100)}
		Measure(context.Background(), api, rangeMin, reviews)
		assert.Equal(t, `sum(rate(x{v="v2"}[1m]))`, api.query)
	})
	t.Run("now when no time is given", func(t *testing.T) {
		before := time.Now()
		got := Measure(context.Background(), &fakeAPI{value: vec(100)}, rangeMin, Vars{Canary: "v2", Interval: time.Minute})
		assert.False(t, got.Time.Before(before))
	})
	t.Run("warnings are kept", func(t *testing.T) {
		got := Measure(context.Background(), &fakeAPI{value: vec(100), warnings: v1.Warnings{"partial data"}}, rangeMin, reviews)
		assert.Equal(t, PhaseSuccessful, got.Phase)
		assert.Contains(t, got.Message, "Prometheus warns: partial data")
	})
	t.Run("values are capped, series counted", func(t *testing.T) {
		many := make([]float64, MaxValues+5)
		got := Measure(context.Background(), &fakeAPI{value: vec(many...)}, rangeMin, reviews)
		assert.Len(t, got.Values, MaxValues)
		assert.Contains(t, got.Message, "(and 22 more)")
	})
	t.Run("invalid spec", func(t *testing.T) {
		api := &fakeAPI{}
		got := Measure(context.Background(), api, MetricSpec{Name: "m", Query: "up"}, reviews)
		assert.Equal(t, PhaseError, got.Phase)
		assert.Contains(t, got.Message, `metric "m" is invalid: thresholdRange: is missing`)
		assert.Empty(t, api.query, "no query is sent")
	})
	t.Run("placeholder without a value", func(t *testing.T) {
		api := &fakeAPI{}
		got := Measure(context.Background(), api, rangeMin, Vars{Interval: time.Minute})
		assert.Equal(t, PhaseError, got.Phase)
		assert.Equal(t, `metric "m": {{canary}} has no value here`, got.Message)
		assert.Empty(t, api.query)
	})
	t.Run("the caller's deadline is kept", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), time.Hour)
		defer cancel()
		api := &fakeAPI{value: vec(100)}
		m, err := Compile(rangeMin)
		require.NoError(t, err)
		assert.Equal(t, PhaseSuccessful, m.Measure(ctx, api, reviews).Phase)
		assert.True(t, api.deadline)
	})
}

// badDataAPI answers a query with "by" as Prometheus answers one it cannot
// parse, and any other with one series.
type badDataAPI struct{ v1.API }

func (badDataAPI) Query(_ context.Context, q string, _ time.Time, _ ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	if strings.Contains(q, " by ") {
		return nil, nil, nil, &v1.Error{Type: v1.ErrBadData, Msg: `1:30: parse error: unexpected <by>`}
	}
	return vec(100), nil, nil, nil
}

// downAPI answers as a Prometheus that does not run.
type downAPI struct{ v1.API }

func (downAPI) Query(context.Context, string, time.Time, ...v1.Option) (model.Value, v1.Warnings, v1.Infos, error) {
	return nil, nil, nil, errors.New("dial tcp 127.0.0.1:9090: connect: connection refused")
}

func TestCheckQueriesNamesTheFieldPrometheusRejects(t *testing.T) {
	testVars := Vars{Canary: "v2", Interval: time.Minute}
	spec := Spec{Metrics: []MetricSpec{
		metric(func(m *MetricSpec) { m.Name = "ok"; m.ThresholdRange = &ThresholdRange{Min: ptr(99.0)} }),
		metric(func(m *MetricSpec) {
			m.Name, m.Query, m.ThresholdRange = "bad", `rate(x{v="{{canary}}"}[{{interval}}]) by (pod)`, &ThresholdRange{Min: ptr(99.0)}
		}),
	}}
	err := CheckQueries(context.Background(), badDataAPI{}, spec, testVars)
	require.Error(t, err)
	assert.Equal(t, `metrics[1].query: Prometheus cannot run it: 1:30: parse error: unexpected <by>; query: rate(x{v="v2"}[1m]) by (pod)`, err.Error())

	require.NoError(t, CheckQueries(context.Background(), downAPI{}, spec, testVars),
		"Prometheus down is not the query's fault: the measurements count it")
	matrix := &fakeAPI{value: model.Matrix{}}
	err = CheckQueries(context.Background(), matrix, Spec{Metrics: spec.Metrics[:1]}, testVars)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "range vector")
}
