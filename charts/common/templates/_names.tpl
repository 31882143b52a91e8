{{/*
Names. Kubernetes names are limited to 63 characters (DNS labels): every name is truncated and
loses a trailing dash.
*/}}

{{/* common.name: the chart name, or nameOverride. */}}
{{- define "common.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
common.fullname: fullnameOverride, else the release name when it already contains the chart
name, else <release>-<chart>.
*/}}
{{- define "common.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* common.suffixed: the full name with a suffix, still within 63 characters. Call with (list . "suffix"). */}}
{{- define "common.suffixed" -}}
{{- $ctx := index . 0 -}}
{{- $suffix := index . 1 -}}
{{- printf "%s-%s" (include "common.fullname" $ctx | trunc (int (sub 62 (len $suffix))) | trimSuffix "-") $suffix -}}
{{- end -}}

{{/* common.chart: chart name and version for the helm.sh/chart label. */}}
{{- define "common.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* common.serviceAccountName: the ServiceAccount the pods run as. */}}
{{- define "common.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "common.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
common.secretName: the Secret holding the service's secret settings: secrets.existingSecret,
else global.existingSecrets.<chart>, else the full name (created by the chart from
secrets.inline, or beforehand by the operator).
*/}}
{{- define "common.secretName" -}}
{{- $global := (.Values.global | default dict).existingSecrets | default dict -}}
{{- coalesce .Values.secrets.existingSecret (index $global .Chart.Name) (include "common.fullname" .) -}}
{{- end -}}

{{/* common.inlineSecret: true when the chart creates the Secret from secrets.inline. */}}
{{- define "common.inlineSecret" -}}
{{- $global := (.Values.global | default dict).existingSecrets | default dict -}}
{{- if and .Values.secrets.inline (not .Values.secrets.existingSecret) (not (index $global .Chart.Name)) -}}true{{- end -}}
{{- end -}}

{{/*
common.image: registry/repository:tag. The tag is image.tag, else global.image.tag, else the
chart's appVersion; "latest" is refused (the schema refuses it too, this covers the fallbacks).
*/}}
{{- define "common.image" -}}
{{- $gimage := (.Values.global | default dict).image | default dict -}}
{{- $registry := coalesce $gimage.registry .Values.image.registry -}}
{{- $tag := coalesce .Values.image.tag $gimage.tag .Chart.AppVersion | toString -}}
{{- if or (eq $tag "latest") (eq $tag "") -}}
{{- fail (printf "%s: the image tag must be a release version, not %q" .Chart.Name $tag) -}}
{{- end -}}
{{- if $registry -}}
{{- printf "%s/%s:%s" $registry .Values.image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository $tag -}}
{{- end -}}
{{- end -}}
