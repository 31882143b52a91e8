{{/*
Configuration. The service's non-secret CSI_... settings go to a ConfigMap (and, verbatim, to
the migration Job, which runs before the ConfigMap exists); the secret ones are read from a
Secret key by key.
*/}}

{{/*
common.port: the port of the service named by the argument, from the table of
services/services.tsv (_services.tpl): include "common.port" "identity".
*/}}
{{- define "common.port" -}}
{{- $name := . -}}
{{- $port := 0 -}}
{{- range include "common.services" . | fromYamlArray }}
{{- if eq .name $name }}{{ $port = int .port }}{{ end }}
{{- end }}
{{- if not $port }}{{ fail (printf "common.port: no service %q in services/services.tsv" $name) }}{{ end }}
{{- $port -}}
{{- end -}}

{{/* common.configData: the non-secret settings as YAML key: "value" lines. */}}
{{- define "common.configData" -}}
{{- $g := .Values.global | default dict -}}
{{- $c := .Values.config -}}
CSI_HTTP_ADDR: {{ printf ":%d" (int .Values.service.port) | quote }}
CSI_MIGRATE: "false"
CSI_LOG_LEVEL: {{ $c.logLevel | quote }}
CSI_LOG_FORMAT: {{ $c.logFormat | quote }}
CSI_TOKEN_ISSUER: {{ coalesce $c.tokenIssuer $g.tokenIssuer "csi-identity" | quote }}
CSI_DRAIN_DELAY: {{ printf "%ds" (int .Values.shutdown.drainDelaySeconds) | quote }}
CSI_SHUTDOWN_GRACE: {{ printf "%ds" (int .Values.shutdown.graceSeconds) | quote }}
{{- with coalesce $c.consulAddr $g.consulAddr }}
CSI_CONSUL_ADDR: {{ . | quote }}
{{- end }}
{{- if hasKey $c "jwksURL" }}
CSI_JWKS_URL: {{ tpl (coalesce $c.jwksURL $g.jwksURL (printf "http://identity:%s/.well-known/jwks.json" (include "common.port" "identity"))) $ | quote }}
{{- end }}
{{- /* A peer's URL, for the charts whose schema has config.<peer>URL. */}}
{{- range include "common.services" . | fromYamlArray }}
{{- $key := printf "%sURL" .name }}
{{- if hasKey $c $key }}
CSI_{{ upper .name }}_URL: {{ tpl (coalesce (index $c $key) (index $g $key) (printf "http://%s:%d" .name (int .port))) $ | quote }}
{{- end }}
{{- end }}
{{- with $c.debugAddr }}
CSI_DEBUG_ADDR: {{ . | quote }}
{{- end }}
{{- with .Values.s3 }}
{{- if .enabled }}
CSI_S3_ENDPOINT: {{ .endpoint | quote }}
CSI_S3_BUCKET: {{ .bucket | quote }}
CSI_S3_REGION: {{ .region | quote }}
CSI_S3_USE_TLS: {{ .useTLS | toString | quote }}
{{- end }}
{{- end }}
{{- with .Values.audit }}
CSI_AUDIT_VERIFY_INTERVAL: {{ .verifyInterval | quote }}
{{- with .checkpoints }}
{{- if .enabled }}
CSI_AUDIT_CHECKPOINT_INTERVAL: {{ .interval | quote }}
CSI_AUDIT_CHECKPOINT_S3_ENDPOINT: {{ .s3.endpoint | quote }}
CSI_AUDIT_CHECKPOINT_S3_BUCKET: {{ .s3.bucket | quote }}
CSI_AUDIT_CHECKPOINT_S3_REGION: {{ .s3.region | quote }}
CSI_AUDIT_CHECKPOINT_S3_SECURE: {{ .s3.secure | toString | quote }}
{{- with .previousKeys }}
CSI_AUDIT_CHECKPOINT_PREVIOUS_KEYS: {{ join "," . | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- end }}
{{- /* A service that keeps documents (interventions): its charts have documents. */}}
{{- with .Values.documents }}
{{- $p := printf "CSI_%s" (upper $.Chart.Name) }}
{{- if .s3.endpoint }}
{{ $p }}_S3_ENDPOINT: {{ .s3.endpoint | quote }}
{{ $p }}_S3_BUCKET: {{ .s3.bucket | quote }}
{{ $p }}_S3_REGION: {{ .s3.region | quote }}
{{ $p }}_S3_SECURE: {{ .s3.secure | toString | quote }}
{{- with .s3.publicEndpoint }}
{{ $p }}_S3_PUBLIC_ENDPOINT: {{ . | quote }}
{{ $p }}_S3_PUBLIC_SECURE: {{ $.Values.documents.s3.publicSecure | toString | quote }}
{{- end }}
{{- else }}
{{ $p }}_DOCUMENTS_DIR: "/tmp/documents"
{{- end }}
{{ $p }}_DOCUMENTS_MAX_BYTES: {{ int64 .maxBytes | toString | quote }}
{{ $p }}_DOCUMENTS_LINK_TTL: {{ .linkTTL | quote }}
{{- with .linkBase }}
{{ $p }}_DOCUMENTS_LINK_BASE: {{ . | quote }}
{{- end }}
{{- end }}
{{- range $k, $v := $c.env }}
{{ $k }}: {{ $v | toString | quote }}
{{- end }}
{{- end -}}

{{/* common.secretEnv: the env entries read from the Secret (secrets.env: variable → key). */}}
{{- define "common.secretEnv" -}}
{{- include "common.secretEnvFrom" (list . (include "common.secretName" .)) -}}
{{- end -}}

{{/* common.secretEnvFrom: the same, from the Secret named by the second argument: (list . name). */}}
{{- define "common.secretEnvFrom" -}}
{{- $ := index . 0 -}}
{{- $name := index . 1 -}}
{{- $optional := $.Values.secrets.optionalKeys | default list -}}
{{- range $var, $key := $.Values.secrets.env }}
- name: {{ $var }}
  valueFrom:
    secretKeyRef:
      name: {{ $name }}
      key: {{ $key }}
      {{- if has $key $optional }}
      optional: true
      {{- end }}
{{- end }}
{{- with $.Values.s3 }}
{{- if .enabled }}
- name: CSI_S3_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $name }}
      key: s3-access-key
- name: CSI_S3_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $name }}
      key: s3-secret-key
{{- end }}
{{- end }}
{{- if and $.Values.audit $.Values.audit.checkpoints.enabled }}
- name: CSI_AUDIT_CHECKPOINT_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $name }}
      key: audit-checkpoint-key
- name: CSI_AUDIT_CHECKPOINT_S3_ACCESS_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $name }}
      key: audit-checkpoint-s3-access-key
- name: CSI_AUDIT_CHECKPOINT_S3_SECRET_KEY
  valueFrom:
    secretKeyRef:
      name: {{ $name }}
      key: audit-checkpoint-s3-secret-key
{{- end }}
{{- end -}}

{{/* common.configmap: the ConfigMap of non-secret settings. */}}
{{- define "common.configmap" -}}
apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "common.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "common.labels" . | nindent 4 }}
data:
  {{- include "common.configData" . | nindent 2 }}
{{- end -}}

{{/*
common.secret: the Secret made from secrets.inline (development only: values end up in the
release history). Production names an existing Secret (secrets.existingSecret).
*/}}
{{- define "common.secret" -}}
{{- if include "common.inlineSecret" . }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "common.fullname" . }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "common.labels" . | nindent 4 }}
type: Opaque
stringData:
  {{- range $k, $v := .Values.secrets.inline }}
  {{ $k }}: {{ $v | quote }}
  {{- end }}
{{- end }}
{{- end -}}

{{/* common.checksums: pod annotations that change when the configuration does, so pods roll. */}}
{{- define "common.checksums" -}}
checksum/config: {{ include "common.configData" . | sha256sum }}
{{- if include "common.inlineSecret" . }}
checksum/secret: {{ toJson .Values.secrets.inline | sha256sum }}
{{- end }}
{{- end -}}
