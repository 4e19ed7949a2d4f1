package docgen

import (
	"fmt"
	"sort"
	"strings"
)

// kindRank orders traits before workflow steps; other kinds come last.
var kindRank = map[string]int{"component": 0, "trait": 1, "workflow-step": 2, "policy": 3}

// Markdown renders the reference: a table of the definitions, one table of
// parameters per definition, and the addon's parameters.
func Markdown(defs []Definition, addon []Param) string {
	defs = append([]Definition(nil), defs...)
	sort.SliceStable(defs, func(i, j int) bool {
		if a, b := rank(defs[i].Kind), rank(defs[j].Kind); a != b {
			return a < b
		}
		return defs[i].Name < defs[j].Name
	})
	var b strings.Builder
	b.WriteString("| Definition | Kind | Applies to | Description |\n|---|---|---|---|\n")
	for _, d := range defs {
		fmt.Fprintf(&b, "| [`%s`](#%s) | %s | %s | %s |\n", d.Name, anchor(d), d.Kind, cellList(d.AppliesTo), cell(d.Description))
	}
	for _, d := range defs {
		fmt.Fprintf(&b, "\n### %s\n\n%s (`%s`). %s\n\n", heading(d), d.Kind, d.File, prose(d.Description))
		paramTable(&b, d.Params)
	}
	b.WriteString("\n### Addon parameters\n\n")
	b.WriteString("Set with `vela addon enable <dir> <parameter>=<value>` (`parameter.cue`).\n\n")
	paramTable(&b, addon)
	return b.String()
}

func paramTable(b *strings.Builder, params []Param) {
	if len(params) == 0 {
		b.WriteString("No parameters.\n")
		return
	}
	b.WriteString("| Parameter | Type | Default | Required | Description |\n|---|---|---|---|---|\n")
	for _, p := range params {
		required := "no"
		if p.Required {
			required = "yes"
		}
		fmt.Fprintf(b, "| `%s` | %s | %s | %s | %s |\n", p.Path, code(p.Type), code(p.Default), required, cell(p.Usage))
	}
}

func rank(kind string) int {
	if r, ok := kindRank[kind]; ok {
		return r
	}
	return len(kindRank)
}

// heading is the definition's section title; anchor is GitHub's id for it.
func heading(d Definition) string { return d.Name + " (" + d.Kind + ")" }

func anchor(d Definition) string {
	var b strings.Builder
	for _, r := range strings.ToLower(heading(d)) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteRune('-')
		}
	}
	return b.String()
}

// prose escapes what Markdown would take for HTML or emphasis.
func prose(s string) string {
	return strings.NewReplacer("<", "&lt;", ">", "&gt;", "*", `\*`, "_", `\_`).Replace(s)
}

// cell escapes prose for a table cell.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(prose(s), "|", `\|`), "\n", " ")
}

func cellList(items []string) string {
	var out []string
	for _, i := range items {
		out = append(out, "`"+i+"`")
	}
	return strings.Join(out, ", ")
}

// code puts s in a code span in a table cell ("" stays empty).
func code(s string) string {
	if s == "" {
		return ""
	}
	fence := "`"
	if strings.Contains(s, "`") {
		fence = "``"
	}
	return fence + strings.ReplaceAll(s, "|", `\|`) + fence
}
