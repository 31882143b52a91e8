package suite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a running service process: one instance of a service.
type proc struct {
	name    string // the instance's name: the service's, or the one given to AddInstance
	url     string
	logPath string
	bin     string
	env     []string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	err     error         // its exit status; read after done
}

// startProc starts bin with env, its output written to logPath (appended when appendLog, as on
// a restart) and, when tail is not nil, copied there line by line behind the instance's name.
// The process gets its own process group, so that a Ctrl-C on the terminal reaches the tool
// only and the tool stops the services in order; it gets SIGTERM should the tool die first.
func startProc(name, bin, url, logPath string, env []string, tail io.Writer, appendLog bool) (*proc, error) {
	flags := os.O_CREATE | os.O_WRONLY | os.O_TRUNC
	if appendLog {
		flags = os.O_CREATE | os.O_WRONLY | os.O_APPEND
	}
	f, err := os.OpenFile(logPath, flags, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open the log of %s: %w", name, err)
	}
	var out io.Writer = f
	if tail != nil {
		out = io.MultiWriter(f, &prefixWriter{w: tail, prefix: fmt.Sprintf("%-13s| ", name)})
	}
	cmd := exec.Command(bin)
	cmd.Env, cmd.Stdout, cmd.Stderr = env, out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGTERM}
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, url: url, logPath: logPath, bin: bin, env: env, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitReady polls GET /readyz until it answers 200, the process exits or timeout passes.
func (p *proc) waitReady(ctx context.Context, timeout time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.url+"/readyz", nil)
		if err != nil {
			return err
		}
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-p.done:
			err := fmt.Errorf("%s exited while starting (%v); the end of %s:\n%s", p.name, p.err, p.logPath, lastLines(p.logPath, 15))
			if strings.Contains(lastLines(p.logPath, 15), "wrong master key") {
				err = fmt.Errorf("%w\nhint: .run/secrets.env does not hold the master key of the %s database: restore the file, or drop the database to start afresh", err, p.name)
			}
			return err
		case <-deadline.C:
			return fmt.Errorf("%s was not ready within %s; the end of %s:\n%s", p.name, timeout, p.logPath, lastLines(p.logPath, 15))
		case <-tick.C:
		}
	}
}

// stopProcs sends SIGTERM to the processes, newest first, and waits for them all up to
// timeout; those still running then get SIGKILL.
func stopProcs(procs []*proc, timeout time.Duration) {
	for i := len(procs) - 1; i >= 0; i-- {
		if p := procs[i]; !p.exited() {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
		}
	}
	deadline := time.After(timeout)
	for _, p := range procs {
		select {
		case <-p.done:
		case <-deadline:
			// The group: a service that started helpers takes them along.
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-p.done
		}
	}
}

// lastLines returns the last n lines of a file, indented.
func lastLines(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "    (" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}

// prefixWriter writes whole lines to w, each behind prefix. Several services share w: a
// line is written in one call, under a lock.
type prefixWriter struct {
	w      io.Writer
	prefix string
	buf    bytes.Buffer
}

var tailMu sync.Mutex

func (pw *prefixWriter) Write(b []byte) (int, error) {
	pw.buf.Write(b)
	for {
		line, err := pw.buf.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			// An incomplete line: keep it for the next write.
			rest := append([]byte(nil), line...)
			pw.buf.Reset()
			pw.buf.Write(rest)
			return len(b), nil
		}
		tailMu.Lock()
		_, werr := io.WriteString(pw.w, pw.prefix+string(line))
		tailMu.Unlock()
		if werr != nil {
			return len(b), werr
		}
	}
}
