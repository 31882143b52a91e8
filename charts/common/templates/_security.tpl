{{/*
Pod security: the distroless "nonroot" user (65532), no privilege escalation, no capabilities,
read-only root file system, the runtime's default seccomp profile ("restricted" Pod Security
Standard).
*/}}

{{- define "common.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
fsGroup: 65532
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "common.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 65532
runAsGroup: 65532
readOnlyRootFilesystem: true
allowPrivilegeEscalation: false
privileged: false
capabilities:
  drop:
    - ALL
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* common.terminationGrace: CSI_DRAIN_DELAY + CSI_SHUTDOWN_GRACE + a margin, in seconds. */}}
{{- define "common.terminationGrace" -}}
{{- add (int .Values.shutdown.drainDelaySeconds) (int .Values.shutdown.graceSeconds) (int .Values.shutdown.marginSeconds) -}}
{{- end -}}
