package load

import (
	"bytes"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// clockTick is Linux's USER_HZ, the unit of the CPU times in /proc/<pid>/stat (100 on every
// architecture Go supports).
const clockTick = time.Second / 100

// Proc names a process to measure. With Children, the CPU of its direct children counts
// instead, of those only whose command line contains Match when it is set (PostgreSQL: the
// backends of some databases, "postgres: user bench_registry ..."); memory is then not sampled
// (backends share their buffers, so a sum of resident sizes would mean nothing).
type Proc struct {
	Name     string
	PID      int
	Children bool
	Match    string
}

// ProcUsage is what a process used during a step.
type ProcUsage struct {
	Name    string
	CPU     time.Duration // user + system
	Cores   float64       // CPU per second of the step: 1.0 is one core busy throughout
	PeakRSS int64         // highest resident size sampled during the step, bytes (0: not sampled)
	HWM     int64         // the process's resident high-water mark since it started (VmHWM), bytes
}

// monitor samples the processes of a step.
type monitor struct {
	procs []Proc
	cpu0  []map[int]time.Duration // per process (or child) id
	peak  []int64
	done  chan struct{}
	wg    sync.WaitGroup
}

func startMonitor(procs []Proc) *monitor {
	m := &monitor{procs: procs, cpu0: make([]map[int]time.Duration, len(procs)), peak: make([]int64, len(procs)), done: make(chan struct{})}
	for i, p := range procs {
		m.cpu0[i] = cpuOf(p)
	}
	if len(procs) == 0 {
		return m
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			m.sample()
			select {
			case <-m.done:
				return
			case <-t.C:
			}
		}
	}()
	return m
}

func (m *monitor) sample() {
	for i, p := range m.procs {
		if p.Children {
			continue
		}
		if rss, _ := memOf(p.PID); rss > m.peak[i] {
			m.peak[i] = rss
		}
	}
}

func (m *monitor) stop(elapsed time.Duration) []ProcUsage {
	close(m.done)
	m.wg.Wait()
	m.sample()
	if len(m.procs) == 0 {
		return nil
	}
	out := make([]ProcUsage, len(m.procs))
	for i, p := range m.procs {
		var cpu time.Duration
		for pid, c := range cpuOf(p) {
			cpu += c - m.cpu0[i][pid] // a child born during the step counts from zero
		}
		u := ProcUsage{Name: p.Name, CPU: cpu, Cores: cpu.Seconds() / elapsed.Seconds(), PeakRSS: m.peak[i]}
		if !p.Children {
			_, u.HWM = memOf(p.PID)
		}
		out[i] = u
	}
	return out
}

// cpuOf returns the user + system CPU time of p, or of each of its (matching) children.
func cpuOf(p Proc) map[int]time.Duration {
	if !p.Children {
		cpu, _ := statOf(p.PID)
		return map[int]time.Duration{p.PID: cpu}
	}
	out := map[int]time.Duration{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == p.PID {
			continue
		}
		c, ppid := statOf(pid)
		if ppid != p.PID {
			continue
		}
		if p.Match != "" {
			cmd, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
			if err != nil || !bytes.Contains(cmd, []byte(p.Match)) {
				continue
			}
		}
		out[pid] = c
	}
	return out
}

// statOf reads utime + stime and the parent's pid from /proc/<pid>/stat.
func statOf(pid int) (cpu time.Duration, ppid int) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0
	}
	// The command name (field 2) is in parentheses and may hold spaces: split after it.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return 0, 0
	}
	ppid, _ = strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+stime) * clockTick, ppid
}

// memOf reads VmRSS and VmHWM (bytes) from /proc/<pid>/status.
func memOf(pid int) (rss, hwm int64) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, 0
	}
	for line := range strings.Lines(string(b)) {
		var dst *int64
		switch {
		case strings.HasPrefix(line, "VmRSS:"):
			dst = &rss
		case strings.HasPrefix(line, "VmHWM:"):
			dst = &hwm
		default:
			continue
		}
		f := strings.Fields(line)
		if len(f) >= 2 {
			kb, _ := strconv.ParseInt(f[1], 10, 64)
			*dst = kb << 10
		}
	}
	return rss, hwm
}

// LoadAvg is the machine's 1, 5 and 15 minute load averages ("?" when unknown), which the
// reports print to say whether other work shared the machine.
func LoadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
