package status

import (
	"fmt"
	"strings"
)

// Options control the rendering.
type Options struct {
	// Color turns on ANSI colours.
	Color bool
	// BarWidth is the width of the traffic bar in cells (default 40).
	BarWidth int
}

// Render returns the view as text.
func Render(v View, o Options) string {
	if o.BarWidth <= 0 {
		o.BarWidth = 40
	}
	p := painter{color: o.Color}
	var b strings.Builder
	renderHeader(&b, p, v)
	if !v.Found {
		return b.String()
	}
	for _, c := range v.Canaried {
		b.WriteString("\n")
		renderComponent(&b, p, c, o.BarWidth)
	}
	renderAnalyses(&b, p, v)
	if len(v.Workflow.Steps) > 0 {
		b.WriteString("\n")
		renderSteps(&b, p, v.Workflow)
	}
	if len(v.Others) > 0 {
		b.WriteString("\n" + p.paint("Other components", bold) + "\n")
		var rows [][]cell
		for _, o := range v.Others {
			rows = append(rows, []cell{{o.Name, plain}, readyCell(o.Ready, o.Desired, len(o.Deployments) > 0)})
		}
		p.table(&b, "  ", rows)
	}
	return b.String()
}

func renderHeader(b *strings.Builder, p painter, v View) {
	rows := [][]cell{
		{{"Name:", plain}, {v.App, bold}},
		{{"Namespace:", plain}, {v.Namespace, plain}},
	}
	if v.Found {
		icon, st := appIcon(v.Phase)
		rows = append(rows, []cell{{"Status:", plain}, {icon + " " + orDash(v.Phase), st}})
		if v.LatestRevision != "" {
			rows = append(rows, []cell{{"Revision:", plain}, {v.LatestRevision, plain}})
		}
		if s := v.Workflow.CurrentStep(); s != nil {
			text := fmt.Sprintf("%s (%s) %s", s.Name, orDash(s.Type), orDash(s.Phase))
			if s.Message != "" {
				text += ": " + s.Message
			}
			rows = append(rows, []cell{{"Step:", plain}, {text, stepStyle(s.Phase)}})
		}
		if a := v.Abort; a != nil {
			text, st := "aborting", yellow
			if a.Done {
				text, st = "aborted", red
			}
			if a.Reason != "" {
				text += ": " + a.Reason
			}
			rows = append(rows, []cell{{"Abort:", plain}, {text, st}})
		}
	}
	rows = append(rows, []cell{{"Next:", plain}, {v.Next.Text, actionStyle(v.Next.Kind)}})
	p.table(b, "", rows)
}

func renderComponent(b *strings.Builder, p painter, c Component, width int) {
	title := "Component " + c.Name
	if c.Phase != "" {
		title += " (" + c.Phase + ")"
	}
	b.WriteString(p.paint(title, bold) + "\n")
	rows := [][]cell{{{"ROLE", dim}, {"VERSION", dim}, {"DEPLOYMENT", dim}, {"READY", dim}, {"TRAFFIC", dim}}}
	for _, v := range c.Versions {
		dep := v.Deployment
		if dep == "" {
			dep = "(none)"
		}
		rows = append(rows, []cell{
			{string(v.Role), roleStyle(v.Role)},
			{v.Name, roleStyle(v.Role)},
			{dep, plain},
			readyCell(v.Ready, v.Desired, v.Deployment != ""),
			{fmt.Sprintf("%3d%%", v.Weight), plain},
		})
	}
	p.table(b, "  ", rows)
	if c.VirtualService == "" {
		b.WriteString("  traffic  " + p.paint("no VirtualService "+c.Name, yellow) + "\n")
		return
	}
	b.WriteString("  traffic  " + trafficBar(p, c, width) + "\n")
	renderRouting(b, p, c)
}

// barSegment is one coloured part of the traffic bar.
type barSegment struct {
	label  string
	weight int32
	st     style
}

// barGlyphs tell the segments apart without colour: the first (stable) is solid.
var barGlyphs = []string{"█", "░", "▒", "▓"}

// trafficBar draws the split as a bar plus a legend, in version order (stable first).
func trafficBar(p painter, c Component, width int) string {
	var segs []barSegment
	for _, v := range c.Versions {
		if v.Weight > 0 {
			segs = append(segs, barSegment{v.Name, v.Weight, roleStyle(v.Role)})
		}
	}
	for _, r := range c.Routes {
		if r.Subset == "" && r.Weight > 0 {
			segs = append(segs, barSegment{"(no subset)", r.Weight, cyan})
		}
	}
	if len(segs) == 0 {
		return p.paint("no traffic routed", yellow)
	}
	weights := make([]int32, len(segs))
	for i, s := range segs {
		weights[i] = s.weight
	}
	var bar, legend strings.Builder
	for i, n := range BarCells(weights, width) {
		glyph := barGlyphs[i%len(barGlyphs)]
		bar.WriteString(p.paint(strings.Repeat(glyph, n), segs[i].st))
		fmt.Fprintf(&legend, "  %s %s %d%%", p.paint(glyph, segs[i].st), segs[i].label, segs[i].weight)
	}
	return bar.String() + legend.String()
}

// renderSteps lists the steps; the current step's message is on the Step: line.
func renderSteps(b *strings.Builder, p painter, w Workflow) {
	title := "Workflow"
	if w.Phase != "" {
		title += " (" + w.Phase + ")"
	}
	b.WriteString(p.paint(title, bold) + "\n")
	var rows [][]cell
	for _, s := range w.Steps {
		st := stepStyle(s.Phase)
		rows = append(rows, []cell{{stepIcon(s.Phase) + " " + s.Name, st}, {orDash(s.Type), plain}, {s.Phase, st}})
	}
	p.table(b, "  ", rows)
}

func readyCell(ready, desired int32, exists bool) cell {
	if !exists {
		return cell{"-", dim}
	}
	st := green
	switch {
	case desired > 0 && ready == 0:
		st = red
	case ready < desired:
		st = yellow
	}
	return cell{fmt.Sprintf("%d/%d", ready, desired), st}
}
