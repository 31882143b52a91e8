// Package progress draws the progress bars of the tools (schollz/progressbar, one look for all).
package progress

import (
	"fmt"
	"io"

	"github.com/schollz/progressbar/v3"
)

// New returns a bar of total rows written to w, with a description, the count and the rate;
// it ends its line when complete.
func New(w io.Writer, total int, description string) *progressbar.ProgressBar {
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(description),
		progressbar.OptionSetWidth(30),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("rows"),
		progressbar.OptionThrottle(0),
		progressbar.OptionOnCompletion(func() { fmt.Fprintln(w) }),
	)
}
