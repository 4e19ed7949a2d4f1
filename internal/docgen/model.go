// Package docgen generates the reference section of README.md from the
// definitions' CUE source: every definition, and every parameter with its
// type, default and `// +usage=` text. It reads the CUE syntax only (the
// definitions import vela's packages, which exist only inside vela).
package docgen

// Definition is one X-Definition of definitions/*.cue.
type Definition struct {
	Name string
	// Kind is the definition's type: trait, workflow-step, component, policy.
	Kind        string
	Description string
	// AppliesTo is attributes.appliesToWorkloads (traits).
	AppliesTo []string
	// File is the path the definition was read from, relative to the repository.
	File   string
	Params []Param
}

// Param is one parameter, nested ones included.
type Param struct {
	// Path is the parameter's path: a.b for a field of a struct, a[].b for a
	// field of a list's elements.
	Path string
	// Type is a short description of the value's type and constraints.
	Type string
	// Default is the CUE default ("" when there is none).
	Default  string
	Required bool
	// Usage is the text of the field's `// +usage=` comment.
	Usage string
}
