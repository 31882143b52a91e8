// Package prompt reads the secrets the command-line tools need: from a flag, else from an
// environment variable, else typed on the terminal without echo.
package prompt

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// Source says where a secret comes from and how to ask for it.
type Source struct {
	Flag    string // the value of the flag, if given
	FlagArg string // the flag's name, for messages ("-password")
	Env     string // the environment variable read when the flag is empty
	Label   string // the question on the terminal ("Password for x@y: ")
	Confirm bool   // ask twice on the terminal (a new password)
}

// Secret returns the secret of src: the flag, else the environment variable, else what is typed
// on in when it is a terminal (prompts go to out). It fails when none gives a value.
func Secret(src Source, in *os.File, out io.Writer) (string, error) {
	if src.Flag != "" {
		return src.Flag, nil
	}
	if v := os.Getenv(src.Env); v != "" {
		return v, nil
	}
	if in == nil || !term.IsTerminal(int(in.Fd())) {
		return "", fmt.Errorf("no secret given: use %s, set %s, or run on a terminal to type it", src.FlagArg, src.Env)
	}
	read := func(label string) (string, error) {
		fmt.Fprint(out, label)
		b, err := term.ReadPassword(int(in.Fd()))
		fmt.Fprintln(out)
		if err != nil {
			return "", fmt.Errorf("read from the terminal: %w", err)
		}
		return strings.TrimRight(string(b), "\r\n"), nil
	}
	v, err := read(src.Label)
	if err != nil {
		return "", err
	}
	if v == "" {
		return "", errors.New("nothing typed")
	}
	if src.Confirm {
		again, err := read("Again: ")
		if err != nil {
			return "", err
		}
		if again != v {
			return "", errors.New("the two entries differ")
		}
	}
	return v, nil
}
