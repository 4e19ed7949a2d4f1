package analysis

import (
	"fmt"
	"math"
)

// Metric is a validated MetricSpec with its conditions compiled, ready to
// be measured any number of times.
type Metric struct {
	Spec    MetricSpec
	query   string
	success *condition
	failure *condition
}

// Compile validates spec and compiles its conditions once, for every
// measurement and every series to reuse.
func Compile(spec MetricSpec) (*Metric, error) {
	m, errs := compile(spec)
	if len(errs) > 0 {
		return nil, joinFieldErrors(errs)
	}
	return m, nil
}

func compile(spec MetricSpec) (*Metric, []*FieldError) {
	var errs []*FieldError
	if spec.Name == "" {
		errs = append(errs, fieldErrorf("name", nil, "is empty; name the metric, e.g. success-rate"))
	}
	m := &Metric{Spec: spec}
	switch {
	case spec.Query != "" && spec.Template != "":
		errs = append(errs, fieldErrorf("query", nil, "and template are both given; keep one: template for a builtin metric (%s), query for your own PromQL", templateNames()))
	case spec.Query == "" && spec.Template == "":
		errs = append(errs, fieldErrorf("query", nil, "and template are both missing; give template for a builtin metric (%s) or query for your own PromQL", templateNames()))
	case spec.Template != "":
		t, ok := Templates[spec.Template]
		if !ok {
			errs = append(errs, fieldErrorf("template", nil, "%q is not a builtin metric; use one of %s, or write a query", spec.Template, templateNames()))
		}
		m.query = t.Query
	default:
		if _, err := expand(spec.Query, sampleValue); err != nil {
			errs = append(errs, fieldErrorf("query", err, "%v", err))
		}
		m.query = spec.Query
	}
	var cerrs []*FieldError
	m.success, m.failure, cerrs = compileConditions(spec.SuccessCondition, spec.FailureCondition)
	errs = append(errs, cerrs...)
	errs = append(errs, checkRange(spec.ThresholdRange)...)
	if spec.SuccessCondition == "" && spec.FailureCondition == "" && spec.ThresholdRange == nil {
		hint := "thresholdRange {min: ...} and/or {max: ...}"
		if t, ok := Templates[spec.Template]; ok {
			hint = t.Check
		}
		errs = append(errs, fieldErrorf("thresholdRange", nil, "is missing, and so are successCondition and failureCondition: nothing would judge the value; give %s, or a condition", hint))
	}
	return m, errs
}

func checkRange(r *ThresholdRange) []*FieldError {
	if r == nil {
		return nil
	}
	if r.Min == nil && r.Max == nil {
		return []*FieldError{fieldErrorf("thresholdRange", nil, "has neither min nor max; give one or both, e.g. {min: 99}")}
	}
	var errs []*FieldError
	for _, b := range []struct {
		path string
		v    *float64
	}{{"thresholdRange.min", r.Min}, {"thresholdRange.max", r.Max}} {
		if b.v != nil && (math.IsNaN(*b.v) || math.IsInf(*b.v, 0)) {
			errs = append(errs, fieldErrorf(b.path, nil, "is %v; give a finite number", *b.v))
		}
	}
	if len(errs) == 0 && r.Min != nil && r.Max != nil && *r.Min > *r.Max {
		errs = append(errs, fieldErrorf("thresholdRange", nil, "min %v is above max %v; no value could pass: swap them", *r.Min, *r.Max))
	}
	return errs
}

// Query returns the metric's query with vars' values in place.
func (m *Metric) Query(vars Vars) (string, error) {
	q, err := expand(m.query, vars.value)
	if err != nil {
		return "", fmt.Errorf("metric %q: %w", m.Spec.Name, err)
	}
	return q, nil
}
