package idclient

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"

	"github.com/csi-lombardia/csi/services/identity"
)

// Chunk is a piece of an operator CSV file small enough for one import request: the file's
// header line and some of its rows.
type Chunk struct {
	// First is the index of the chunk's first row in the whole file (0: the row after the
	// header).
	First int
	// Rows is the number of rows in the chunk.
	Rows int
	// CSV is the chunk as a CSV file, header first.
	CSV []byte
}

// maxChunkBytes keeps a chunk well under the service's 2 MiB limit on an import body.
const maxChunkBytes = 1536 << 10

// SplitCSV reads a CSV file with a header line and cuts it into chunks of at most maxRows rows
// (identity.MaxImportRows when maxRows is not between 1 and that) and about 1.5 MiB, each
// starting with the header. Rows are counted as the service counts them: CSV records, blank
// lines left out.
func SplitCSV(r io.Reader, maxRows int) ([]Chunk, error) {
	if maxRows < 1 || maxRows > identity.MaxImportRows {
		maxRows = identity.MaxImportRows
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("the file is empty: it needs a header line and rows")
	}
	if err != nil {
		return nil, fmt.Errorf("read CSV header: %w", err)
	}
	var (
		chunks []Chunk
		buf    bytes.Buffer
		w      *csv.Writer
		cur    Chunk
	)
	start := func(first int) {
		buf = bytes.Buffer{}
		w = csv.NewWriter(&buf)
		_ = w.Write(header) // writes to a bytes.Buffer do not fail
		cur = Chunk{First: first}
	}
	flush := func() {
		w.Flush()
		cur.CSV = bytes.Clone(buf.Bytes())
		chunks = append(chunks, cur)
	}
	start(0)
	for n := 0; ; n++ {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read CSV: %w", err)
		}
		if cur.Rows == maxRows || (cur.Rows > 0 && buf.Len() >= maxChunkBytes) {
			flush()
			start(n)
		}
		_ = w.Write(rec)
		w.Flush()
		cur.Rows++
	}
	if cur.Rows == 0 {
		return nil, errors.New("the file has a header line but no rows")
	}
	flush()
	return chunks, nil
}

// ImportChunks imports the chunks in order with the defaults def, calling progress (when not
// nil) after each with the number of rows imported so far, and returns that number. It stops at
// the first chunk refused: the earlier chunks stay imported, and the *Problem names the refused
// rows by their line in the whole file ("rows[5012].email").
func (c *Client) ImportChunks(ctx context.Context, chunks []Chunk, def identity.ImportDefaults, progress func(imported int)) (int, error) {
	imported := 0
	for _, ch := range chunks {
		rep, err := c.ImportOperators(ctx, ch.CSV, def)
		if err != nil {
			var p *Problem
			if errors.As(err, &p) {
				renumber(p, ch.First)
			}
			return imported, err
		}
		imported += rep.Imported
		if progress != nil {
			progress(imported)
		}
	}
	return imported, nil
}

var (
	rowField   = regexp.MustCompile(`^rows\[(\d+)\]`)
	repeatsRow = regexp.MustCompile(`^repeats row (\d+)$`)
)

// renumber turns the row numbers of a chunk's problem (lines of the chunk) into lines of the
// whole file, whose rows before the chunk are offset.
func renumber(p *Problem, offset int) {
	if offset == 0 {
		return
	}
	shift := func(re *regexp.Regexp, s, format string) string {
		m := re.FindStringSubmatchIndex(s)
		if m == nil {
			return s
		}
		n, err := strconv.Atoi(s[m[2]:m[3]])
		if err != nil {
			return s
		}
		return fmt.Sprintf(format, n+offset) + s[m[1]:]
	}
	for i, f := range p.Errors {
		p.Errors[i].Field = shift(rowField, f.Field, "rows[%d]")
		p.Errors[i].Message = shift(repeatsRow, f.Message, "repeats row %d")
	}
}
