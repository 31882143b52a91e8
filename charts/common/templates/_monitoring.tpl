{{/* Monitoring: Prometheus Operator ServiceMonitor and PrometheusRule, and a Grafana dashboard. */}}

{{/* common.servicemonitor: scrapes /metrics (rendered only when enabled: the CRD may be absent). */}}
{{- define "common.servicemonitor" -}}
{{- if .Values.serviceMonitor.enabled }}
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: {{ include "common.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "common.labels" . | nindent 4 }}
    {{- with .Values.serviceMonitor.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  selector:
    matchLabels:
      {{- include "common.selectorLabels" . | nindent 6 }}
  namespaceSelector:
    matchNames:
      - {{ .Release.Namespace }}
  endpoints:
    - port: http
      path: /metrics
      interval: {{ .Values.serviceMonitor.interval }}
      scrapeTimeout: {{ .Values.serviceMonitor.scrapeTimeout }}
{{- end }}
{{- end -}}

{{/*
common.prometheusrule: the alerts on the audit trail's periodic verification (rendered only when
enabled: the CRD may be absent). AuditTrailBroken: the last verification of a pod found a
problem. AuditVerificationNotRun: a pod has not completed a verification for two of its
intervals (or not at all since it started). Both wait prometheusRule.for before firing.
*/}}
{{- define "common.prometheusrule" -}}
{{- if .Values.prometheusRule.enabled }}
{{- $sel := printf "namespace=\"%s\", service=\"%s\"" .Release.Namespace (include "common.fullname" .) }}
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: {{ include "common.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "common.labels" . | nindent 4 }}
    {{- with .Values.prometheusRule.labels }}
    {{- toYaml . | nindent 4 }}
    {{- end }}
spec:
  groups:
    - name: {{ include "common.fullname" . }}-audit
      rules:
        - alert: AuditTrailBroken
          expr: min by (namespace, service, pod) (csi_audit_verification_ok{ {{- $sel -}} }) == 0
          for: {{ .Values.prometheusRule.for }}
          labels:
            severity: critical
          annotations:
            summary: The audit trail of {{ .Chart.Name }} failed verification
            description: >-
              Pod {{ "{{ $labels.pod }}" }} found {{ "{{ $value }}" }} problems in the audit trail. Run
              `csictl audit verify` as a privacy officer to see the first broken record, and
              look for who wrote to the audit tables outside the service.
        - alert: AuditVerificationNotRun
          expr: >-
            (time() - max by (namespace, service, pod) (csi_audit_verification_last_run_timestamp_seconds{ {{- $sel -}} })
            > 2 * max by (namespace, service, pod) (csi_audit_verification_interval_seconds{ {{- $sel -}} }))
            or (max by (namespace, service, pod) (csi_audit_verification_interval_seconds{ {{- $sel -}} })
            unless max by (namespace, service, pod) (csi_audit_verification_last_run_timestamp_seconds{ {{- $sel -}} }))
          for: {{ .Values.prometheusRule.for }}
          labels:
            severity: warning
          annotations:
            summary: The audit trail of {{ .Chart.Name }} has not been verified for two intervals
            description: >-
              Pod {{ "{{ $labels.pod }}" }} has not completed a verification of the audit trail for
              two verification intervals (csi_audit_verification_errors_total counts the
              attempts that failed: database or checkpoint store unreachable).
{{- end }}
{{- end -}}

{{/*
common.dashboard: a ConfigMap holding a Grafana dashboard, found by Grafana's sidecar through
the grafana_dashboard label. Panels: request rate, error ratio, latency quantiles, database
pool, and the cache for a service that has one. Called with (list . "cache") by a service
that uses pkg/cache, (list .) otherwise: a panel must only query metrics its service exports
(charts/test/testdata/<chart>-dashboard-metrics.txt, checked against the rendered dashboard
here and against the service's /metrics in its own tests).
*/}}
{{- define "common.dashboard" -}}
{{- $features := rest . -}}
{{- with first . }}
{{- if .Values.dashboard.enabled }}
{{- $svc := .Chart.Name | replace "-" "_" -}}
{{- $sel := printf "namespace=\"%s\"" .Release.Namespace -}}
{{- $panels := list
  (dict "title" "Requests per second by route" "unit" "reqps" "exprs" (list (printf "sum by (route) (rate(csi_%s_http_requests_total{%s}[5m]))" $svc $sel)))
  (dict "title" "Error ratio (5xx)" "unit" "percentunit" "exprs" (list (printf "sum(rate(csi_%s_http_requests_total{%s,status=~\"5..\"}[5m])) / clamp_min(sum(rate(csi_%s_http_requests_total{%s}[5m])), 1e-9)" $svc $sel $svc $sel)))
  (dict "title" "Latency p50 / p95 / p99" "unit" "s" "exprs" (list
    (printf "histogram_quantile(0.5, sum by (le) (rate(csi_%s_http_request_duration_seconds_bucket{%s}[5m])))" $svc $sel)
    (printf "histogram_quantile(0.95, sum by (le) (rate(csi_%s_http_request_duration_seconds_bucket{%s}[5m])))" $svc $sel)
    (printf "histogram_quantile(0.99, sum by (le) (rate(csi_%s_http_request_duration_seconds_bucket{%s}[5m])))" $svc $sel)))
  (dict "title" "Database pool" "unit" "short" "exprs" (list
    (printf "sum(csi_%s_db_pool_acquired_connections{%s})" $svc $sel)
    (printf "sum(csi_%s_db_pool_idle_connections{%s})" $svc $sel)
    (printf "sum(csi_%s_db_pool_max_connections{%s})" $svc $sel)
    (printf "sum(rate(csi_%s_db_pool_empty_acquires_total{%s}[5m]))" $svc $sel)))
-}}
{{- if has "cache" $features -}}
{{- $panels = append $panels (dict "title" "Cache hit ratio" "unit" "percentunit" "exprs" (list (printf "sum(rate(csi_cache_requests_total{%s,result=\"hit\"}[5m])) / clamp_min(sum(rate(csi_cache_requests_total{%s}[5m])), 1e-9)" $sel $sel))) -}}
{{- end -}}
{{- $out := list -}}
{{- range $i, $p := $panels -}}
{{- $targets := list -}}
{{- range $j, $e := $p.exprs -}}
{{- $targets = append $targets (dict "refId" (substr (int $j) (int (add $j 1)) "ABCDEFGH") "expr" $e) -}}
{{- end -}}
{{- $out = append $out (dict "id" (add $i 1) "type" "timeseries" "title" $p.title
  "datasource" (dict "type" "prometheus" "uid" "${datasource}")
  "fieldConfig" (dict "defaults" (dict "unit" $p.unit) "overrides" list)
  "gridPos" (dict "h" 8 "w" 12 "x" (mul (mod $i 2) 12) "y" (mul (div $i 2) 8))
  "targets" $targets) -}}
{{- end -}}
{{- $dash := dict "title" (printf "CSI %s" .Chart.Name) "uid" (printf "csi-%s" .Chart.Name | trunc 40) "schemaVersion" 39
  "tags" (list "csi" .Chart.Name) "time" (dict "from" "now-6h" "to" "now") "refresh" "30s"
  "templating" (dict "list" (list (dict "name" "datasource" "type" "datasource" "query" "prometheus")))
  "panels" $out -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "common.suffixed" (list . "dashboard") }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "common.labels" . | nindent 4 }}
    grafana_dashboard: "1"
data:
  csi-{{ .Chart.Name }}.json: {{ toJson $dash | quote }}
{{- end }}
{{- end }}
{{- end -}}

{{/* common.testpod: `helm test` checks that the Service answers /readyz. */}}
{{- define "common.testpod" -}}
apiVersion: v1
kind: Pod
metadata:
  name: {{ include "common.suffixed" (list . "test") }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "common.labelsFor" (list . "test") | nindent 4 }}
  annotations:
    helm.sh/hook: test
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  restartPolicy: Never
  automountServiceAccountToken: false
  securityContext:
    {{- include "common.podSecurityContext" . | nindent 4 }}
  containers:
    - name: readyz
      image: {{ .Values.tests.image | quote }}
      command:
        - wget
        - -q
        - -O-
        - -T
        - "5"
        - http://{{ include "common.fullname" . }}:{{ .Values.service.port }}/readyz
      securityContext:
        {{- include "common.containerSecurityContext" . | nindent 8 }}
      resources:
        requests:
          cpu: 10m
          memory: 16Mi
        limits:
          cpu: 100m
          memory: 32Mi
{{- end -}}

{{/* common.notes: NOTES.txt. */}}
{{- define "common.notes" -}}
{{ .Chart.Name }} {{ include "common.image" . }} installed as {{ include "common.fullname" . }} in namespace {{ .Release.Namespace }}.

Secret settings are read from the Secret "{{ include "common.secretName" . }}"
{{- if include "common.inlineSecret" . }} (made by this chart from secrets.inline: development only).
{{- else }} (create it before the pods start), keys:
{{- range $var, $key := .Values.secrets.env }}
  {{ $key }} -> {{ $var }}{{ if has $key ($.Values.secrets.optionalKeys | default list) }} (optional){{ end }}
{{- end }}
{{- if and .Values.audit .Values.audit.checkpoints.enabled }}
  audit-checkpoint-key -> CSI_AUDIT_CHECKPOINT_KEY
  audit-checkpoint-s3-access-key -> CSI_AUDIT_CHECKPOINT_S3_ACCESS_KEY
  audit-checkpoint-s3-secret-key -> CSI_AUDIT_CHECKPOINT_S3_SECRET_KEY
{{- end }}
{{- end }}
{{- if .Values.migrations.enabled }}

Migrations run before every install and upgrade in the Job {{ include "common.suffixed" (list . "migrate") }}.
{{- end }}

In the cluster:  http://{{ include "common.fullname" . }}.{{ .Release.Namespace }}.svc:{{ .Values.service.port }}
{{- if .Values.ingress.enabled }}
From outside:    http{{ if .Values.ingress.tlsSecretName }}s{{ end }}://{{ .Values.ingress.host }}
{{- end }}
Check it:        helm test {{ .Release.Name }} -n {{ .Release.Namespace }}
Health:          kubectl -n {{ .Release.Namespace }} port-forward svc/{{ include "common.fullname" . }} {{ .Values.service.port }} && curl localhost:{{ .Values.service.port }}/healthz
{{- end -}}
