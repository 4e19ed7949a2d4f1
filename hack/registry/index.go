package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// buildIndex returns the index.yaml of the packages in dir: Helm's
// repository index (apiVersion v1, entries by chart name), each entry the
// package's Chart.yaml with the package's URL, relative to the
// repository, and digest. vela parses it strictly into Helm's IndexFile,
// so an entry holds nothing but Chart.yaml's fields (Helm's chart
// metadata), urls and digest. Chart.yaml is what `vela addon package`
// wrote from metadata.yaml: its annotations carry the addon's system
// requirements, which vela checks before enabling. There are no timestamps,
// so the same packages give the same index.
func buildIndex(dir string) ([]byte, error) {
	packages, err := filepath.Glob(filepath.Join(dir, "*.tgz"))
	if err != nil {
		return nil, err
	}
	if len(packages) == 0 {
		return nil, fmt.Errorf("no addon packages (*.tgz) in %s", dir)
	}
	sort.Strings(packages)
	entries := map[string][]map[string]any{}
	for _, p := range packages {
		entry, err := indexEntry(p)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		name := entry["name"].(string)
		entries[name] = append(entries[name], entry)
	}
	return yaml.Marshal(map[string]any{"apiVersion": "v1", "entries": entries})
}

func indexEntry(pkg string) (map[string]any, error) {
	data, err := os.ReadFile(pkg)
	if err != nil {
		return nil, err
	}
	chartYAML, err := chartFile(data, pkg)
	if err != nil {
		return nil, err
	}
	entry := map[string]any{}
	if err := yaml.Unmarshal(chartYAML, &entry); err != nil {
		return nil, fmt.Errorf("the package's Chart.yaml: %w", err)
	}
	for _, field := range []string{"name", "version"} {
		if s, _ := entry[field].(string); s == "" {
			return nil, fmt.Errorf("the package's Chart.yaml has no %s", field)
		}
	}
	sum := sha256.Sum256(data)
	entry["digest"] = hex.EncodeToString(sum[:])
	entry["urls"] = []string{filepath.Base(pkg)}
	return entry, nil
}

// chartFile returns the Chart.yaml at the top of a package: a Helm chart
// archive holds one directory, named after the chart.
func chartFile(tgz []byte, name string) ([]byte, error) {
	gz, err := gzip.NewReader(bytes.NewReader(tgz))
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("no Chart.yaml in %s (was it written by vela addon package?)", name)
		}
		if err != nil {
			return nil, err
		}
		dir, file := path.Split(h.Name)
		if file == "Chart.yaml" && strings.Count(dir, "/") == 1 {
			return io.ReadAll(tr)
		}
	}
}
