package app

import (
	"log/slog"
	"os"
	"runtime/debug"
)

// memoryLimitShare is the part of the container's memory limit the Go heap is kept under
// (GOMEMLIMIT): the rest is for what the runtime does not count (stacks, the binary, buffers
// of the kernel charged to the container) and a margin before the OOM killer.
const memoryLimitShare = 0.9

// memoryLimit is the soft memory limit for a container limit of limitMiB MiB (CSI_MEMORY_LIMIT_MIB,
// which the charts fill from the container's resources.limits.memory), unless GOMEMLIMIT is set:
// an explicit GOMEMLIMIT wins, and no limit known means none set (0).
func memoryLimit(limitMiB int, gomemlimit string) int64 {
	if gomemlimit != "" || limitMiB <= 0 {
		return 0
	}
	return int64(float64(limitMiB) * memoryLimitShare * (1 << 20))
}

// setMemoryLimit applies memoryLimit: the garbage collector then works harder as the heap nears
// the container's limit instead of letting it double past it (GOGC's headroom).
func setMemoryLimit(log *slog.Logger, limitMiB int) {
	if n := memoryLimit(limitMiB, os.Getenv("GOMEMLIMIT")); n > 0 {
		debug.SetMemoryLimit(n)
		log.Info("memory limit set from the container's", "container_limit_mib", limitMiB, "gomemlimit_bytes", n)
	}
}
