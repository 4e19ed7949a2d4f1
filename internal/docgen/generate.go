package docgen

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Files the reference is generated from, relative to the repository root.
const (
	DefinitionsGlob = "definitions/*.cue"
	AddonParameters = "parameter.cue"
	Readme          = "README.md"
)

// Generate reads the definitions and the addon parameters under root and
// returns the reference section's content.
func Generate(root string) (string, error) {
	files, err := filepath.Glob(filepath.Join(root, DefinitionsGlob))
	if err != nil {
		return "", fmt.Errorf("list definitions: %w", err)
	}
	if len(files) == 0 {
		return "", fmt.Errorf("no definitions match %s under %s", DefinitionsGlob, root)
	}
	sort.Strings(files)
	var defs []Definition
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return "", fmt.Errorf("read definition: %w", err)
		}
		rel, err := filepath.Rel(root, f)
		if err != nil {
			return "", fmt.Errorf("definition path: %w", err)
		}
		d, err := ParseDefinition(filepath.ToSlash(rel), src)
		if err != nil {
			return "", err
		}
		defs = append(defs, d)
	}
	src, err := os.ReadFile(filepath.Join(root, AddonParameters))
	if err != nil {
		return "", fmt.Errorf("read addon parameters: %w", err)
	}
	addon, err := ParseParameters(AddonParameters, src)
	if err != nil {
		return "", err
	}
	return Markdown(defs, addon), nil
}

// UpdateReadme regenerates the section of root's README.md and reports
// whether the file changed.
func UpdateReadme(root string) (bool, error) {
	path := filepath.Join(root, Readme)
	doc, err := os.ReadFile(path)
	if err != nil {
		return false, fmt.Errorf("read %s: %w", Readme, err)
	}
	generated, err := Generate(root)
	if err != nil {
		return false, err
	}
	updated, err := Replace(string(doc), generated)
	if err != nil {
		return false, fmt.Errorf("%s: %w", Readme, err)
	}
	if updated == string(doc) {
		return false, nil
	}
	if err := os.WriteFile(path, []byte(updated), 0o644); err != nil {
		return false, fmt.Errorf("write %s: %w", Readme, err)
	}
	return true, nil
}
