{{/*
The migration Job: a pre-install/pre-upgrade hook that runs the service's own image with
CSI_MIGRATE_ONLY=true (apply the embedded migrations, exit 0) before the new pods start, so
that pods never migrate concurrently. It runs before the release's ConfigMap, Secret and
ServiceAccount exist, so its settings are written into it and an inline Secret is copied into a
hook Secret of its own (deleted with the Job once the hooks succeed).
*/}}

{{- define "common.migrateSecret" -}}
{{- if and .Values.migrations.enabled (include "common.inlineSecret" .) }}
apiVersion: v1
kind: Secret
metadata:
  name: {{ include "common.suffixed" (list . "migrate") }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "common.labelsFor" (list . "migrate") | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-10"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
type: Opaque
stringData:
  {{- range $k, $v := .Values.secrets.inline }}
  {{ $k }}: {{ $v | quote }}
  {{- end }}
{{- end }}
{{- end -}}

{{- define "common.migrateJob" -}}
{{- if .Values.migrations.enabled }}
{{- $secret := include "common.secretName" . -}}
{{- if include "common.inlineSecret" . -}}
{{- $secret = include "common.suffixed" (list . "migrate") -}}
{{- end }}
apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "common.suffixed" (list . "migrate") }}
  namespace: {{ .Release.Namespace }}
  labels:
    {{- include "common.labelsFor" (list . "migrate") | nindent 4 }}
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "0"
    helm.sh/hook-delete-policy: before-hook-creation,hook-succeeded
spec:
  backoffLimit: {{ .Values.migrations.backoffLimit }}
  activeDeadlineSeconds: {{ .Values.migrations.activeDeadlineSeconds }}
  template:
    metadata:
      labels:
        {{- include "common.labelsFor" (list . "migrate") | nindent 8 }}
    spec:
      restartPolicy: Never
      automountServiceAccountToken: false
      {{- with .Values.imagePullSecrets }}
      imagePullSecrets:
        {{- range . }}
        - name: {{ . }}
        {{- end }}
      {{- end }}
      securityContext:
        {{- include "common.podSecurityContext" . | nindent 8 }}
      containers:
        - name: migrate
          image: {{ include "common.image" . | quote }}
          imagePullPolicy: {{ .Values.image.pullPolicy }}
          env:
            {{- range $k, $v := include "common.configData" . | fromYaml }}
            {{- if not (has $k (list "CSI_MIGRATE" "CSI_CONSUL_ADDR" "CSI_DEBUG_ADDR")) }}
            - name: {{ $k }}
              value: {{ $v | toString | quote }}
            {{- end }}
            {{- end }}
            - name: CSI_MIGRATE
              value: "true"
            - name: CSI_MIGRATE_ONLY
              value: "true"
            {{- include "common.secretEnvFrom" (list . $secret) | trim | nindent 12 }}
          securityContext:
            {{- include "common.containerSecurityContext" . | nindent 12 }}
          resources:
            {{- toYaml .Values.resources | nindent 12 }}
{{- end }}
{{- end -}}
