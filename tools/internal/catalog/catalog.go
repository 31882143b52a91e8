// Package catalog reads services/services.tsv, the one list of the suite's services and the
// port each listens on. The launcher (package suite), the chart generator (csicharts) and the
// conventions tests read it through this package; the Makefile reads it with awk.
package catalog

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Path is the file's place in the repository.
const Path = "services/services.tsv"

// Service is one line of the file.
type Service struct {
	Name string // services/<name>, charts/<name>, bin/<name>
	Port int    // the default listen port of the service and the port of its chart
}

var validName = regexp.MustCompile(`^[a-z][a-z0-9]*$`)

// Read reads the file of the checkout at root.
func Read(root string) ([]Service, error) {
	path := filepath.Join(root, Path)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read the service list: %w", err)
	}
	svcs, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return svcs, nil
}

// Parse parses the file's content: lines starting with # and blank lines are skipped, every
// other line is a name and a port separated by one tab. Names and ports are unique, and there
// is at least one service.
func Parse(data []byte) ([]Service, error) {
	var out []Service
	names, ports := map[string]int{}, map[int]int{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSuffix(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
			continue
		}
		fields := strings.Split(line, "\t")
		if len(fields) != 2 {
			return nil, fmt.Errorf("line %d: %q: want a name and a port separated by one tab", n, line)
		}
		name := fields[0]
		if !validName.MatchString(name) {
			return nil, fmt.Errorf("line %d: name %q: want lower-case letters and digits, starting with a letter", n, name)
		}
		port, err := strconv.Atoi(fields[1])
		if err != nil || port < 1024 || port > 65535 {
			return nil, fmt.Errorf("line %d: port %q of %s: want a number from 1024 to 65535", n, fields[1], name)
		}
		if prev, ok := names[name]; ok {
			return nil, fmt.Errorf("line %d: %s is on line %d already", n, name, prev)
		}
		if prev, ok := ports[port]; ok {
			return nil, fmt.Errorf("line %d: port %d of %s is on line %d already", n, port, name, prev)
		}
		names[name], ports[port] = n, n
		out = append(out, Service{Name: name, Port: port})
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no service")
	}
	return out, nil
}
