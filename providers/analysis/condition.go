package analysis

import (
	"fmt"
	"math"
	"strings"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
)

// MaxConditionLength bounds a condition's text; conditions are one-liners.
const MaxConditionLength = 1024

// conditionMemoryBudget bounds what one run of a condition may allocate,
// a tenth of expr's default: a condition over the series of one query
// needs little, and the provider serves every Application of the cluster,
// so one condition must not keep it busy (len(map(1..1e6, #)) > 0).
const conditionMemoryBudget = 1e5

// form says what result is while a condition runs.
type form int

const (
	// perSeries: result is one number; the condition runs once per series.
	perSeries form = iota
	// wholeList: result is the list of all series' numbers; it runs once.
	wholeList
)

func (f form) String() string {
	if f == wholeList {
		return "the list of series"
	}
	return "one number per series"
}

// condition is a compiled successCondition or failureCondition.
type condition struct {
	src  string
	form form
	prog *vm.Program
}

// compiled holds a condition compiled for both forms; a form that does not
// compile has a nil program and its error.
type compiled struct {
	src   string
	progs [2]*vm.Program
	errs  [2]error
}

func compileForms(src string) compiled {
	c := compiled{src: src}
	envs := [2]map[string]any{perSeries: {"result": 0.0}, wholeList: {"result": []float64{}}}
	for f, env := range envs {
		c.progs[f], c.errs[f] = expr.Compile(src, conditionOptions(env)...)
	}
	return c
}

func conditionOptions(env map[string]any) []expr.Option {
	return []expr.Option{
		expr.Env(env),
		expr.AsBool(),
		// A verdict depends on the measured values only, so that deciding
		// again on a kept measurement gives the same answer.
		expr.DisableBuiltin("now"),
		expr.Function("isNaN", func(p ...any) (any, error) {
			return math.IsNaN(p[0].(float64)), nil
		}, new(func(float64) bool)),
		// isInf(x) is true for both infinities; isInf(x, sign) as Go's
		// math.IsInf: sign > 0 for +Inf only, sign < 0 for -Inf only.
		expr.Function("isInf", func(p ...any) (any, error) {
			sign := 0
			if len(p) == 2 {
				sign, _ = p[1].(int)
			}
			return math.IsInf(p[0].(float64), sign), nil
		}, new(func(float64) bool), new(func(float64, int) bool)),
	}
}

func (c compiled) has(f form) bool { return c.progs[f] != nil }

func (c compiled) as(f form) *condition {
	return &condition{src: c.src, form: f, prog: c.progs[f]}
}

// problem explains why neither form compiled: the first line of expr's
// error (the rest is a caret drawing) and how to write a condition.
func (c compiled) problem() string {
	err := c.errs[perSeries]
	// A condition written for the list fails the per-series form with a
	// type error that would mislead; show the list form's error when it is
	// the one about the result's type.
	if !isTypeError(c.errs[perSeries]) && isTypeError(c.errs[wholeList]) {
		err = c.errs[wholeList]
	}
	first, _, _ := strings.Cut(err.Error(), "\n")
	return fmt.Sprintf("%s; write a boolean expression over result, e.g. result >= 99 (checked for each series) or all(result, # >= 99) (result is the list of series)", first)
}

func isTypeError(err error) bool { return strings.Contains(err.Error(), "expected bool") }

// compileConditions compiles the two conditions of a metric in one form:
// per series when both can be, else as the list. An empty text gives nil.
func compileConditions(success, failure string) (s, f *condition, errs []*FieldError) {
	var forms []compiled
	for _, c := range []struct{ path, src string }{{"successCondition", success}, {"failureCondition", failure}} {
		if c.src == "" {
			continue
		}
		if len(c.src) > MaxConditionLength {
			errs = append(errs, fieldErrorf(c.path, nil, "is %d characters long, more than %d; a condition is one expression over result", len(c.src), MaxConditionLength))
			continue
		}
		cf := compileForms(c.src)
		if !cf.has(perSeries) && !cf.has(wholeList) {
			errs = append(errs, fieldErrorf(c.path, cf.errs[perSeries], "does not compile: %s", cf.problem()))
			continue
		}
		forms = append(forms, cf)
	}
	if len(errs) > 0 || len(forms) == 0 {
		return nil, nil, errs
	}
	var chosen form
	switch {
	case allHave(forms, perSeries):
		chosen = perSeries
	case allHave(forms, wholeList):
		chosen = wholeList
	default:
		return nil, nil, []*FieldError{fieldErrorf("failureCondition", nil,
			"is written for %s and successCondition for %s: write both for one number (result >= 99) or both for the list (all(result, # >= 99))",
			formOf(forms[1]), formOf(forms[0]))}
	}
	for _, cf := range forms {
		if cf.src == success {
			s = cf.as(chosen)
		}
		if cf.src == failure {
			f = cf.as(chosen)
		}
	}
	return s, f, nil
}

func allHave(cs []compiled, f form) bool {
	for _, c := range cs {
		if !c.has(f) {
			return false
		}
	}
	return true
}

func formOf(c compiled) form {
	if c.has(perSeries) {
		return perSeries
	}
	return wholeList
}

// holds runs the condition on one number (perSeries) or on the list.
func (c *condition) holds(result any) (bool, error) {
	machine := vm.VM{MemoryBudget: conditionMemoryBudget}
	out, err := machine.Run(c.prog, map[string]any{"result": result})
	if err != nil {
		first, _, _ := strings.Cut(err.Error(), "\n")
		return false, fmt.Errorf("condition %q: %s", c.src, first)
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("condition %q gave %v (%T), not true or false", c.src, out, out)
	}
	return b, nil
}
